"""Balances printed in run logs, like the `flatten_account` tasks of seed 000:

    {'BNB': 0.0,
     'USDT': 6090.5617341,
     'XRP': 0.0}

The first dict of a log is the pre-run balance, the last one the post-run balance."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

_START = re.compile(r"\{\s*'[A-Za-z0-9_.-]+'\s*:\s*-?[0-9]")


@dataclass(frozen=True)
class BalanceDiff:
    pre: dict[str, float] | None
    post: dict[str, float] | None
    quote: str = "USDT"

    @property
    def pre_quote(self) -> float | None:
        return None if self.pre is None else self.pre.get(self.quote)

    @property
    def post_quote(self) -> float | None:
        return None if self.post is None else self.post.get(self.quote)

    @property
    def pnl(self) -> float | None:
        if self.pre_quote is None or self.post_quote is None:
            return None
        return self.post_quote - self.pre_quote


# A log line's prefix, when a logger printed it: Airflow 3 rendered (`2026-11-29T22:51:36.40Z INFO
# task.stdout `), Airflow 2 (`[2024-01-02T03:04:05.678+0000] {logging_mixin.py:190} INFO - `),
# python logging (`2023-10-05 07:40:00,078 INFO  name: `). A printed dict spans lines, each
# prefixed, and other loggers' lines may land between its lines.
_PREFIX = re.compile(
    r"^(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)? +[A-Z]+ +\S+ "
    r"|\[[^\]]{10,40}\] +\{[^}]*\} +[A-Z]+ +- "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+ +[A-Z]+ +)")
_ENTRY = re.compile(r"^\s*'[A-Za-z0-9_.-]+'\s*:\s*-?[0-9][0-9.eE+-]*\s*,?\s*\}?\s*$")
_MAX_DICT_LINES = 2000


def _as_balances(text: str) -> dict[str, float] | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, dict) and value and all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for k, v in value.items()):
        return {k: float(v) for k, v in value.items()}
    return None


def parse_balance_lines(lines: "Iterable[str]") -> list[dict[str, float]]:
    """Every `{'ASSET': number, ...}` dict printed in `lines`, in order, also when each line of
    it carries a logger's prefix and other loggers' lines interleave; other dicts are ignored."""
    found: list[dict[str, float]] = []
    buf: list[str] | None = None
    for raw in lines:
        m = _PREFIX.match(raw)
        payload = raw[m.end():] if m else raw
        if buf is not None:
            if _ENTRY.match(payload):
                buf.append(payload)
                if payload.rstrip().endswith("}"):
                    value = _as_balances("".join(buf))
                    if value is not None:
                        found.append(value)
                    buf = None
                elif len(buf) > _MAX_DICT_LINES:
                    buf = None
                continue
            if m:  # another logger's line in the middle of the dict
                continue
            buf = None
        start = _START.search(payload)
        if start is None:
            continue
        head = payload[start.start():]
        end = head.find("}")
        if end >= 0:
            value = _as_balances(head[: end + 1])
            if value is not None:
                found.append(value)
            continue
        if _ENTRY.match(head[1:]):
            buf = [head]
    return found


def parse_balance_dicts(text: str) -> list[dict[str, float]]:
    """Every `{'ASSET': number, ...}` dict in `text`, in order; other dicts are ignored."""
    return parse_balance_lines(text.splitlines())


def balance_diff(dicts: list[dict[str, float]], quote: str = "USDT") -> BalanceDiff:
    """Pre-run balance = the first dict printed, post-run = the last (when there are two)."""
    pre = dicts[0] if dicts else None
    post = dicts[-1] if len(dicts) > 1 else None
    return BalanceDiff(pre, post, quote)


# --- snapshots ---------------------------------------------------------------------------------
# Where a snapshot came from, and what it is to a run.
EXCHANGE, LOG = "exchange", "log"
PRE, POST, MANUAL = "pre", "post", "manual"


@dataclass(frozen=True)
class AssetBalance:
    free: float
    used: float
    total: float


@dataclass(frozen=True)
class BalanceSnapshot:
    """One account's balances at one moment: from the exchange (free/used/total per asset and
    the total valued in the quote currency) or parsed from a run's log (a flatten_account dict:
    the quote total is the quote currency's own amount, as the runbook reads it)."""

    account: str
    taken_at: datetime
    quote: str
    assets: dict[str, AssetBalance]
    quote_total: float | None
    source: str = EXCHANGE
    role: str = MANUAL
    run_id: int | None = None
    unpriced: tuple[str, ...] = ()  # assets held with no market to the quote currency
    id: int | None = None
    detail: str = ""

    @classmethod
    def from_log_dict(cls, values: dict[str, float], *, account: str, taken_at: datetime, quote: str,
                      role: str, run_id: int | None, detail: str = "") -> "BalanceSnapshot":
        assets = {k: AssetBalance(v, 0.0, v) for k, v in values.items()}
        return cls(account, taken_at, quote, assets, values.get(quote), LOG, role, run_id, detail=detail)

    def totals(self) -> dict[str, float]:
        return {k: v.total for k, v in self.assets.items()}


@dataclass(frozen=True)
class RunBalance:
    """A run's pre/post snapshots (exchange ones win over log ones) and its P&L in the quote
    currency."""

    run_id: int
    pre: BalanceSnapshot | None = None
    post: BalanceSnapshot | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def quote(self) -> str:
        snap = self.pre or self.post
        return snap.quote if snap else "USDT"

    @property
    def pnl(self) -> float | None:
        if self.pre is None or self.post is None or self.pre.quote_total is None or self.post.quote_total is None:
            return None
        return self.post.quote_total - self.pre.quote_total


def asset_changes(pre: BalanceSnapshot | None, post: BalanceSnapshot | None) -> list[tuple[str, float | None, float | None, float | None]]:
    """(asset, pre total, post total, change) for every asset in either snapshot, sorted."""
    a = pre.totals() if pre else {}
    b = post.totals() if post else {}
    out = []
    for asset in sorted(set(a) | set(b)):
        x, y = a.get(asset), b.get(asset)
        out.append((asset, x, y, None if x is None or y is None else y - x))
    return out
