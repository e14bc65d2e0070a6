"""A poll loop per source: never overlaps itself, backs off on errors, can pause.

UI-agnostic: a screen runs `Poller.run()` in one of its workers and receives results and
errors through callbacks, then posts them as messages to its widgets."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Generic, TypeVar

T = TypeVar("T")


@dataclass
class PollStatus:
    """What a pane shows about its source's health."""

    last_ok: float | None = None
    last_error: str | None = None
    failures: int = 0
    next_delay: float = 0.0

    @property
    def stale(self) -> bool:
        return self.failures > 0


@dataclass
class Poller(Generic[T]):
    fetch: Callable[[], Awaitable[T]]
    on_result: Callable[[T, PollStatus], None]
    on_error: Callable[[BaseException, PollStatus], None]
    interval: float = 2.0
    max_backoff: float = 60.0
    status: PollStatus = field(default_factory=PollStatus)
    # A live source's "my data changed" (e.g. a watch event, or its watch reconnected): fetch
    # now rather than at the end of the interval or of the backoff.
    changed: Callable[[], Awaitable[None]] | None = None
    _resume: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _generation: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()
        self._wake.set()

    def poke(self) -> None:
        """Poll now rather than at the end of the current wait (e.g. after a launch)."""
        self._wake.set()

    def reset(self, fetch: Callable[[], Awaitable[T]] | None = None, interval: float | None = None) -> None:
        """Start afresh (a drill-down changed what is polled): a fetch still in flight is
        discarded, result or error, and the next poll starts at once with a clean status."""
        self._generation += 1
        if fetch is not None:
            self.fetch = fetch
        if interval is not None:
            self.interval = interval
        self.status = PollStatus()
        self._wake.set()

    def delay(self) -> float:
        """The wait before the next poll: the interval, doubled per consecutive failure."""
        if not self.status.failures:
            return self.interval
        return min(self.max_backoff, self.interval * 2 ** min(self.status.failures, 16))

    async def run(self) -> None:
        while True:
            await self._resume.wait()
            # cleared before the fetch: a poke that arrives during it polls again at once
            self._wake.clear()
            generation = self._generation
            try:
                result = await self.fetch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any backend error makes the source stale
                if generation != self._generation:
                    continue
                self.status.failures += 1
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                self.status.next_delay = self.delay()
                self.on_error(exc, self.status)
            else:
                if generation != self._generation:
                    continue
                self.status.failures = 0
                self.status.last_ok = time.time()
                self.status.next_delay = self.delay()
                self.on_result(result, self.status)
            await self._wait(self.status.next_delay)

    async def _wait(self, delay: float) -> None:
        """Until the next poll is due: `delay` passed, a poke, or the source changed."""
        if self.changed is None:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
            return
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(self.changed())]
        try:
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
