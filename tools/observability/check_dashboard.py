"""Checks that a Grafana dashboard JSON (as exported for sharing) is whole.

Usage: check_dashboard.py DASHBOARD.json

- every datasource is Prometheus, through one of the dashboard's __inputs
  (${DS_PROMETHEUS}) or a datasource variable, so that an import asks for it;
- every $variable a query, legend or title uses is a templating variable
  defined before it is used, or one of Grafana's built-ins;
- panel ids are unique and panels fit the 24-column grid;
- every query is PromQL whose brackets balance (promql_names reads it).
Prints each problem and exits 1 if there is one.
"""

import json
import re
import sys

from promql_names import selectors

# Grafana's global variables (https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/).
_BUILTINS = {"__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s",
             "__range_ms", "__from", "__to", "__dashboard", "__org", "__user", "__name", "__timeFilter", "timeFilter",
             "__all"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")


def _variables_in(text):
    return [next(g for g in m.groups() if g) for m in _VARIABLE.finditer(text)]


def _panels(panels):
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def _check_datasource(where, ds, inputs, datasource_vars, problems):
    if not isinstance(ds, dict):
        problems.append(f"{where}: datasource {ds!r} is not an object with type and uid")
        return
    if ds.get("type") == "grafana":
        return  # Grafana's own annotations
    if ds.get("type") != "prometheus":
        problems.append(f"{where}: datasource type {ds.get('type')!r}, expected 'prometheus'")
    names = _variables_in(ds.get("uid", ""))
    if len(names) != 1 or names[0] not in inputs | datasource_vars:
        problems.append(f"{where}: datasource uid {ds.get('uid')!r} is neither an __inputs entry "
                        f"({', '.join(sorted(inputs)) or 'none'}) nor a datasource variable")


def _check_text(where, text, known, problems):
    for name in _variables_in(text):
        if name not in known and name not in _BUILTINS:
            problems.append(f"{where}: ${name} is not a templating variable defined before it")


def _check_query(where, expr, problems):
    try:
        if not selectors(expr):
            problems.append(f"{where}: the query reads no metric: {expr!r}")
    except ValueError as e:
        problems.append(f"{where}: {e}")


def check(dashboard):
    problems = []
    inputs = {i["name"] for i in dashboard.get("__inputs", []) if i.get("type") == "datasource"}
    variables = dashboard.get("templating", {}).get("list", [])
    datasource_vars = {v["name"] for v in variables if v.get("type") == "datasource"}

    known = set()
    for v in variables:
        where = f"variable ${v.get('name')}"
        if v.get("type") == "query":
            _check_datasource(where, v.get("datasource"), inputs, datasource_vars, problems)
            query = v.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            _check_text(where, query, known, problems)
            _check_query(where, query, problems)
        known.add(v.get("name"))

    ids = set()
    for p in _panels(dashboard.get("panels", [])):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            problems.append(f"{where}: id used twice")
        ids.add(p.get("id"))
        grid = p.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(f"{where}: wider than the 24-column grid ({grid})")
        _check_text(where, p.get("title", ""), known, problems)
        if p.get("type") == "row":
            continue
        _check_datasource(where, p.get("datasource"), inputs, datasource_vars, problems)
        targets = p.get("targets", [])
        if not targets:
            problems.append(f"{where}: no queries")
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids):
            problems.append(f"{where}: refIds {ref_ids} repeat")
        for t in targets:
            twhere = f"{where} query {t.get('refId')}"
            _check_datasource(twhere, t.get("datasource", p.get("datasource")), inputs, datasource_vars, problems)
            _check_text(twhere, t.get("expr", ""), known, problems)
            _check_text(twhere, t.get("legendFormat", ""), known, problems)
            _check_query(twhere, t.get("expr", ""), problems)
    for a in dashboard.get("annotations", {}).get("list", []):
        _check_datasource(f"annotation {a.get('name')!r}", a.get("datasource"), inputs, datasource_vars, problems)
    return problems


def main():
    if len(sys.argv) != 2:
        print("usage: check_dashboard.py DASHBOARD.json", file=sys.stderr)
        return 2
    path = sys.argv[1]
    try:
        with open(path) as f:
            dashboard = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 1
    problems = check(dashboard)
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
