"""The Hosts pane in the app (pilot): rows for three real sshd hosts, the drill-down to a host's
services, a service stopped through the action path (confirmed, audited), run-on-all whose
per-host output opens in a log tab, and ssh refused cleanly where the terminal cannot be handed
over."""

from __future__ import annotations

import pytest

from opsconsole.app import OpsConsole
from opsconsole.config.settings import parse_config
from opsconsole.domain.states import State
from opsconsole.services.context import Context
from opsconsole.ui.screens.confirm import ConfirmScreen
from opsconsole.ui.screens.json_input import JsonInputScreen
from opsconsole.ui.widgets.source_pane import SourcePane
from ui_helpers import wait_for

SIZE = (160, 45)


@pytest.fixture
def app_factory(peers, config_text, tmp_path):
    made: list[Context] = []

    def make() -> OpsConsole:
        config = parse_config('default_profile = "lab"\n' + config_text(), str(tmp_path / "config.toml"))
        ctx = Context.create(config, None, data_dir=tmp_path / "data")
        made.append(ctx)
        return OpsConsole(ctx)

    yield make
    for ctx in made:
        ctx.close()


def _pane(app) -> SourcePane:
    return app.screen.query_one("#pane-hosts", SourcePane)


def _keys(pane) -> list[str]:
    return [it.key for it in pane._shown]


async def _select(pilot, pane, key: str) -> None:
    await wait_for(pilot, lambda: key in _keys(pane), timeout=60)
    pane.table.move_cursor(row=_keys(pane).index(key))
    pane.table.focus()
    await pilot.pause()
    assert pane.selected.key == key


async def test_hosts_pane_drill_stop_and_run_on_all(peers, app_factory):
    for s in peers["sshds"]:
        s.start()
    sup = peers["supervisor"]
    sup.ctl("start", "trading-signal-bridge")
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        pane = _pane(app)
        await wait_for(pilot, lambda: _keys(pane) == ["trading-1", "vm2", "vm3"]
                       and all(it.cells["state"] == "up" for it in pane._shown), timeout=60)
        # host → sections → services
        await _select(pilot, pane, "trading-1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: _keys(pane) == ["services", "health", "logs", "runs"])
        await _select(pilot, pane, "services")
        await pilot.press("enter")
        await wait_for(pilot, lambda: _keys(pane) == list(sup.services))
        await wait_for(pilot, lambda: pane._shown[3].state is State.RUNNING, timeout=30)
        # stop one service: confirmed (Cancel is the default), run, audited
        await _select(pilot, pane, "trading-signal-bridge")
        await pilot.press("X")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.focused.id == "cancel"
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: pane._shown[3].state is State.STOPPED, timeout=60)
        await wait_for(pilot, lambda: app.context.ledger._query("SELECT 1 FROM action_audit"), timeout=30)
        audit = app.context.ledger._query("SELECT action, outcome, objects FROM action_audit")
        assert [tuple(r)[:2] for r in audit] == [("hosts.stop", "ok")] and "trading-1/trading-signal-bridge" in audit[0][2]
        # back to the hosts; run a command everywhere: its output opens in a log tab
        await pilot.press("escape")
        await pilot.press("escape")
        await wait_for(pilot, lambda: _keys(pane) == ["trading-1", "vm2", "vm3"])
        pane.table.focus()
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonInputScreen))
        editor = app.screen.query_one("TextArea")
        editor.text = '{"command": "echo ran-here", "hosts": ["trading-1", "vm2", "vm3"]}'
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: app.current_mode == "logs" and app.screen.query("LogView"), timeout=60)
        view = app.screen.query_one("LogView")
        await wait_for(pilot, lambda: view.line_count >= 8, timeout=30)
        text = "\n".join(view.line_text(n) for n in range(view.line_count))
        for host in ("trading-1", "vm2", "vm3"):
            assert f"=== {host} (127.0.0.1) exit 0" in text
        assert text.count("\nran-here\n") == 3  # each host's output once (and the command line)
        # ssh into a host: the headless test terminal cannot be handed over; said, never a crash
        app.action_show_screen("status")
        await wait_for(pilot, lambda: app.current_mode == "status")
        pane = _pane(app)
        await _select(pilot, pane, "vm2")
        await pilot.press("e")
        await wait_for(pilot, lambda: any(r[0] == "hosts.ssh" for r in app.context.ledger._query(
            "SELECT action, outcome, detail FROM action_audit")), timeout=30)
        row = [r for r in app.context.ledger._query("SELECT action, outcome, detail FROM action_audit")
               if r[0] == "hosts.ssh"][0]
        assert row[1] == "failed" and "cannot be handed over" in row[2]
