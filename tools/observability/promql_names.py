"""The series selectors of a PromQL expression: metric names and their label matchers.

Enough of PromQL for tools/check-observability.sh to see which metrics a
dashboard or a rule file reads; not a parser of the whole language. Grafana's
template variables ($topic, ${DS}, [$__rate_interval]) may appear anywhere a
value may, and Grafana's label_values(SELECTOR, LABEL) variable queries are
understood too.
"""

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<variable>\$\{[^}]*\}|\$\w+|\[\[\w+\]\])
  | (?P<number>\d[\w.]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<matchop>=~|!~|!=|==|=)
  | (?P<punct>[{}()\[\],])
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE)

# Words that are not metric names when they are not followed by "(".
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
             "bool", "inf", "nan", "atan2",
             # aggregations, which may be followed by "by (...)" before their "("
             "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
             "quantile"}
# Followed by a list of label names, not expressions.
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}


@dataclass
class Selector:
    name: str
    # (label, operator, value); value is None when it is a Grafana variable.
    matchers: list = field(default_factory=list)


def _tokens(expr):
    for m in _TOKEN.finditer(expr):
        kind = m.lastgroup
        if kind != "space":
            yield kind, m.group()


def _unquote(text):
    return text[1:-1]


def selectors(expr):
    """The selectors of EXPR, in order. Raises ValueError on unbalanced brackets."""
    label_values = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", expr, re.DOTALL)
    if label_values:
        found = selectors(label_values.group(1))
        for s in found:
            s.matchers.append((label_values.group(2), "has", None))
        return found
    if re.fullmatch(r"\s*label_values\(\s*\w+\s*\)\s*", expr):
        return []

    toks = list(_tokens(expr))
    found = []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "punct" and text == "[":
            i = _skip_to(toks, i, "[", "]")
        elif kind == "ident" and text in _LABEL_LISTS and nxt == ("punct", "("):
            i = _skip_to(toks, i + 1, "(", ")")
        elif kind == "ident" and nxt == ("punct", "("):
            i += 1  # a function or an aggregation
        elif kind == "ident" and text not in _KEYWORDS:
            sel = Selector(text)
            i += 1
            if i < len(toks) and toks[i] == ("punct", "{"):
                i = _read_matchers(toks, i, sel)
            found.append(sel)
        elif kind == "punct" and text == "{":
            raise ValueError(f"a selector without a metric name in {expr!r}")
        else:
            i += 1
    return found


def _skip_to(toks, i, open_, close):
    """The index after the bracket that closes the one at I."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j] == ("punct", open_):
            depth += 1
        elif toks[j] == ("punct", close):
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unbalanced '{open_}'")


def _read_matchers(toks, i, sel):
    """Reads {label op "value", ...} at I into SEL; returns the index after '}'."""
    i += 1
    while i < len(toks) and toks[i] != ("punct", "}"):
        if toks[i] == ("punct", ","):
            i += 1
            continue
        if i + 2 >= len(toks) or toks[i][0] != "ident" or toks[i + 1][0] != "matchop":
            raise ValueError(f"cannot read the matchers of {sel.name}")
        label, op, (vkind, vtext) = toks[i][1], toks[i + 1][1], toks[i + 2]
        value = _unquote(vtext) if vkind == "string" else None
        if value is not None and "$" in value:
            value = None
        sel.matchers.append((label, op, value))
        i += 3
    if i >= len(toks):
        raise ValueError(f"unbalanced '{{' after {sel.name}")
    return i + 1
