"""The Airflow pane driven like an operator would, against a real Airflow 3: drill-down, filter,
describe, a big log through the viewer, clear, mark failed, read-only refusal, stale marker and
recovery. No timed asserts: every wait polls with a generous timeout."""

from __future__ import annotations

import pytest

from airflow_helpers import finished_run, run_id, running_task
from opsconsole.app import OpsConsole
from opsconsole.config.settings import parse_config
from opsconsole.domain.states import State
from opsconsole.services.context import Context
from opsconsole.ui.screens.confirm import ConfirmScreen
from opsconsole.ui.screens.describe import DescribeScreen
from opsconsole.ui.screens.json_input import JsonInputScreen as TriggerScreen
from opsconsole.ui.widgets.source_pane import SourcePane
from ui_helpers import wait_for

DEMO = "opsconsole_demo"
SIZE = (160, 45)


@pytest.fixture
def make_app(tmp_path, airflow3, monkeypatch):
    monkeypatch.setenv("OPSC_AF_USER", "admin")
    monkeypatch.setenv("OPSC_AF_PASS", "admin")
    made: list[Context] = []

    def _make(readonly: bool = False) -> OpsConsole:
        text = f"""
default_profile = "af"
[profiles.af]
environment = "TEST"
readonly = {str(readonly).lower()}
[profiles.af.airflow]
url = "{airflow3.url}"
username_env = "OPSC_AF_USER"
password_env = "OPSC_AF_PASS"
dags = ["opsconsole_*"]
tags = ["opsconsole"]
poll_interval = 1
"""
        config = parse_config(text, str(tmp_path / "config.toml"))
        ctx = Context.create(config, None, data_dir=tmp_path / f"data{len(made)}")
        made.append(ctx)
        return OpsConsole(ctx)

    yield _make
    for ctx in made:
        ctx.close()


@pytest.fixture
async def client(airflow3):
    from opsconsole.backends.airflow.client import AirflowClient, AirflowSettings

    c = AirflowClient(AirflowSettings(url=airflow3.url, username="admin", password="admin", timeout=60))
    yield c
    await c.aclose()


def _pane(app) -> SourcePane:
    return app.screen.query_one("#pane-airflow", SourcePane)


def _keys(pane) -> list[str]:
    return [it.key for it in pane._shown]


async def _select(pilot, pane, key: str) -> None:
    await wait_for(pilot, lambda: key in _keys(pane), timeout=120)
    pane.table.move_cursor(row=_keys(pane).index(key))
    pane.table.focus()
    await pilot.pause()
    assert pane.selected.key == key


async def _confirm(pilot, app) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    assert app.screen.focused.id == "cancel"  # Cancel is the default
    await pilot.click("#confirm")
    await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))


async def _drill_to_run(pilot, pane, rid: str) -> None:
    await _select(pilot, pane, DEMO)
    await pilot.press("enter")
    await wait_for(pilot, lambda: pane.source.level == "runs")
    await _select(pilot, pane, rid)
    await pilot.press("enter")
    await wait_for(pilot, lambda: pane.source.level == "tasks")


async def test_drill_filter_describe_and_big_log_through_the_viewer(make_app, airflow3, client):
    await client.set_paused(DEMO, False)
    rid = run_id("ui_big")
    # ≥ 50 MB once rendered: 210k lines of ~250 characters
    await client.trigger(DEMO, {"lines": 210000, "experiment": "x" * 200}, run_id=rid)
    await finished_run(client, DEMO, rid, timeout=400)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = _pane(app)
        await wait_for(pilot, lambda: {DEMO, "opsconsole_mapped"} <= set(_keys(pane)), timeout=120)
        assert "opsconsole_wide" not in _keys(pane)
        # filter, then clear it
        pane.table.focus()
        await pilot.press("slash", *"demo")
        await wait_for(pilot, lambda: _keys(pane) == [DEMO])
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: len(_keys(pane)) >= 2)
        # DAG → runs → task instances
        await _drill_to_run(pilot, pane, rid)
        await wait_for(pilot, lambda: set(_keys(pane)) == {"emit_lines#1", "bash_echo#1"}, timeout=60)
        row = pane._shown[_keys(pane).index("emit_lines#1")]
        assert row.state is State.SUCCESS and row.cells["host"]
        await _select(pilot, pane, "emit_lines#1")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DescribeScreen), timeout=60)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DescribeScreen))
        # the log: the pane says the server is preparing, then the viewer opens the spool
        await _select(pilot, pane, "emit_lines#1")
        await pilot.press("l")
        await wait_for(pilot, lambda: app.current_mode == "logs" and app.screen.query("LogView"), timeout=300)
        view = app.screen.query_one("LogView")
        job = next(iter(pane.source.session.spool._jobs.values()))
        await wait_for(pilot, lambda: job.state == "done", timeout=300)
        assert job.path.stat().st_size >= 50e6
        await wait_for(pilot, lambda: view.line_count >= 210000, timeout=120)

        def last_line_shown() -> bool:  # the engine may still be taking in the spool's last bytes
            last = [view.line_text(n) for n in range(max(0, view.line_count - 40), view.line_count)]
            return any("line 209999 experiment=" + "x" * 200 in line for line in last)

        await wait_for(pilot, last_line_shown, timeout=120)
        # back up the stack with escape
        app.action_show_screen("status")  # (`s` is the viewer's own key while it has the focus)
        await wait_for(pilot, lambda: app.current_mode == "status")
        pane = _pane(app)
        pane.table.focus()
        await pilot.press("escape")
        await wait_for(pilot, lambda: pane.source.level == "runs")
        await pilot.press("escape")
        await wait_for(pilot, lambda: pane.source.level == "dags")


async def test_clear_and_mark_failed_through_confirmations(make_app, airflow3, client):
    await client.set_paused(DEMO, False)
    done, long = run_id("ui_clear"), run_id("ui_long")
    await client.trigger(DEMO, {"lines": 10}, run_id=done)
    await finished_run(client, DEMO, done)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = _pane(app)
        await _drill_to_run(pilot, pane, done)
        await _select(pilot, pane, "emit_lines#1")
        # cancel first: nothing happens
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # Cancel has the focus
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert airflow3.ti(DEMO, done, "emit_lines")["try_number"] == 1
        # clear with downstream: both tasks run again, the pane shows both tries
        await pilot.press("c")
        await _confirm(pilot, app)
        await wait_for(pilot, lambda: {"emit_lines#2", "emit_lines#1", "bash_echo#2", "bash_echo#1"} <= set(_keys(pane)),
                       timeout=240)
        await wait_for(pilot, lambda: airflow3.ti(DEMO, done, "bash_echo").get("state") == "success", timeout=240)
        # mark a running run failed from the runs level
        await client.trigger(DEMO, {"lines": 100000, "sleep": 0.05}, run_id=long)
        await running_task(client, DEMO, long, "emit_lines")
        pane.table.focus()
        await pilot.press("escape")
        await wait_for(pilot, lambda: pane.source.level == "runs")
        await _select(pilot, pane, long)
        await pilot.press("F")
        await _confirm(pilot, app)
        await wait_for(pilot, lambda: airflow3.run_state(DEMO, long) == "failed", timeout=60)
        await wait_for(pilot, lambda: any(it.key == long and it.state is State.FAILED for it in pane._shown), timeout=60)
        # trigger through the conf editor: invalid JSON is refused, then a valid conf goes
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TriggerScreen), timeout=60)
        editor = app.screen
        assert editor.parsed() == {"lines": 3000}
        editor.query_one("TextArea").text = "{not json"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, TriggerScreen)
        editor.query_one("TextArea").text = '{"lines": 7, "experiment": "from-ui"}'
        await pilot.press("ctrl+s")
        await _confirm(pilot, app)
        await wait_for(pilot, lambda: any(it.cells.get("conf") == "lines=7 experiment=from-ui" for it in pane._shown),
                       timeout=60)
        # the trigger is a ledger run like any launch, and every action is in the audit
        ledger = app.context.ledger
        await wait_for(pilot, lambda: any(r.target == f"airflow:{DEMO}" and r.external_id
                                          for r in ledger.list_runs()), timeout=30)
        (run,) = [r for r in ledger.list_runs() if r.target == f"airflow:{DEMO}"]
        assert run.parameters == {"lines": 7, "experiment": "from-ui"} and run.kind == "airflow-trigger"
        audit = [(a["action"], a["outcome"]) for a in ledger.list_action_audit()]
        assert audit == [("airflow.clear", "cancelled"), ("airflow.clear", "ok"), ("airflow.mark_failed", "ok"),
                         ("airflow.trigger", "ok")]
        assert ledger.list_action_audit("airflow.trigger")[0]["objects"] == [DEMO]


async def test_halted_refuses_a_trigger_and_audits_the_refusal(make_app, airflow3, client):
    await client.set_paused(DEMO, False)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = _pane(app)
        ledger = app.context.ledger
        ledger.set_halt("test kill", "tester")
        runs_before = len(await client.list_runs(DEMO, limit=1000))
        await _select(pilot, pane, DEMO)
        await pilot.press("t")
        await wait_for(pilot, lambda: any("HALTED" in n.message for n in app._notifications), timeout=30)
        assert not isinstance(app.screen, (ConfirmScreen, TriggerScreen)) and app.current_mode == "status"
        (row,) = ledger.list_action_audit()
        assert (row["action"], row["outcome"], row["objects"]) == ("airflow.trigger", "refused", [DEMO])
        assert "HALTED" in row["detail"] and row["profile"] == "af"
        # stopping still works while halted: pausing is a change, not a launch
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=30)
        await pilot.press("escape")
    assert len(await client.list_runs(DEMO, limit=1000)) == runs_before
    assert not ledger_runs(app)


def ledger_runs(app):
    return app.context.ledger.list_runs()


async def test_read_only_profile_refuses_every_action(make_app, airflow3, client):
    await client.set_paused(DEMO, False)
    rid = run_id("ui_ro")
    await client.trigger(DEMO, {"lines": 10}, run_id=rid)
    await finished_run(client, DEMO, rid)
    app = make_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        pane = _pane(app)
        await _select(pilot, pane, DEMO)
        for key in ("p", "t"):
            await pilot.press(key)
            await pilot.pause(0.2)
            assert not isinstance(app.screen, (ConfirmScreen, TriggerScreen))
        await _drill_to_run(pilot, pane, rid)
        await _select(pilot, pane, "emit_lines#1")
        for key in ("c", "C", "F"):
            await pilot.press(key)
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmScreen)
        messages = [n.message for n in app._notifications]
        assert sum("read-only" in m for m in messages) == 5
    assert airflow3.ti(DEMO, rid, "emit_lines")["try_number"] == 1


async def test_stale_marker_when_server_stops_and_recovery(make_app, airflow3, client):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = _pane(app)
        await wait_for(pilot, lambda: DEMO in _keys(pane), timeout=120)
        airflow3.stop_api()
        try:
            await wait_for(pilot, lambda: pane.status.stale, timeout=120)
            title = str(pane._title())
            assert "STALE" in title and pane.status.last_error
            assert DEMO in _keys(pane)  # the last rows stay visible
        finally:
            airflow3.start_api()
        airflow3.wait_ready()
        await wait_for(pilot, lambda: not pane.status.stale, timeout=180)
        assert "STALE" not in str(pane._title())
