#!/usr/bin/env bash
# Shared by Scripts/run and Scripts/test: install what is missing, then start a private Redis
# and PostgreSQL with their data under .postwire/<name>/ (git-ignored), on their own ports, so
# a dev cluster and a test run never share data. Source it; it defines functions only.

POSTWIRE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages the build and the services need. Installs only what is missing.
ensure_packages() {
    local wanted=(redis-server redis-tools libhiredis-dev postgresql postgresql-contrib pkg-config curl)
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    if ((${#missing[@]})); then
        [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (run as root, or install them with apt-get)"
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    command -v swift >/dev/null || die "swift is not on PATH (Swift 6.2 or later is needed)"
}

# Debian's chromium: the report test renders `postwire report` in it, headless (Scripts/test only;
# Scripts/run does not need a browser).
ensure_chromium() {
    command -v chromium >/dev/null && return
    [ "$(id -u)" = 0 ] || die "missing chromium (run as root, or install it with apt-get)"
    log "installing chromium (for the report test)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

# The PyPI packages `standardwebhooks` and `jsonschema`, into .postwire/tools/python (never into the
# system): the independent signature verifier and payload validator Scripts/webhook-receiver and
# the delivery tests use. Exports PYTHONPATH.
ensure_standardwebhooks() {
    local target="$POSTWIRE_ROOT/.postwire/tools/python"
    export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
    python3 -c 'import standardwebhooks, jsonschema' 2>/dev/null && return 0
    python3 -m pip --version >/dev/null 2>&1 || {
        [ "$(id -u)" = 0 ] || die "missing python3-pip (run as root, or install it with apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    }
    log "installing standardwebhooks and jsonschema into $target (PyPI)"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location \
        --upgrade --target "$target" 'standardwebhooks>=1.0,<2' 'jsonschema>=4.18,<5' >&2 ||
        die "cannot install standardwebhooks and jsonschema from PyPI"
    python3 -c 'import standardwebhooks, jsonschema' || die "standardwebhooks or jsonschema is not importable from $target"
}

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    echo "$dir"
}

# PostgreSQL refuses to run as root: as root, run its tools as the postgres user.
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A data directory the server's user can reach: .postwire/<name>/pg, or, when a parent of the
# checkout is closed to that user, a directory under /var/tmp named after the checkout.
pg_data_dir() {
    local name=$1
    local dir="$POSTWIRE_ROOT/.postwire/$name/pg"
    mkdir -p "$POSTWIRE_ROOT/.postwire/$name"
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$POSTWIRE_ROOT/.postwire/$name"; then
        dir="/var/tmp/postwire-$(echo "$POSTWIRE_ROOT" | md5sum | cut -c1-8)-$name/pg"
    fi
    echo "$dir"
}

# start_redis NAME PORT: append-only Redis on 127.0.0.1:PORT, data in .postwire/NAME/redis, with
# the settings of Config/redis/postwire.conf (POSTWIRE_REDIS_MODE=everysec, the default) or
# Config/redis/postwire-zero-loss.conf (POSTWIRE_REDIS_MODE=zero-loss), as in Docker/compose.yml.
start_redis() {
    local name=$1 port=$2 dir="$POSTWIRE_ROOT/.postwire/$1/redis" mode=${POSTWIRE_REDIS_MODE:-everysec} conf
    case "$mode" in
        everysec) conf="$POSTWIRE_ROOT/Config/redis/postwire.conf" ;;
        zero-loss) conf="$POSTWIRE_ROOT/Config/redis/postwire-zero-loss.conf" ;;
        *) die "POSTWIRE_REDIS_MODE is '$mode'; it must be everysec (the default) or zero-loss" ;;
    esac
    [ -f "$conf" ] || die "no $conf"
    mkdir -p "$dir"
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
        log "redis already running on port $port"
        return
    fi
    log "starting redis on 127.0.0.1:$port ($mode: ${conf#"$POSTWIRE_ROOT/"}, data in $dir)"
    # The file first: the flags after it win over anything it says.
    redis-server "$conf" --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --save '' --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    # PONG, not just an answer: while it loads its append-only file Redis answers LOADING.
    for _ in $(seq 600); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return; sleep 0.1; done
    die "redis did not start; see $dir/redis.log"
}

stop_redis() {
    local port=$1
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

# start_postgres NAME PORT PASSWORD: PostgreSQL on 127.0.0.1:PORT with a superuser `postwire`
# (password PASSWORD) and a database `postwire`. POSTWIRE_PG_FSYNC (on) and POSTWIRE_PG_OPTIONS
# (more `-c name=value` server settings, e.g. Benchmarks/profile-worker's pg_stat_statements) apply
# when it starts the server, not to one already running.
start_postgres() {
    local name=$1 port=$2 password=$3 bin data
    bin=$(pg_bin)
    data=$(pg_data_dir "$name")
    if [ ! -s "$data/PG_VERSION" ]; then
        log "creating a PostgreSQL cluster in $data"
        mkdir -p "$data"
        [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$(dirname "$data")"
        local pwfile
        pwfile=$(mktemp)
        printf '%s\n' "$password" >"$pwfile"
        chmod 644 "$pwfile"
        as_postgres "$bin/initdb" -D "$data" -U postwire --pwfile="$pwfile" -A scram-sha-256 -E UTF8 >/dev/null
        rm -f "$pwfile"
    fi
    if as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        log "postgresql already running from $data"
    else
        log "starting postgresql on 127.0.0.1:$port"
        as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -k /tmp -c max_connections=200 -c fsync=${POSTWIRE_PG_FSYNC:-on} ${POSTWIRE_PG_OPTIONS:-}" \
            start >/dev/null || die "postgresql did not start; see $data/server.log"
    fi
    PGPASSWORD=$password psql -h 127.0.0.1 -p "$port" -U postwire -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'postwire'" | grep -q 1 ||
        PGPASSWORD=$password psql -h 127.0.0.1 -p "$port" -U postwire -d postgres -qc "CREATE DATABASE postwire" ||
        die "cannot create database postwire"
}

stop_postgres() {
    local name=$1 data
    data=$(pg_data_dir "$name")
    [ -d "$data" ] && as_postgres "$(pg_bin)/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}
