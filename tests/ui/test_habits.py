"""Habits operators bring (k9s, less): keys typed ahead of a dialog, table keys, q, esc..."""

from __future__ import annotations

import asyncio

from opsconsole.domain.actions import ActionCall
from opsconsole.ui.screens.confirm import ConfirmScreen
from opsconsole.ui.widgets.source_pane import SourcePane
from ui_helpers import wait_for


async def test_keys_typed_before_a_dialog_appears_never_reach_shortcuts(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status" and app.screen.query(SourcePane))
        pane = next(p for p in app.screen.query(SourcePane) if p.source.key == "local")
        pane.table.focus()
        stop = pane.source.actions[0]
        ran = []

        async def slow_prepare(action_id, item):
            await asyncio.sleep(0.8)  # a backend asking its server before the confirmation
            return ActionCall(stop, "Stop run 1?", "stops it", ["run 1"], lambda _: _ran(ran))

        pane.source.prepare = slow_prepare
        await pilot.press(*stop.keys.split(",")[0], "r", "n", "v")  # the action, then typed ahead
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=10)
        assert app.current_mode == "status"  # none of Runs, Launch, Logs was switched to
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert not ran
        await pilot.press("r")  # no dialog coming: the shortcuts work again
        await wait_for(pilot, lambda: app.current_mode == "runs")


async def _ran(ran: list) -> str:
    ran.append(1)
    return "stopped"
