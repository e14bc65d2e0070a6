"""Balances printed in run logs, like the `flatten_account` tasks of seed 000:

    {'BNB': 0.0,
     'USDT': 6090.5617341,
     'XRP': 0.0}

The first dict of a log is the pre-run balance, the last one the post-run balance."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_START = re.compile(r"\{\s*'[A-Za-z0-9_.-]+'\s*:\s*-?[0-9]")
_MAX_DICT = 64 * 1024


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


def parse_balance_dicts(text: str) -> list[dict[str, float]]:
    """Every `{'ASSET': number, ...}` dict in `text`, in order; other dicts are ignored."""
    found: list[dict[str, float]] = []
    for match in _START.finditer(text):
        end = text.find("}", match.start(), match.start() + _MAX_DICT)
        if end < 0:
            continue
        try:
            value = ast.literal_eval(text[match.start(): end + 1])
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, dict) and value and all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                for k, v in value.items()):
            found.append({k: float(v) for k, v in value.items()})
    return found


def balance_diff(dicts: list[dict[str, float]], quote: str = "USDT") -> BalanceDiff:
    """Pre-run balance = the first dict printed, post-run = the last (when there are two)."""
    pre = dicts[0] if dicts else None
    post = dicts[-1] if len(dicts) > 1 else None
    return BalanceDiff(pre, post, quote)
