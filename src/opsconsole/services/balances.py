"""Balances read out of run logs without reading a huge log whole: the pre-run dict from its
first bytes, the post-run dict from its last bytes."""

from __future__ import annotations

import os

from opsconsole.domain.balances import BalanceDiff, balance_diff, parse_balance_dicts

WINDOW = 256 * 1024


def log_balances(path: str, quote: str = "USDT", window: int = WINDOW) -> BalanceDiff:
    """Blocking (call it in a thread). A missing log gives an empty diff."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return BalanceDiff(None, None, quote)
    try:
        size = os.fstat(fd).st_size
        if size <= 2 * window:
            dicts = parse_balance_dicts(os.pread(fd, size, 0).decode("utf-8", "replace"))
        else:
            head = parse_balance_dicts(os.pread(fd, window, 0).decode("utf-8", "replace"))
            tail = parse_balance_dicts(os.pread(fd, window, size - window).decode("utf-8", "replace"))
            dicts = head[:1] + tail[-1:]
    finally:
        os.close(fd)
    return balance_diff(dicts, quote)
