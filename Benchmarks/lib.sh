# Benchmarks/lib.sh: what Benchmarks/run and Benchmarks/write-options share. Source it, set
# BENCH_PRODUCTS if more than the ingress, worker and CLI are needed, then call bench_start: it
# builds in release mode, starts a private Redis and PostgreSQL (.postwire/bench, ports 16390 and
# 15440, fsync on) that are stopped at exit, and exports the settings and secrets every program
# and `postwire loadgen` read.
source "$(dirname "${BASH_SOURCE[0]}")/../Scripts/lib/services.sh"
cd "$POSTWIRE_ROOT"

CONNECTIONS=${BENCH_CONNECTIONS:-32}
REDIS_PORT=16390 POSTGRES_PORT=15440 INGRESS_PORT=18080 BARE_PORT=18090 WORKER_METRICS_PORT=19100
PG_PASSWORD=postwire-bench STREAM=postwire:events
CLUSTER_PORT=16400 CLUSTER_DIR="$POSTWIRE_ROOT/.postwire/bench/cluster" CLUSTER_SHARDS=6
started=() workers=() worker_rss=0

bench_start() {
    ensure_packages
    log "building (release)"
    for product in ${BENCH_PRODUCTS:-postwire-ingress postwire-worker postwire}; do swift build -c release --product "$product"; done
    BIN=$(swift build -c release --show-bin-path)
    trap bench_cleanup EXIT
    start_redis bench "$REDIS_PORT"
    start_postgres bench "$POSTGRES_PORT" "$PG_PASSWORD"
    export POSTWIRE_LOG_LEVEL=warning POSTWIRE_REDIS_PORT=$REDIS_PORT POSTWIRE_INGRESS_PORT=$INGRESS_PORT POSTWIRE_INGRESS_METRICS_PORT=-1
    export POSTWIRE_POSTGRES_PORT=$POSTGRES_PORT POSTWIRE_POSTGRES_PASSWORD=$PG_PASSWORD
    export POSTWIRE_SECRET_MAILGUN_DEFAULT
    POSTWIRE_SECRET_MAILGUN_DEFAULT=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    eval "$("$BIN/postwire" keygen sendgrid | sed 's/^/export /')"
}
bench_cleanup() {
    for pid in "${workers[@]}" "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    stop_redis "$REDIS_PORT"
    "$POSTWIRE_ROOT/Scripts/redis-topology" stop "$CLUSTER_DIR" 2>/dev/null || true
    stop_postgres bench
}

psql_bench() { PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U postwire -v ON_ERROR_STOP=1 -qtA "$@"; }
# WAL bytes written since the last pg_stat_reset_shared('wal'), per event.
wal_per_event() { psql_bench -d postwire -c "SELECT round(wal_bytes / $1) FROM pg_stat_wal"; }
# An empty stream and a freshly migrated database, no workers.
reset_state() {
    stop_workers
    redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
    reset_database
}
reset_database() {
    psql_bench -d postgres -c "DROP DATABASE IF EXISTS postwire WITH (FORCE)" -c "CREATE DATABASE postwire"
    "$BIN/postwire" migrate >/dev/null
}
start_workers() { # count [group]
    for n in $(seq "$1"); do
        POSTWIRE_WORKER_CONSUMER="bench-$n" POSTWIRE_WORKER_METRICS_PORT=$((WORKER_METRICS_PORT + n)) \
            POSTWIRE_WORKER_GROUP=${2:-postwire-workers} "$BIN/postwire-worker" &
        workers+=($!)
    done
}
peak_rss_mb() { # pids… : the largest VmHWM among them
    local peak=0 kb
    for pid in "$@"; do
        kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        ((kb > peak)) && peak=$kb
    done
    echo $((peak / 1024))
}
stop_workers() {
    ((${#workers[@]})) || return 0
    local rss; rss=$(peak_rss_mb "${workers[@]}")
    ((rss > ${worker_rss:-0})) && worker_rss=$rss
    kill "${workers[@]}" 2>/dev/null || true
    wait "${workers[@]}" 2>/dev/null || true
    workers=()
}
# Events the ingress appended (XADDs since the stream was made; trimming does not lower it) and
# events the workers committed (processing_stats_hourly counts every event of a committed batch).
accepted() { redis-cli -p "$REDIS_PORT" XINFO STREAM "$STREAM" 2>/dev/null | awk 'prev == "entries-added" {print; exit} {prev = $0}' | grep . || echo 0; }
committed() { psql_bench -d postwire -c "SELECT coalesce(sum(received), 0) FROM processing_stats_hourly"; }
wait_for() { for _ in $(seq 100); do curl -s -o /dev/null -X POST "$1" && return; sleep 0.1; done; die "$1 does not answer"; }
# loadgen with no retried or forged share, for measurements.
load() { "$BIN/postwire" loadgen --duplicates 0 --bad 0 --concurrency "$CONNECTIONS" "$@"; }
start_ingress() {
    "$BIN/postwire-ingress" & ingress=$!; started+=($ingress)
    wait_for "http://127.0.0.1:$INGRESS_PORT/webhooks/mailgun"
}

# An empty stream with the consumer groups named (made before the fill, so housekeeping trims
# nothing), filled through the ingress with `events` SendGrid events in batches of 100 of
# `profile` (postwire loadgen --profile); sets `filled` to the events appended.
fill_stream() { # profile events groups…
    local profile=$1 events=$2; shift 2
    log "filling $STREAM with $events SendGrid events, profile $profile"
    reset_state
    for group in "$@"; do redis-cli -p "$REDIS_PORT" XGROUP CREATE "$STREAM" "$group" 0 MKSTREAM >/dev/null; done
    load --url "http://127.0.0.1:$INGRESS_PORT" --mix sendgrid=1 --batch 100 --concurrency 16 --profile "$profile" \
        --count $((events / 100)) 2>/dev/null | sed 's/^/    /' >&2 || true
    filled=$(accepted)
}

# CPU time (clock ticks, every thread) of the pipeline's programs, and the machine's busy time.
cpu_snapshot() {
    local p exe stat group
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case $exe in
            */postgres) group=postgres ;;
            */redis-server | */redis-check-rdb) group=redis ;; # Debian's redis-server links to redis-check-rdb
            */postwire-ingress) group=ingress ;;
            */postwire-worker) group=workers ;;
            */BareRoute) group=bare ;;
            *) continue ;;
        esac
        stat=$(cat "$p/stat" 2>/dev/null) || continue
        echo "$group ${stat##*) }"
    done | awk '{ticks[$1] += $13 + $14} END {for (g in ticks) print g, ticks[g]}'
    awk '/^cpu / {print "busy", $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

# Since snapshot $1 taken $2 s ago: "program µs" per event for each program that ran ($3 events;
# the workers and PostgreSQL per $4 events when given: committed rather than accepted), and the
# machine's busy share. Processes that ended in between are not counted (psql's own, short ones).
cpu_per_event() { # before seconds events [committed-events]
    { sed 's/$/ -1/' <<<"$1"; cpu_snapshot | sed 's/$/ 1/'; } |
        awk -v s="$2" -v n="$3" -v c="${4:-$3}" -v cores="$(nproc)" '
            {d[$1] += $2 * $3}
            END {
                for (g in d) if (g != "busy") us[g] = 1e4 * d[g] / ((g == "workers" || g == "postgres") ? c : n)
                printf "%s", 100 * d["busy"] / (100 * s * cores)
                split("bare ingress redis workers postgres", order, " ")
                for (i = 1; i <= 5; i++) printf " %s", (order[i] in us && us[order[i]] >= 0.5) ? sprintf("%.0f", us[order[i]]) : "-"
                print ""
            }'
}

# `n` workers read the whole stream with consumer group `group` into an empty database (then
# changed by `setup…`, if given, before the clock starts); sets
# drain_rate (events/s), drain_wal (WAL bytes an event), drain_seconds and drain_cpu (what
# cpu_per_event says of the drain, taken before the workers stop: ended processes do not count).
drain() { # n group [setup…]
    local n=$1 group=$2; shift 2
    reset_database
    if (($#)); then "$@"; fi
    psql_bench -d postwire -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
    log "$n worker(s) reading $filled events"
    local start before; start=$(date +%s.%N) before=$(cpu_snapshot)
    start_workers "$n" "$group"
    while (($(committed) < filled)); do sleep 0.2; done
    drain_seconds=$(awk "BEGIN {print $(date +%s.%N) - $start}")
    drain_cpu=$(cpu_per_event "$before" "$drain_seconds" "$filled")
    drain_rate=$(awk "BEGIN {printf \"%.0f\", $filled / $drain_seconds}")
    drain_wal=$(wal_per_event "$filled")
    log "  $filled events in $drain_seconds s = $drain_rate events/s, $drain_wal WAL bytes an event"
    stop_workers
}

# PostgreSQL's own ceiling. The tables an event writes (event_keys, email_events, message_status,
# recipient_engagement), as the last drain left them, are copied out to `dump`; copy_in takes
# them back with COPY in one transaction (same client path as a worker's statements).
ceiling_tables=(event_keys email_events message_status recipient_engagement)
dump_tables() {
    dump=$(mktemp -d)
    log "PostgreSQL's ceiling: copying out the rows of ${ceiling_tables[*]}"
    for t in "${ceiling_tables[@]}"; do psql_bench -d postwire -c "\\copy (SELECT * FROM $t) TO '$dump/$t.copy'"; done
}
copy_in() { # database tables… : seconds to COPY the dumps of tables (dump=table to rename) into database, in one transaction
    local db=$1; shift
    local start; start=$(date +%s.%N)
    { echo "BEGIN;"; for t in "$@"; do echo "\\copy ${t#*=} FROM '$dump/${t%%=*}.copy'"; done; echo "COMMIT;"; } | psql_bench -d "$db" >/dev/null
    awk "BEGIN {print $(date +%s.%N) - $start}"
}
# Index entries an event adds per table: rows inserted times the table's indexes (partitions
# counted under their parent).
index_entries_per_event() { # events
    psql_bench -d postwire -F ' ' -c "
        SELECT coalesce(p.relname, s.relname), sum(s.n_tup_ins * (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid))
        FROM pg_stat_user_tables s LEFT JOIN pg_inherits h ON h.inhrelid = s.relid LEFT JOIN pg_class p ON p.oid = h.inhparent
        WHERE coalesce(p.relname, s.relname) IN ('event_keys', 'email_events', 'message_status', 'recipient_engagement')
        GROUP BY 1 ORDER BY 1" | awk -v n="$1" '{printf "%s%s %.1f", sep, $1, $2 / n; sep = ", "}'
}
# The dump into a freshly migrated database, first changed by `sql` if given, of all the tables or
# those named: sets ceiling_rate, ceiling_wal and index_entries.
measure_ceiling() { # [sql [tables…]]
    local sql=${1:-}; shift $(($# > 0))
    reset_database
    if [ -n "$sql" ]; then psql_bench -d postwire -c "$sql" >/dev/null; fi
    psql_bench -d postwire -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
    local seconds; seconds=$(copy_in postwire "${@:-${ceiling_tables[@]}}")
    ceiling_rate=$(awk "BEGIN {printf \"%.0f\", $filled / $seconds}")
    ceiling_wal=$(wal_per_event "$filled")
    index_entries=$(index_entries_per_event "$filled")
}
# Messages and recipients per event of the last drain's rows: what the profile made.
profile_shape() {
    psql_bench -d postwire -c "SELECT round($filled::numeric / greatest(count(*), 1), 2) FROM message_status" | tr -d '\n'
    printf ' events a message, '
    psql_bench -d postwire -c "SELECT round($filled::numeric / greatest(count(*), 1), 2) FROM recipient_engagement" | tr -d '\n'
    printf ' a recipient'
}
pct() { awk "BEGIN {printf \"%.0f\", 100 * $1 / $2}"; }
