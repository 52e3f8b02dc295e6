"""Checks that every metric a dashboard or a rule file reads is one brokerd exports.

Usage: check_metrics_used.py --scrape METRICS.txt [--external NAME,...]
                             [--dashboard FILE]... [--rules FILE]...

METRICS.txt is a live scrape of brokerd's /metrics. Each selector of each
query must name a sample in it (a histogram as NAME_bucket, NAME_sum or
NAME_count, as PromQL reads it), every label it matches on must be on that
metric, and a label matched with = or =~ against a literal must have a value
that matches. job and instance are left alone: Prometheus adds them.
--external lists the names that come from elsewhere (up, node_exporter's).
Prints each problem and exits 1 if there is one.
"""

import argparse
import json
import re
import sys

import yaml

from promql_names import selectors

_TARGET_LABELS = {"job", "instance"}
_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+\S+")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:\\.|[^"\\])*)"')


def read_scrape(path):
    """{sample name: [labels dict of each series]}"""
    samples = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise ValueError(f"{path}: not a sample line: {line.rstrip()!r}")
            samples.setdefault(m.group(1), []).append(dict(_LABEL.findall(m.group(2) or "")))
    return samples


def dashboard_queries(path):
    """(where, PromQL) of every panel query and query variable."""
    with open(path) as f:
        dashboard = json.load(f)
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            query = v.get("query")
            yield f"{path}: variable ${v['name']}", query.get("query") if isinstance(query, dict) else query

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                yield f"{path}: panel {p.get('title')!r} query {t.get('refId')}", t.get("expr", "")
            yield from walk(p.get("panels", []))

    yield from walk(dashboard.get("panels", []))


def rule_queries(path):
    with open(path) as f:
        rules = yaml.safe_load(f)
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            yield f"{path}: {rule.get('alert') or rule.get('record')}", rule["expr"]


def check_selector(where, sel, samples, problems):
    series = samples.get(sel.name)
    if series is None:
        problems.append(f"{where}: {sel.name} is not in the scrape")
        return
    for label, op, value in sel.matchers:
        if label in _TARGET_LABELS:
            continue
        values = {s[label] for s in series if label in s}
        if not values:
            problems.append(f"{where}: {sel.name} has no label {label!r}")
        elif value is not None and op == "=" and value not in values:
            problems.append(f"{where}: {sel.name} has no series with {label}={value!r} "
                            f"(it has {', '.join(sorted(values))})")
        elif value is not None and op == "=~" and not any(re.fullmatch(value, v) for v in values):
            problems.append(f"{where}: no series of {sel.name} has a {label} matching {value!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrape", required=True)
    parser.add_argument("--external", default="", help="comma-separated metric names exported by others")
    parser.add_argument("--dashboard", action="append", default=[])
    parser.add_argument("--rules", action="append", default=[])
    args = parser.parse_args()

    external = {n for n in args.external.split(",") if n}
    samples = read_scrape(args.scrape)
    queries = [q for d in args.dashboard for q in dashboard_queries(d)]
    queries += [q for r in args.rules for q in rule_queries(r)]

    problems = []
    used = set()
    for where, expr in queries:
        try:
            found = selectors(expr)
        except ValueError as e:
            problems.append(f"{where}: {e}")
            continue
        for sel in found:
            if sel.name in external:
                continue
            used.add(sel.name)
            check_selector(where, sel, samples, problems)
    if not used:
        problems.append("no metric names found in the dashboards and rules")

    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(used)} brokerd metric names in {len(queries)} queries"
          f"{', all in the scrape' if not problems else f'; problems: {len(problems)}'}: {' '.join(sorted(used))}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
