"""An exclusive, cross-process file lock (fcntl.flock) that never blocks the event loop.

The kill-switch takes it so a second ``fire`` -- from another window, or a headless
``opsconsole kill`` -- waits for the first instead of firing on top of it. The kernel drops the
lock when the holder dies, so a crashed holder never wedges the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path


class FileLock:
    """``async with FileLock(path): ...`` -- waits (in a thread) for the exclusive lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock now if nobody holds it (no thread, no wait); False otherwise. An
        unusable lock file raises OSError."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this FileLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._took(fd)
        return True

    async def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this FileLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:  # the usual case, nobody holds it: taken at once, no thread (a kill's first ms count)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        except BaseException:
            os.close(fd)
            raise
        else:
            self._took(fd)
            return
        # If we stop waiting (cancelled, timed out), the thread can't be interrupted: whichever
        # of it and us comes second closes the fd, which drops the lock -- loop or no loop.
        mutex = threading.Lock()
        state = {"abandoned": False, "acquired": False}

        def wait_for_lock() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            with mutex:
                if state["abandoned"]:
                    os.close(fd)
                else:
                    state["acquired"] = True

        try:
            await asyncio.to_thread(wait_for_lock)
        except BaseException:
            with mutex:
                state["abandoned"] = True
                if state["acquired"]:
                    os.close(fd)
            raise
        self._took(fd)

    def _took(self, fd: int) -> None:
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a curious operator
        except OSError:
            pass

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Blocking form, for code that is already off the event loop (opening the ledger)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the lock

    async def __aenter__(self) -> FileLock:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()
