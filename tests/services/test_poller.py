"""The poll loop behind every pane: never overlapping, backing off, pausing, resetting."""

from __future__ import annotations

import asyncio

from opsconsole.services.poller import Poller


async def _until(predicate, timeout=30.0):
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    assert predicate()


async def test_a_poke_during_a_fetch_polls_again_without_waiting_the_interval():
    release = asyncio.Event()
    calls = []

    async def fetch():
        calls.append(len(calls))
        if len(calls) == 1:
            await release.wait()
        return len(calls)

    poller = Poller(fetch, lambda r, s: None, lambda e, s: None, interval=3600)
    task = asyncio.create_task(poller.run())
    await _until(lambda: len(calls) == 1)
    poller.poke()          # arrives while the first fetch is in flight
    release.set()
    await _until(lambda: len(calls) == 2)  # the interval is an hour: only the poke explains it
    task.cancel()


async def test_reset_discards_what_the_old_fetch_answers():
    release = asyncio.Event()
    results, errors = [], []

    async def old():
        await release.wait()
        raise ConnectionError("old source down")

    async def new():
        return "new items"

    poller = Poller(old, lambda r, s: results.append(r), lambda e, s: errors.append(e), interval=3600)
    task = asyncio.create_task(poller.run())
    await asyncio.sleep(0.05)
    poller.reset(fetch=new)
    release.set()
    await _until(lambda: results == ["new items"])
    assert errors == [] and poller.status.failures == 0
    task.cancel()


async def test_errors_back_off_and_never_overlap():
    running = 0
    overlaps = []

    async def fetch():
        nonlocal running
        running += 1
        overlaps.append(running)
        await asyncio.sleep(0.01)
        running -= 1
        raise RuntimeError("down")

    poller = Poller(fetch, lambda r, s: None, lambda e, s: None, interval=0.01, max_backoff=0.08)
    delays = []
    poller.on_error = lambda e, s: delays.append(s.next_delay)
    task = asyncio.create_task(poller.run())
    await _until(lambda: len(delays) >= 5)
    task.cancel()
    assert max(overlaps) == 1
    assert delays[:4] == [0.02, 0.04, 0.08, 0.08]
    assert poller.status.stale and "RuntimeError: down" in poller.status.last_error


async def test_pause_stops_polling_until_resumed():
    calls = []

    async def fetch():
        calls.append(1)
        return None

    poller = Poller(fetch, lambda r, s: None, lambda e, s: None, interval=0.01)
    poller.pause()
    task = asyncio.create_task(poller.run())
    await asyncio.sleep(0.1)
    assert calls == []
    poller.resume()
    await _until(lambda: len(calls) >= 2)
    task.cancel()


async def test_a_live_source_is_fetched_when_it_changed_even_while_backing_off():
    """A watch-driven source says when its data changed: the pane fetches then, not after its
    interval (an hour here) nor after the backoff of a failure (the watch reconnected)."""
    changed = asyncio.Queue()
    calls = []

    async def fetch():
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("watch down")
        return len(calls)

    async def wait_changed():
        await changed.get()

    errors = []
    poller = Poller(fetch, lambda r, s: None, lambda e, s: errors.append(e), interval=3600, changed=wait_changed)
    task = asyncio.create_task(poller.run())
    await _until(lambda: len(calls) == 1)
    await asyncio.sleep(0.05)
    assert len(calls) == 1  # nothing changed: no fetch
    changed.put_nowait(1)
    await _until(lambda: len(calls) == 2 and errors)  # fetched at once; it failed: backing off an hour+
    changed.put_nowait(1)
    await _until(lambda: len(calls) == 3)  # the source recovered and said so
    assert poller.status.failures == 0
    task.cancel()
