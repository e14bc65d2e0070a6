"""The RM goes away and comes back: the pane's fetch fails fast (a timeout, never a hang), the
poller marks the source stale and backs off, and the rows come back once the RM is up again.
(Runs last among the YARN tests: a restarted RM has forgotten every application.)"""

from __future__ import annotations

import asyncio

from yarn_helpers import open_session, wait_for

from opsconsole.backends.yarn.client import YarnError
from opsconsole.services.poller import Poller


async def test_the_rm_down_and_back(yarn, sleeper, tmp_path):
    session = open_session({"url": yarn.rm_url, "timeout": 3}, tmp_path)
    (source,) = session.sources()
    results: list[list] = []
    errors: list[str] = []
    poller = Poller(source.fetch, lambda items, status: results.append(items),
                    lambda exc, status: errors.append(str(exc)), interval=0.5, max_backoff=2.0)
    task = asyncio.create_task(poller.run())
    try:
        await wait_for(lambda: results and any(i.key == sleeper for i in results[-1]), "the first rows")
        yarn.stop_rm()
        try:
            await source.fetch()
        except YarnError as exc:
            assert exc.status == 0 and f"{yarn.rm_url.split('://')[1]} unreachable" in str(exc)
        else:
            raise AssertionError("fetch succeeded with the RM down")
        await wait_for(lambda: poller.status.failures >= 2, "the source going stale", timeout=20)
        assert poller.status.stale and poller.status.next_delay > 0.5  # backing off
        n_results = len(results)

        yarn.start_rm()
        await asyncio.to_thread(yarn.wait_ready, 240)
        await wait_for(lambda: poller.status.failures == 0 and len(results) > n_results, "rows again", timeout=60)
        assert not poller.status.stale
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await session.aclose()
