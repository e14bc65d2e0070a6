"""The YARN pane in the app (Textual pilot), against the real RM: the application's row, the
drill-down to its containers with the driver marked, the kill's confirmation (cancelled: the
sleeper lives on for the other tests)."""

from __future__ import annotations

from ui_helpers import wait_for

from opsconsole.app import OpsConsole
from opsconsole.config.settings import parse_config
from opsconsole.services.context import Context
from opsconsole.ui.screens.confirm import ConfirmScreen
from opsconsole.ui.widgets.source_pane import SourcePane


async def test_the_yarn_pane_lists_drills_and_asks_before_a_kill(yarn, sleeper, tmp_path):
    text = f'default_profile = "y"\n[profiles.y]\nenvironment = "TEST"\n[profiles.y.yarn]\nurl = "{yarn.rm_url}"\npoll_interval = 1\n'
    ctx = Context.create(parse_config(text, str(tmp_path / "config.toml")), None, data_dir=tmp_path / "data")
    app = OpsConsole(ctx)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            pane = app.screen.query_one("#pane-yarn", SourcePane)
            await wait_for(pilot, lambda: sleeper in [it.key for it in pane._shown], timeout=60)
            keys = [it.key for it in pane._shown]
            pane.table.move_cursor(row=keys.index(sleeper))
            pane.table.focus()
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: pane.source.key == "yarn.attempts" and pane._shown)
            await pilot.press("enter")
            await wait_for(pilot, lambda: pane.source.key == "yarn.containers" and len(pane._shown) == 2)
            assert [it.cells["role"] for it in pane._shown] == ["driver", ""]
            await pilot.press("X")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert app.screen.focused.id == "cancel"  # Cancel is the default
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert yarn.app(sleeper)["state"] == "RUNNING"
            (row,) = ctx.ledger.list_action_audit()
            assert (row["action"], row["outcome"], row["objects"]) == ("yarn.kill", "cancelled", [sleeper])
    finally:
        ctx.close()
