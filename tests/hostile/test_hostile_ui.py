"""Pilot tests of the hostile corpus: nothing raw reaches the rendered screen, and a
catastrophic regex search never keeps the kill-switch from arming."""

from __future__ import annotations

import asyncio
import time

import pytest
from hostile_corpus import CATASTROPHIC, CATASTROPHIC_LINE
from ui_helpers import wait_for

from textual import events

from opsconsole.logs.query import Query
from opsconsole.ui.screens.killswitch import KillSwitchModal
from opsconsole.ui.widgets.log_view import LogView


async def _press_and_time(app, key: str, done, timeout: float = 10.0) -> float:
    """Seconds from a key reaching the app to `done()`. Sent like `pilot.press` does, but
    without its wait for the process to go idle: a search thread keeps the CPU busy (with
    the GIL released), which is the point, and the pilot would wait out its one-second cap."""
    started = time.monotonic()
    event = events.Key(key, None)
    event.set_sender(app)
    app._driver.send_message(event)
    while not done():
        assert time.monotonic() - started < timeout, f"{key} had no effect within {timeout}s"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


@pytest.mark.parametrize("pattern", CATASTROPHIC[:2])
async def test_ctrl_k_arms_within_half_a_second_while_a_catastrophic_search_runs(make_app, tmp_path,
                                                                                  monkeypatch, pattern):
    monkeypatch.setenv("OPSCONSOLE_NO_RG", "1")  # the backtracking-capable engine, on purpose
    log = tmp_path / "slow.log"
    log.write_text("".join(f"{CATASTROPHIC_LINE}\n" if i % 3 == 0 else f"line {i}\n" for i in range(3000)))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_log(str(log))
        await wait_for(pilot, lambda: app.screen.query(LogView) and app.screen.query_one(LogView).document.indexed)
        view = app.screen.query_one(LogView)
        view.search(Query(pattern, regex=True))
        await pilot.pause(0.05)
        search = view.document.search
        assert search is not None and search.scanner == "python"
        running = not search.done
        armed = await _press_and_time(app, "ctrl+k", lambda: isinstance(app.screen, KillSwitchModal))
        assert armed < 0.5, f"ctrl+k took {armed:.2f}s to arm while the search ran"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, KillSwitchModal))
        # esc in the viewer cancels the search; it ends within a block's budget
        view.focus()
        await pilot.press("escape")
        assert view.query is None
        assert search.wait(5)
        if pattern == CATASTROPHIC[1]:
            assert running, "the catastrophic search should still have been running when ctrl+k was pressed"
