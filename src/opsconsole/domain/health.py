"""Health rules over Prometheus metrics, as operators write them in seed 003's runbook:

    risk_circuit_breaker_active == 0
    market_data_websocket_connected{feed="alpaca"} == 1
    market_data_latency_seconds < 0.05
    latency < 250ms            # reserved: how long the /metrics request itself took

A rule is ``metric[{label="value",...}] OP number[unit]`` with OP one of == != < <= > >= and
an optional unit ``ms`` or ``s`` (``250ms`` is 0.25). Every sample matching the metric and its
labels must satisfy the rule; a metric that is absent fails ("absent"). Pure: the parsing of the
exposition text (prometheus_client's parser) happens in the backends, which hand
:func:`samples` the metric families.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Callable

LATENCY = "latency"  # the reserved pseudo-metric: the endpoint's response time in seconds

_OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
_RULE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_:][A-Za-z0-9_:]*)\s*(?P<labels>\{[^}]*\})?\s*(?P<op>==|!=|<=|>=|<|>)\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)\s*(?P<unit>ms|s)?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')

Samples = Mapping[str, list[tuple[dict[str, str], float]]]


@dataclass(frozen=True)
class Rule:
    text: str
    metric: str
    labels: tuple[tuple[str, str], ...]
    op: str
    value: float

    def holds(self, x: float) -> bool:
        return _OPS[self.op](x, self.value)


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    ok: bool
    value: float | None  # the offending sample's value (or the first one when all hold)
    detail: str          # "0", "absent", "3 samples, worst 1"

    @property
    def state(self) -> str:
        return "ok" if self.ok else "failing"


def parse_rule(text: str) -> Rule:
    """A rule from its text; ValueError with an example when it does not parse."""
    m = _RULE.match(text or "")
    if m is None:
        raise ValueError(f"{text!r}: expected a rule like 'risk_circuit_breaker_active == 0', "
                         f"'name{{label=\"v\"}} < 0.5' or 'latency < 250ms'")
    labels: list[tuple[str, str]] = []
    raw = (m["labels"] or "")[1:-1].strip()
    pos = 0
    while pos < len(raw):
        lm = _LABEL.match(raw, pos)
        if lm is None or lm.end() == pos:
            raise ValueError(f"{text!r}: bad label matcher at {raw[pos:]!r} (expected name=\"value\")")
        labels.append((lm[1], lm[2].replace('\\"', '"').replace("\\\\", "\\")))
        pos = lm.end()
    value = float(m["value"])
    if m["unit"] == "ms":
        value /= 1000.0
    if m["unit"] and m["metric"] != LATENCY and not m["metric"].endswith("_seconds"):
        raise ValueError(f"{text!r}: a unit (ms, s) only applies to latency or *_seconds metrics")
    return Rule(text.strip(), m["metric"], tuple(labels), m["op"], value)


def samples(families: Iterable[Any]) -> dict[str, list[tuple[dict[str, str], float]]]:
    """name → [(labels, value)] from metric families (prometheus_client's parser: each family
    has ``samples`` with ``name``, ``labels`` and ``value``). Sample names are kept as
    exposed (a counter's ``_total``, a histogram's ``_bucket``/``_sum``/``_count``)."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in families:
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def _fmt(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:g}"


def evaluate(rule: Rule, data: Samples, latency: float | None = None) -> RuleResult:
    """The rule against the samples (and the request's latency for the `latency` pseudo-metric)."""
    if rule.metric == LATENCY:
        if latency is None:
            return RuleResult(rule, False, None, "no response")
        ok = rule.holds(latency)
        return RuleResult(rule, ok, latency, f"{latency * 1000:.0f}ms")
    want = dict(rule.labels)
    found = [v for labels, v in data.get(rule.metric, []) if all(labels.get(k) == val for k, val in want.items())]
    if not found:
        return RuleResult(rule, False, None, "absent")
    bad = [v for v in found if not rule.holds(v)]
    value = bad[0] if bad else found[0]
    if len(found) == 1:
        return RuleResult(rule, not bad, value, _fmt(value))
    return RuleResult(rule, not bad, value, f"{len(found)} samples, {len(bad)} failing" + (f" (e.g. {_fmt(value)})" if bad else ""))


def evaluate_all(rules: Iterable[str], data: Samples, latency: float | None = None) -> list[RuleResult]:
    return [evaluate(parse_rule(text), data, latency) for text in rules]
