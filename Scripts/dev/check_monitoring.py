#!/usr/bin/env python3
"""Static checks of Postwire's monitoring files against docs/METRICS.md (run by Scripts/check-monitoring).

    check_monitoring.py ROOT [--promql-rules OUT]

- docs/METRICS.md: the metric names, types and labels (the contract).
- Config/grafana/dashboards/*.json: every file parses; every panel query and variable query names
  only metrics of METRICS.md (histograms only with _bucket/_sum/_count), labels they have, and
  known PromQL functions; gauges never go through rate()/increase(); every data source uid is a
  provisioned one. Panels on the PostgreSQL data source need SQL (rawSql); the integration tests
  run each against real PostgreSQL. With --promql-rules, the queries are written as recording rules to OUT (Grafana
  variables replaced) so that promtool can parse them.
- Config/grafana/provisioning: the data source and dashboard provider files are there.
- Config/prometheus/alerts.yml: the same metric rules (`up` allowed), every alert has a severity,
  a summary and a description with a first response, every required alert exists and every alert
  fires in at least one test of alerts.test.yml.
- Config/prometheus/prometheus.yml: scrapes ingress:9101 and the DNS name `worker` on 9102 (the
  ports of METRICS.md) and loads alerts.yml.
- Config/redis/*.conf: append-only, the right appendfsync, noeviction, no port/bind/dir lines,
  the two files alike but for appendfsync.
- docs/OPERATIONS.md names every alert and every Prometheus dashboard panel; docs/ANALYTICS.md
  every PostgreSQL one.

Python standard library plus PyYAML (Scripts/check-compose and Scripts/check-monitoring provide it).
Prints one line per check; exits 1 if any failed.
"""

import glob
import json
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_monitoring.py: needs PyYAML (Scripts/check-monitoring installs it)")

# PromQL functions and aggregation operators (Prometheus 2.x).
FUNCTIONS = set("""
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month
deg delta deriv exp floor histogram_count histogram_fraction histogram_quantile histogram_stddev
histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join label_replace
last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi
predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh
sort sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector
year
sum min max avg group stddev stdvar count count_values bottomk topk quantile
""".split())
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "inf", "nan", "atan2"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^{}]*)\}")
TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[A-Za-z]*|.", re.S)
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
REQUIRED_ALERTS = ["PostwireIngressErrorRate", "PostwireReceiveToCommitSlow", "PostwireBacklog",
                   "PostwireDeadLetters", "PostwireAuthFailures", "PostwireTargetDown"]
REDIS_FORBIDDEN = {"port", "bind", "dir", "daemonize", "pidfile", "logfile", "requirepass",
                   "unixsocket", "include", "tls-port"}

failures = []


def check(ok, label, why=""):
    print(("ok    " if ok else "FAIL  ") + label + ("" if ok else f": {why}"))
    if not ok:
        failures.append(label)
    return ok


def rel(root, path):
    return os.path.relpath(path, root)


# --- the contract ----------------------------------------------------------------------------------

def read_metrics(path):
    """{name: (type, {labels})} from the tables of METRICS.md, and the two default ports."""
    text = open(path, encoding="utf-8").read()
    metrics = {}
    for line in text.splitlines():
        m = re.match(r"\|\s*`(postwire_[a-z0-9_]+)`\s*\|\s*(counter|gauge|histogram)\s*\|([^|]*)\|", line)
        if m:
            metrics[m.group(1)] = (m.group(2), set(re.findall(r"`([a-z_]+)`", m.group(3))))
    ports = {name: int(port) for name, port in
             re.findall(r"`(ingress|worker)\.metricsPort`\s*\(default\s*\*\*(\d+)\*\*\)", text)}
    return metrics, ports


# --- PromQL ------------------------------------------------------------------------------------------

def analyse(expr, metrics, extra_names=()):
    """Problems found in one PromQL expression, and the metric names it uses."""
    problems, used = [], set()
    allowed = dict(metrics)
    for name in extra_names:
        allowed[name] = ("gauge", set())
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    s = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_]\w*", "1", s)                         # Grafana variables

    def resolve(name):
        """(base name, type, labels) of a series name, or None."""
        if name in allowed:
            return name, allowed[name][0], set(allowed[name][1])
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[: -len(suffix)]
            if name.endswith(suffix) and allowed.get(base, ("",))[0] == "histogram":
                labels = set(allowed[base][1]) | ({"le"} if suffix == "_bucket" else set())
                return base, "histogram", labels
        return None

    # Label matchers belong to the selector they follow.
    selectors = []
    for m in SELECTOR.finditer(s):
        matcher_labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(2)))
        selectors.append((m.group(1), matcher_labels))
        if not m.group(1):
            problems.append(f"selector without a metric name: {{{m.group(2)}}}")
    s = SELECTOR.sub(lambda m: " " + (m.group(1) or "") + " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)  # range and subquery windows
    grouping_labels = set()
    for m in GROUPING.finditer(s):
        grouping_labels |= {x.strip() for x in m.group(2).split(",") if x.strip()}
    s = GROUPING.sub(" ", s)

    tokens = [t for t in TOKEN.findall(s) if not t.isspace()]
    for i, token in enumerate(tokens):
        if not re.match(r"[A-Za-z_:]", token):
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if following == "(":
            if token not in FUNCTIONS:
                problems.append(f"unknown function {token}()")
            continue
        if token.lower() in KEYWORDS:
            continue
        used.add(token)
        resolved = resolve(token)
        if resolved is None:
            problems.append(f"{token} is not in docs/METRICS.md")
            continue
        base, kind, _ = resolved
        if kind == "histogram" and token == base:
            problems.append(f"{token} is a histogram: use {token}_bucket, _sum or _count")
        if kind == "gauge" and tokens[max(0, i - 2):i] in (["rate", "("], ["irate", "("], ["increase", "("]):
            problems.append(f"{token} is a gauge: rate()/irate()/increase() need a counter")

    # Labels: a matcher must name a label of its metric; a grouping label one of some metric used.
    all_labels = set(TARGET_LABELS)
    for name in used:
        resolved = resolve(name)
        if resolved:
            all_labels |= resolved[2]
    for name, labels in selectors:
        resolved = resolve(name) if name else None
        if resolved:
            unknown = sorted(labels - resolved[2] - TARGET_LABELS - {"__name__"})
            if unknown:
                problems.append(f"{name} has no label {', '.join(unknown)}")
    unknown = sorted(grouping_labels - all_labels)
    if unknown:
        problems.append(f"grouping by label(s) {', '.join(unknown)} that no metric here has")
    return problems, used


def grafana_to_promql(expr):
    """A Grafana query as plain PromQL: interval variables become 5m, other variables `.*`."""
    return re.sub(r"\$\{?(\w+)(?::\w+)?\}?", lambda m: "5m" if m.group(1).startswith("__") else ".*", expr)


# --- Grafana -------------------------------------------------------------------------------------------

def walk_panels(panels):
    for panel in panels or []:
        yield panel
        yield from walk_panels(panel.get("panels"))


def check_grafana(root, metrics, promql_out):
    """Prometheus panels are checked here as PromQL; PostgreSQL panels (the deliverability
    dashboard) need SQL, which the integration tests run against real PostgreSQL."""
    prov = os.path.join(root, "Config/grafana/provisioning")
    uids, sql_uids = set(), set()
    ds_files = sorted(glob.glob(os.path.join(prov, "datasources", "*.y*ml")))
    for path in ds_files:
        doc = yaml.safe_load(open(path, encoding="utf-8")) or {}
        for ds in doc.get("datasources") or []:
            if ds.get("type") == "grafana-postgresql-datasource" and ds.get("uid"):
                sql_uids.add(ds["uid"])
                check(ds.get("url") == "postgres:5432" and ds.get("user") == "postwire_analyst",
                      f"{rel(root, path)}: data source {ds['uid']} is the compose PostgreSQL as the read-only analyst",
                      f"url {ds.get('url')!r}, user {ds.get('user')!r}")
            if ds.get("type") == "prometheus" and ds.get("uid"):
                uids.add(ds["uid"])
                check(ds.get("url") == "http://prometheus:9090",
                      f"{rel(root, path)}: data source {ds['uid']} is the compose Prometheus (http://prometheus:9090)",
                      f"url is {ds.get('url')!r}")
    check(bool(uids), "Grafana provisioning: a Prometheus data source with a uid", f"none in {rel(root, prov)}/datasources")
    providers = []
    for path in sorted(glob.glob(os.path.join(prov, "dashboards", "*.y*ml"))):
        doc = yaml.safe_load(open(path, encoding="utf-8")) or {}
        providers += [p for p in doc.get("providers") or [] if p.get("type", "file") == "file"]
    check(any((p.get("options") or {}).get("path") == "/etc/grafana/dashboards" for p in providers),
          "Grafana provisioning: a file dashboard provider reading /etc/grafana/dashboards",
          f"providers: {providers}")

    titles, sql_titles, rules = [], [], []
    files = sorted(glob.glob(os.path.join(root, "Config/grafana/dashboards", "*.json")))
    check(bool(files), "Grafana dashboards: at least one JSON file", "none in Config/grafana/dashboards")
    for path in files:
        name = rel(root, path)
        try:
            dash = json.load(open(path, encoding="utf-8"))
        except ValueError as error:
            check(False, f"{name}: parses as JSON", str(error))
            continue
        check(True, f"{name}: parses as JSON")
        problems, used, queries = [], set(), 0
        ids = []
        queries_of = []  # (label, expr)
        for panel in walk_panels(dash.get("panels")):
            ids.append(panel.get("id"))
            if panel.get("type") == "row":
                continue
            ds = (panel.get("datasource") or {}).get("uid")
            if ds in sql_uids:
                sql_titles.append(panel.get("title", ""))
                for target in panel.get("targets") or [{}]:
                    if not (target.get("rawSql") or "").strip():
                        problems.append(f"panel {panel.get('title')!r}, query {target.get('refId')}: no rawSql")
                queries += len(panel.get("targets") or [])
                continue
            titles.append(panel.get("title", ""))
            if ds is not None and ds not in uids:
                problems.append(f"panel {panel.get('title')!r}: data source uid {ds!r} is not provisioned")
            targets = panel.get("targets") or []
            if not targets:
                problems.append(f"panel {panel.get('title')!r} has no query")
            for target in targets:
                tds = (target.get("datasource") or {}).get("uid")
                if tds is not None and tds not in uids:
                    problems.append(f"panel {panel.get('title')!r}: query data source uid {tds!r} is not provisioned")
                expr = target.get("expr")
                if not expr:
                    problems.append(f"panel {panel.get('title')!r}, query {target.get('refId')}: no expr")
                    continue
                queries_of.append((f"panel {panel.get('title')!r} {target.get('refId')}", expr,
                                   f"p{panel.get('id')}_{target.get('refId')}"))
        for var in (dash.get("templating") or {}).get("list") or []:
            if var.get("type") != "query" or (var.get("datasource") or {}).get("uid") in sql_uids:
                continue
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*", q or "")
            if m:
                queries_of.append((f"variable ${var.get('name')}", m.group(1), f"var_{var.get('name')}"))
            elif q:
                problems.append(f"variable ${var.get('name')}: only label_values(<selector>, <label>) queries are checked, not {q!r}")
        for label, expr, rule_id in queries_of:
            queries += 1
            found, names = analyse(expr, metrics)
            used |= names
            problems += [f"{label}: {p}" for p in found]
            rules.append({"record": f"dashboard:{rule_id}", "expr": grafana_to_promql(expr)})
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            problems.append(f"panel ids used twice: {duplicates}")
        check(not problems,
              f"{name}: {len(titles) + len(sql_titles)} panels, {queries} queries, {len(used)} metric names, all in docs/METRICS.md "
              f"(histograms by _bucket/_sum/_count, known labels and functions, provisioned data source)",
              "; ".join(problems))
    if promql_out:
        with open(promql_out, "w", encoding="utf-8") as out:
            yaml.safe_dump({"groups": [{"name": "grafana-dashboard-queries", "rules": rules}]}, out, sort_keys=False)
    return titles, sql_titles


# --- Prometheus ------------------------------------------------------------------------------------------

def check_alerts(root, metrics):
    path = os.path.join(root, "Config/prometheus/alerts.yml")
    doc = yaml.safe_load(open(path, encoding="utf-8")) or {}
    alerts, problems, used = [], [], set()
    for group in doc.get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            alerts.append(name)
            found, names = analyse(str(rule.get("expr", "")), metrics, extra_names=("up",))
            used |= names
            problems += [f"{name}: {p}" for p in found]
            if "alert" not in rule:
                continue
            ann, labels = rule.get("annotations") or {}, rule.get("labels") or {}
            if not str(ann.get("summary", "")).strip():
                problems.append(f"{name}: no summary annotation")
            if "first response" not in str(ann.get("description", "")).lower():
                problems.append(f"{name}: the description has no 'First response:'")
            if labels.get("severity") not in ("critical", "warning", "info"):
                problems.append(f"{name}: severity label is {labels.get('severity')!r}, not critical/warning/info")
    check(not problems, f"Config/prometheus/alerts.yml: {len(alerts)} alerts use only metrics of docs/METRICS.md "
                        f"({len(used)} names, `up` allowed), each with severity, summary and a first response",
          "; ".join(problems))
    missing = [a for a in REQUIRED_ALERTS if a not in alerts]
    check(not missing, "Config/prometheus/alerts.yml: the required alerts exist (" + ", ".join(REQUIRED_ALERTS) + ")",
          f"missing {missing}")

    tpath = os.path.join(root, "Config/prometheus/alerts.test.yml")
    tdoc = yaml.safe_load(open(tpath, encoding="utf-8")) or {}
    fired = set()
    for test in tdoc.get("tests") or []:
        for case in test.get("alert_rule_test") or []:
            if case.get("exp_alerts"):
                fired.add(case.get("alertname"))
    untested = [a for a in alerts if a not in fired]
    check(not untested, "Config/prometheus/alerts.test.yml: every alert is shown to fire in some test", f"never fires: {untested}")
    return alerts


def check_prometheus_config(root, ports):
    path = os.path.join(root, "Config/prometheus/prometheus.yml")
    doc = yaml.safe_load(open(path, encoding="utf-8")) or {}
    ingress_port, worker_port = ports.get("ingress"), ports.get("worker")
    check(ingress_port == 9101 and worker_port == 9102, "docs/METRICS.md: operations ports 9101 (ingress) and 9102 (worker)",
          f"found {ports}")
    static, dns = [], []
    for job in doc.get("scrape_configs") or []:
        for sc in job.get("static_configs") or []:
            static += sc.get("targets") or []
        for dc in job.get("dns_sd_configs") or []:
            dns.append((tuple(dc.get("names") or []), dc.get("type", "SRV"), dc.get("port")))
    check(f"ingress:{ingress_port}" in static, f"prometheus.yml: scrapes ingress:{ingress_port}", f"static targets {static}")
    check((("worker",), "A", worker_port) in dns,
          f"prometheus.yml: scrapes every worker replica (dns_sd_configs type A, name worker, port {worker_port})",
          f"dns_sd_configs {dns}")
    check("alerts.yml" in (doc.get("rule_files") or []), "prometheus.yml: loads alerts.yml",
          f"rule_files {doc.get('rule_files')}")


# --- Redis -------------------------------------------------------------------------------------------------

def redis_directives(path):
    out = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out.setdefault(key.lower(), []).append(value.strip())
    return out


def check_redis(root):
    expected = {"postwire.conf": "everysec", "postwire-zero-loss.conf": "always"}
    parsed = {}
    for name, fsync in expected.items():
        path = os.path.join(root, "Config/redis", name)
        if not check(os.path.isfile(path), f"Config/redis/{name} exists", "missing"):
            continue
        d = parsed[name] = redis_directives(path)
        problems = []
        if d.get("appendonly") != ["yes"]:
            problems.append(f"appendonly is {d.get('appendonly')}")
        if d.get("appendfsync") != [fsync]:
            problems.append(f"appendfsync is {d.get('appendfsync')}, not [{fsync!r}]")
        if d.get("maxmemory-policy") != ["noeviction"]:
            problems.append(f"maxmemory-policy is {d.get('maxmemory-policy')}")
        if d.get("no-appendfsync-on-rewrite", ["no"]) != ["no"]:
            problems.append("no-appendfsync-on-rewrite must stay no")
        forbidden = sorted(REDIS_FORBIDDEN & set(d))
        if forbidden:
            problems.append(f"{', '.join(forbidden)}: set by the callers on the command line, not in the file")
        check(not problems, f"Config/redis/{name}: appendonly yes, appendfsync {fsync}, noeviction, "
                            f"no port/bind/dir/daemonize/password lines", "; ".join(problems))
    if len(parsed) == 2:
        a, b = ({k: v for k, v in d.items() if k != "appendfsync"} for d in parsed.values())
        differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        check(not differ, "Config/redis: the two modes differ in appendfsync only", f"they also differ in {differ}")


# --- docs ----------------------------------------------------------------------------------------------------

def check_docs(root, alerts, titles):
    path = os.path.join(root, "docs/OPERATIONS.md")
    if not check(os.path.isfile(path), "docs/OPERATIONS.md exists", "missing"):
        return
    text = open(path, encoding="utf-8").read()
    missing = [a for a in alerts if a not in text]
    check(not missing, "docs/OPERATIONS.md: describes every alert", f"missing {missing}")
    missing = [t for t in titles if t.lower() not in text.lower()]
    check(not missing, "docs/OPERATIONS.md: describes every dashboard panel", f"missing {missing}")
    for var in ("POSTWIRE_REDIS_MODE", "GRAFANA_ADMIN_PASSWORD"):
        check(var in text, f"docs/OPERATIONS.md: explains {var}", "not mentioned")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    root = argv[1]
    promql_out = argv[argv.index("--promql-rules") + 1] if "--promql-rules" in argv else None
    metrics, ports = read_metrics(os.path.join(root, "docs/METRICS.md"))
    check(len(metrics) >= 10, f"docs/METRICS.md: {len(metrics)} metrics read "
                              f"({sum(t == 'histogram' for t, _ in metrics.values())} histograms)", "too few: is the table format changed?")
    titles, sql_titles = check_grafana(root, metrics, promql_out)
    alerts = check_alerts(root, metrics)
    check_prometheus_config(root, ports)
    check_redis(root)
    check_docs(root, alerts, titles)
    analytics = os.path.join(root, "docs/ANALYTICS.md")
    text = open(analytics, encoding="utf-8").read().lower() if os.path.isfile(analytics) else ""
    missing = [t for t in sql_titles if t.lower() not in text]
    check(not missing, "docs/ANALYTICS.md: describes every deliverability dashboard panel", f"missing {missing}")
    if failures:
        print(f"\n{len(failures)} monitoring check(s) failed.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
