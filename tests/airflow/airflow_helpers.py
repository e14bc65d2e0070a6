"""Polling helpers for the Airflow tests (no fixed sleeps: Airflow's timing varies)."""

from __future__ import annotations

import asyncio
import time
import uuid


async def until(probe, timeout: float = 180.0, what: str = "condition", step: float = 0.5):
    """Await `probe()` (a coroutine function) until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(step)
    raise AssertionError(f"{what} not reached in {timeout:.0f}s (last: {last!r})")


def run_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def finished_run(client, dag_id: str, rid: str, timeout: float = 240.0):
    async def probe():
        run = await client.get_run(dag_id, rid)
        return run if run.state.final else None

    return await until(probe, timeout, f"run {dag_id}/{rid} finished")


async def running_task(client, dag_id: str, rid: str, task_id: str, timeout: float = 180.0):
    async def probe():
        ti = await client.get_task_instance(dag_id, rid, task_id)
        return ti if ti.raw_state == "running" else None

    return await until(probe, timeout, f"{dag_id}/{rid}/{task_id} running")
