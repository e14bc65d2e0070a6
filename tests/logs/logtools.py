"""Generated logs and a polling helper for the engine tests (no fixed sleeps: the CI box is slow)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Callable

LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARNING", "ERROR"]


def log_line(i: int, rng: random.Random) -> bytes:
    """One realistic line: python-logging, Airflow and glog styles, balance dicts, rare tokens."""
    second = i // 50
    stamp = f"2023-10-05 {7 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d},{i % 1000:03d}"
    kind = i % 7
    if kind == 0:
        text = f"[{stamp.replace(' ', 'T').replace(',', '.')}+0000] {{taskinstance.py:{i % 900}}} {rng.choice(LEVELS)} - task step {i}"
    elif kind == 1:
        text = f"{stamp} {rng.choice(LEVELS)} # wall_clock_time={stamp}: done waiting"
    elif kind == 2:
        text = f"{stamp} INFO balance {{'BTC': 0.0, 'USDT': {6090.5617341 + i:.7f}, 'ETH': 0.0}}"
    elif kind == 3 and i % 1001 == 3:
        text = f"{stamp} ERROR order rejected RARE_TOKEN_{i} for BTC/USDT"
    else:
        text = f"{stamp} {rng.choice(LEVELS)} hwcc.py:{i % 400} order_id={rng.randrange(10**9)} fill qty={rng.random():.4f}"
    return text.encode() + b"\n"


def write_log(path: Path, n_lines: int, seed: int = 7) -> list[bytes]:
    """Write `n_lines` lines to `path`; returns them (without newlines) for exact comparisons."""
    rng = random.Random(seed)
    lines = [log_line(i, rng) for i in range(n_lines)]
    path.write_bytes(b"".join(lines))
    return [line[:-1] for line in lines]


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `condition` until true; generous timeout so a loaded 2-core machine does not flake."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
