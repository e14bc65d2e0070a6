"""The kill-switch's cross-process file lock."""

from __future__ import annotations

import asyncio
import fcntl
from pathlib import Path

import pytest

from opsconsole.services.lock import FileLock


async def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "kill.lock"
    async with FileLock(path) as first:
        assert first.held
        with open(path) as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(path) as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again


async def test_a_second_lock_waits_for_the_first(tmp_path: Path) -> None:
    path = tmp_path / "kill.lock"
    first = FileLock(path)
    await first.acquire()
    second = asyncio.create_task(FileLock(path).acquire())
    await asyncio.sleep(0.2)
    assert not second.done()  # waiting, and the event loop still runs
    first.release()
    await asyncio.wait_for(second, 30)


async def test_giving_up_on_the_lock_does_not_leak_it(tmp_path: Path) -> None:
    path = tmp_path / "kill.lock"
    holder = open(path, "w")
    fcntl.flock(holder, fcntl.LOCK_EX)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(FileLock(path).acquire(), 0.2)
    holder.close()  # the abandoned waiter takes the lock now, and must drop it at once
    again = FileLock(path)
    await asyncio.wait_for(again.acquire(), 30)
    assert again.held
    again.release()
