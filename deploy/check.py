#!/usr/bin/env python3
"""deploy/check.py — proves that the Grafana dashboard (deploy/grafana/mcdc.json) and the Prometheus
rules (deploy/prometheus/alerts.yaml) fit the mcdc they are for:

- promtool accepts the rules (`promtool check rules`) and its unit tests of them pass
  (`promtool test rules deploy/prometheus/alerts_test.yaml`);
- the rules file and the dashboard have the shape Prometheus and Grafana read (groups of rules with
  alert, expr, a duration in for, a severity and a summary; a dashboard of schema 38 with a
  Prometheus `datasource` variable, every panel and variable querying through it);
- every metric name in their PromQL (panel targets, variable queries, rule exprs) is one that a
  /metrics text exposes. A histogram's _bucket, _sum and _count count as its name; `up` is
  Prometheus's own.

The /metrics text comes from a running mcdc (--metrics http://127.0.0.1:8444/metrics, or a file, or
- for stdin) or from `test_metrics --sample` (--metrics-program build/test_metrics), which prints
every series metrics.c writes from hand-made snapshots; ctest runs it that way (deploy_names).

usage: deploy/check.py (--metrics FILE|URL|- | --metrics-program PROGRAM) [--token TOKEN]
                       [--no-promtool]
Exit 0 when every check passes, 1 with each failure on stderr. tests/it/test_dashboards.py imports it.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
DASHBOARD = DEPLOY / "grafana" / "mcdc.json"
RULES = DEPLOY / "prometheus" / "alerts.yaml"
RULES_TEST = DEPLOY / "prometheus" / "alerts_test.yaml"

# Series Prometheus makes itself rather than scraping them from mcdc.
PROMETHEUS_OWN = {"up"}

# ---- PromQL: the metric names an expression selects ------------------------------------------

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
             "offset", "atan2", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_TOKEN = re.compile(r"\d[\w.]*|[A-Za-z_:][\w:]*")


def metric_names(expr: str) -> set:
    """The metric names a PromQL expression selects. Grafana's $variables are dropped first; so are
    strings, label matchers {...}, ranges [...], the label lists of by/without/on/ignoring/group_*,
    function names (a name followed by "("), keywords and numbers (durations included)."""
    s = re.sub(r"\$\{?\w+\}?", "", expr)
    s = _STRING.sub('""', s)
    s = re.sub(r"\{[^{}]*\}", " ", s)
    s = re.sub(r"\[[^\[\]]*\]", " ", s)
    s = _GROUPING.sub(" ", s)
    names = set()
    for m in _TOKEN.finditer(s):
        tok = m.group(0)
        if tok[0].isdigit() or tok.lower() in _KEYWORDS:
            continue
        if re.match(r"\s*\(", s[m.end():]):
            continue  # a function or an aggregation
        names.add(tok)
    return names


def variable_query_names(query: str) -> set:
    """The metric names a Grafana Prometheus variable query reads: label_values(METRIC{...}, label),
    metrics(REGEX) (none), query_result(EXPR)."""
    q = query.strip()
    m = re.fullmatch(r"label_values\((.*)\)", q, re.S)
    if m:
        args = m.group(1)
        depth, cut = 0, None
        for i, ch in enumerate(args):  # the last top-level comma separates the label
            if ch in "({[":
                depth += 1
            elif ch in ")}]":
                depth -= 1
            elif ch == "," and depth == 0:
                cut = i
        return metric_names(args[:cut]) if cut is not None else set()
    m = re.fullmatch(r"query_result\((.*)\)", q, re.S)
    if m:
        return metric_names(m.group(1))
    if re.fullmatch(r"(label_names|metrics)\(.*\)", q, re.S):
        return set()
    return metric_names(q)


# ---- /metrics: the names a text exposes ------------------------------------------------------

def exposed_names(text: str) -> set:
    """Every metric name of a Prometheus text: TYPE lines (a name is exposed even while no series of
    it has a value, e.g. the lag before a watermark is known) and sample lines; a histogram or
    summary also under its _bucket/_sum/_count names."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE ([A-Za-z_:][\w:]*) (\w+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) in ("histogram", "summary"):
                names.update(m.group(1) + suffix for suffix in ("_bucket", "_sum", "_count"))
            continue
        if line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][\w:]*", line).group(0))
    return names


def sampled_names(text: str) -> set:
    """Names with at least one sample line (not only HELP/TYPE)."""
    return {re.match(r"[A-Za-z_:][\w:]*", ln).group(0) for ln in text.splitlines() if ln and not ln.startswith("#")}


# ---- the two files ---------------------------------------------------------------------------

def _panels(panels):
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def dashboard_exprs(dash: dict) -> list:
    """(where, expression or variable query, is_variable) for every query in the dashboard."""
    out = []
    for p in _panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            if t.get("expr"):
                out.append((f"panel '{p.get('title')}' {t.get('refId')}", t["expr"], False))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            out.append((f"variable ${v.get('name')}", q, True))
    return out


def rule_exprs(rules: dict) -> list:
    """(where, expression) for every rule."""
    return [(f"rule {r.get('alert') or r.get('record')}", r["expr"])
            for g in rules.get("groups", []) for r in g.get("rules", []) if "expr" in r]


def load_rules(path=RULES) -> dict:
    try:
        import yaml
    except ImportError:
        sys.exit("deploy/check.py needs PyYAML (Debian: python3-yaml, listed in scripts/build-deps)")
    return yaml.safe_load(Path(path).read_text())


def load_dashboard(path=DASHBOARD) -> dict:
    return json.loads(Path(path).read_text())


def referenced_names(dash: dict, rules: dict) -> dict:
    """{metric name: [where it is used]} over the dashboard and the rules."""
    uses = {}
    for where, expr, is_var in dashboard_exprs(dash):
        for n in (variable_query_names(expr) if is_var else metric_names(expr)):
            uses.setdefault(n, []).append(where)
    for where, expr in rule_exprs(rules):
        for n in metric_names(expr):
            uses.setdefault(n, []).append(where)
    return uses


def unknown_names(dash: dict, rules: dict, metrics_text: str) -> list:
    """Messages for each referenced name that the /metrics text does not expose."""
    exposed = exposed_names(metrics_text) | PROMETHEUS_OWN
    return [f"{n} (used by {', '.join(sorted(set(w)))}) is not in /metrics"
            for n, w in sorted(referenced_names(dash, rules).items()) if n not in exposed]


_DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")


def rules_shape(rules: dict) -> list:
    errs = []
    groups = rules.get("groups") if isinstance(rules, dict) else None
    if not groups:
        return ["alerts.yaml: no groups"]
    seen = set()
    for g in groups:
        if not g.get("name") or not g.get("rules"):
            errs.append(f"alerts.yaml: a group without name or rules: {g!r:.80}")
            continue
        for r in g["rules"]:
            name = r.get("alert")
            if not name or not isinstance(r.get("expr"), str):
                errs.append(f"alerts.yaml group {g['name']}: a rule without alert or expr")
                continue
            if name in seen:
                errs.append(f"alerts.yaml: alert {name} twice")
            seen.add(name)
            if "for" in r and not _DURATION.fullmatch(str(r["for"])):
                errs.append(f"alerts.yaml {name}: for '{r['for']}' is not a duration")
            if (r.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                errs.append(f"alerts.yaml {name}: labels.severity must be critical, warning or info")
            ann = r.get("annotations") or {}
            if not ann.get("summary") or not ann.get("description"):
                errs.append(f"alerts.yaml {name}: annotations need summary and description")
    return errs


def dashboard_shape(dash: dict) -> list:
    errs = []
    if dash.get("schemaVersion", 0) < 36:
        errs.append(f"mcdc.json: schemaVersion {dash.get('schemaVersion')} is older than Grafana 9")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errs.append("mcdc.json: needs a variable `datasource` of type datasource, query prometheus")
    tid = variables.get("task_id")
    if not tid or tid.get("type") != "query" or "label_values(" not in json.dumps(tid.get("query")):
        errs.append("mcdc.json: needs a variable `task_id` from label_values(...)")
    want_ds = {"type": "prometheus", "uid": "${datasource}"}
    for v in variables.values():
        if v.get("type") == "query" and v.get("datasource") != want_ds:
            errs.append(f"mcdc.json: variable ${v.get('name')} does not query through $datasource")
    ids = set()
    for p in _panels(dash.get("panels", [])):
        title = p.get("title")
        if p.get("id") in ids:
            errs.append(f"mcdc.json: panel id {p.get('id')} twice")
        ids.add(p.get("id"))
        gp = p.get("gridPos", {})
        if not all(isinstance(gp.get(k), int) for k in ("h", "w", "x", "y")) or gp["x"] + gp["w"] > 24:
            errs.append(f"mcdc.json: panel '{title}' has a bad gridPos {gp}")
        if p.get("type") == "row":
            continue
        if not p.get("targets"):
            errs.append(f"mcdc.json: panel '{title}' has no query")
        for t in [p] + p.get("targets", []):
            if t.get("datasource") != want_ds:
                errs.append(f"mcdc.json: panel '{title}' does not query through $datasource")
    return errs


def promtool_checks(promtool: str) -> list:
    errs = []
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULES_TEST)]):
        r = subprocess.run([promtool, *args], capture_output=True, text=True)
        if r.returncode != 0:
            errs.append(f"promtool {' '.join(args)}:\n{r.stdout}{r.stderr}")
    return errs


def read_metrics(source: str, token=None) -> str:
    if source == "-":
        return sys.stdin.read()
    if re.match(r"https?://", source):
        req = urllib.request.Request(source, headers={"Authorization": f"Bearer {token}"} if token else {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()
    return Path(source).read_text()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--metrics", help="a /metrics text: file, URL or - for stdin")
    src.add_argument("--metrics-program", help="a program that prints one when run with --sample (test_metrics)")
    ap.add_argument("--token", help="bearer token for a --metrics URL")
    ap.add_argument("--no-promtool", action="store_true", help="skip promtool (it must be installed otherwise)")
    a = ap.parse_args()

    if a.metrics_program:
        r = subprocess.run([a.metrics_program, "--sample"], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{a.metrics_program} --sample exited {r.returncode}:\n{r.stderr}", file=sys.stderr)
            return 1
        text = r.stdout
    else:
        try:
            text = read_metrics(a.metrics, a.token)
        except OSError as e:  # URLError is one
            print(f"cannot read {a.metrics}: {e}", file=sys.stderr)
            return 1
    if not exposed_names(text):
        print("the /metrics text names no metric", file=sys.stderr)
        return 1

    dash, rules = load_dashboard(), load_rules()
    errs = dashboard_shape(dash) + rules_shape(rules) + unknown_names(dash, rules, text)
    if not a.no_promtool:
        promtool = shutil.which("promtool")
        if not promtool:
            errs.append("promtool is not installed (Debian package prometheus, in scripts/build-deps); "
                        "--no-promtool skips it")
        else:
            errs += promtool_checks(promtool)
    for e in errs:
        print(e, file=sys.stderr)
    n = len(referenced_names(dash, rules))
    print(f"deploy/check.py: {n} metric names used, {len(errs)} problem(s)"
          + ("" if a.no_promtool else "; promtool check rules and test rules run"))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
