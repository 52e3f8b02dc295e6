"""Writes a dashboard's queries as a Prometheus rule file, for promtool to parse.

Usage: dashboard_as_rules.py DASHBOARD.json > RULES.yml; promtool check rules RULES.yml

promtool has no command that parses a bare PromQL expression, but it parses
every rule's. Each panel query becomes a recording rule, with Grafana's
variables replaced by values PromQL accepts where Grafana would put theirs:
an interval for $__interval and $__rate_interval, a regex for the others
(which the dashboard only uses inside =~ matchers). A label_values(...)
variable query contributes its selector.
"""

import json
import re
import sys

_INTERVALS = {"__interval", "__rate_interval", "__range"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")


def substitute(expr):
    def value(m):
        name = next(g for g in m.groups() if g)
        return "1m" if name in _INTERVALS else ".*"
    return _VARIABLE.sub(value, expr)


def queries(dashboard):
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            query = v.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query, re.DOTALL)
            if m:
                yield f"variable_{v['name']}", m.group(1)

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                yield f"panel_{p.get('id')}_{t.get('refId')}", t.get("expr", "")
            yield from walk(p.get("panels", []))

    yield from walk(dashboard.get("panels", []))


def main():
    if len(sys.argv) != 2:
        print("usage: dashboard_as_rules.py DASHBOARD.json", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        dashboard = json.load(f)
    rules = []
    for name, expr in queries(dashboard):
        # The rule's name says which query a promtool error is about; a JSON
        # string is a valid YAML scalar.
        rules.append(f"      - record: dashboard:{re.sub(r'[^A-Za-z0-9_]', '_', name)}\n"
                     f"        expr: {json.dumps(substitute(expr))}\n")
    sys.stdout.write("groups:\n  - name: dashboard\n    rules:\n" + "".join(rules))
    return 0


if __name__ == "__main__":
    sys.exit(main())
