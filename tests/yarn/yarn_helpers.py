"""Waiting on spooled logs and pane sources in the YARN tests."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from opsconsole.backends.base import SessionEnv
from opsconsole.domain.models import utcnow


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


def open_session(settings_table: dict, data_dir: Path, kill_deadline: float = 30.0):
    from opsconsole.backends.yarn import BACKEND

    def no_store():
        raise RuntimeError("no ledger in these tests")

    env = SessionEnv(profile="t", environment="", readonly=False, settings=BACKEND.settings(settings_table),
                     store=no_store, data_dir=data_dir, clock=utcnow, kill_deadline=kill_deadline)
    return BACKEND.open(env)
