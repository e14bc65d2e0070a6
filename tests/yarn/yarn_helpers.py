"""Waiting on spooled logs and pane sources in the YARN tests."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path


async def wait_for(predicate, what: str, timeout: float = 60.0, step: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:.0f}s")
        await asyncio.sleep(step)


def text_of(ref) -> str:
    path = Path(ref.path)
    return path.read_text(errors="replace") if path.exists() else ""


def last_tick(text: str) -> int:
    ticks = [int(line.split()[1]) for line in text.splitlines() if line.startswith("tick ")]
    return max(ticks) if ticks else 0
