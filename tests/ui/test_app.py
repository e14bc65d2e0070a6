"""The app driven like an operator would: keys, the palette, launch, the kill-switch."""

from __future__ import annotations

import asyncio
import os

from textual.widgets import DataTable

from opsconsole.domain.states import State
from opsconsole.services import killplan
from opsconsole.services.killswitch import KillStep
from opsconsole.ui.screens.help import HelpScreen
from opsconsole.ui.screens.killswitch import KillResultsScreen, KillSwitchModal
from opsconsole.ui.widgets.source_pane import SourcePane

from ui_helpers import wait_for, write_fast_preset


def _runs(app):
    return app.context.ledger.list_runs()


async def _launch_first_preset(pilot, app, name="fast-sample"):
    await pilot.press("n")
    await wait_for(pilot, lambda: app.current_mode == "launch" and app.screen.catalog.presets)
    screen = app.screen
    idx = [p.name for p in screen.catalog.presets].index(name)
    screen.query_one("#presets").highlighted = idx
    await wait_for(pilot, lambda: screen.preset is not None and screen.preset.name == name and screen.plan is not None)
    await pilot.press("ctrl+l")


async def test_screens_switch_by_key(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        for key, mode in [("v", "logs"), ("n", "launch"), ("r", "runs"), ("b", "balances"), ("s", "status")]:
            await pilot.press(key)
            await wait_for(pilot, lambda: app.current_mode == mode)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = {row[3]: row[0] for row in app.screen.rows}
        assert rows["app.killswitch"] == "ctrl+k" and rows["app.runs"] == "r"
        assert set(rows) >= {"app.status", "app.logs", "app.launch", "app.balances", "app.help", "pane.filter",
                             "airflow.clear", "logview.search", "logview.follow"}
        assert rows["logview.save"] == "S"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_screens_switch_by_palette(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Screen: Runs")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "runs")


async def test_remapped_key_from_config(make_app):
    app = make_app('[keys]\n"app.runs" = "f9"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        await pilot.press("f9")
        await wait_for(pilot, lambda: app.current_mode == "runs")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert {row[3]: row[0] for row in app.screen.rows}["app.runs"] == "f9"


async def test_launch_runs_shows_in_status_then_succeeds_in_runs_and_log(make_app):
    write_fast_preset(steps=20, interval=0.1)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _launch_first_preset(pilot, app)
        await wait_for(pilot, lambda: len(_runs(app)) == 1)
        await wait_for(pilot, lambda: app.current_mode == "status")
        pane = app.screen.query_one(SourcePane)
        await wait_for(pilot, lambda: any(it.state == State.RUNNING for it in pane.items))
        table = pane.query_one(DataTable)
        assert "running" in str(table.get_row_at(0)[1])
        # the new run is selected and its log follows in the tail as soon as it exists
        run = _runs(app)[0]
        await wait_for(pilot, lambda: [str(v.path) for v in app.screen.query("#tail LogView")]
                       == [_runs(app)[0].log_path])
        # its log follows in Logs
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "logs" and app.screen.tabs.tab_count == 1)
        run = _runs(app)[0]
        await wait_for(pilot, lambda: _runs(app)[0].state == State.SUCCESS, timeout=60)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs")
        runs_pane = app.screen.query_one(SourcePane)
        await wait_for(pilot, lambda: runs_pane.items and runs_pane.items[0].state == State.SUCCESS)
        assert runs_pane.items[0].key == str(run.id)
        assert "done waiting" in open(run.log_path).read()


async def test_killswitch_arm_cancel_then_fire_stops_runs_and_latches(make_app, monkeypatch):
    write_fast_preset(steps=2000, interval=0.1)
    real_plan = killplan.build_plan

    def plan_with_hanging_step(context):
        async def hang(log):
            await asyncio.sleep(3600)

        return real_plan(context) + [KillStep("hangs", "test", "never returns", hang, deadline=0.5)]

    monkeypatch.setattr(killplan, "build_plan", plan_with_hanging_step)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _launch_first_preset(pilot, app)
        await wait_for(pilot, lambda: _runs(app) and _runs(app)[0].state == State.RUNNING and _runs(app)[0].pid)
        pid = _runs(app)[0].pid
        # arm, then cancel: nothing happens
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, KillSwitchModal))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, KillSwitchModal))
        assert app.context.ledger.halt_latch() is None
        assert _runs(app)[0].state == State.RUNNING
        # arm, then the same key again fires
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, KillSwitchModal))
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, KillResultsScreen))
        results = app.screen
        await wait_for(pilot, lambda: results.report is not None, timeout=60)
        outcomes = {r.name: r.outcome for r in results.report.results}
        assert outcomes["hangs"] == "unknown"
        assert outcomes["stop local runs"] == "ok"
        assert not results.report.ok
        assert app.context.ledger.halt_latch() is not None
        await wait_for(pilot, lambda: _runs(app)[0].state == State.STOPPED)
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive
        events = [(a["event"], a["step"]) for a in app.context.ledger.list_audit(results.report.kill_id)]
        assert events[0][0] == "fired"
        for step in ("stop local runs", "hangs"):
            assert ("step_start", step) in events and ("step_end", step) in events
        table_outcomes = [str(results.query_one(DataTable).get_row(k)[2]) for k in ("stop local runs", "hangs")]
        assert table_outcomes == ["ok", "unknown"]
        await pilot.press("escape")
        # the latch refuses launches until released
        await _launch_first_preset(pilot, app)
        await pilot.pause(0.3)
        assert len(_runs(app)) == 1
        assert app.halted
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs")
        await pilot.press("R")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: app.context.ledger.halt_latch() is None)
        await _launch_first_preset(pilot, app)
        await wait_for(pilot, lambda: len(_runs(app)) == 2)
        await pilot.press("ctrl+k", "enter")
        await wait_for(pilot, lambda: _runs(app)[0].state.final, timeout=60)


async def test_readonly_profile_refuses_killswitch_and_launch(make_app):
    write_fast_preset()
    app = make_app('[profiles.prod]\nenvironment = "PROD"\nreadonly = true\n', profile="prod")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        await pilot.press("ctrl+k")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, KillSwitchModal)
        assert any("read-only" in str(n.message) for n in app._notifications)
        await _launch_first_preset(pilot, app)
        await pilot.pause(0.3)
        assert _runs(app) == []
        assert app.context.ledger.halt_latch() is None
        assert app.context.ledger.list_audit() == []


async def test_status_pane_filter_sort_maximise_and_describe(make_app):
    write_fast_preset(steps=1, interval=0.01)
    write_fast_preset(steps=1, interval=0.01, fail=True, name="failing")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _launch_first_preset(pilot, app)
        await wait_for(pilot, lambda: len(_runs(app)) == 1 and _runs(app)[0].state.final, timeout=60)
        await _launch_first_preset(pilot, app, name="failing")
        await wait_for(pilot, lambda: len(_runs(app)) == 2 and _runs(app)[0].state.final, timeout=60)
        await pilot.press("s")
        pane = app.screen.query_one(SourcePane)
        await wait_for(pilot, lambda: len(pane._shown) == 2 and all(i.state.final for i in pane.items))
        await pilot.press("slash", *"failed", "enter")
        await wait_for(pilot, lambda: [i.cells["preset"] for i in pane._shown] == ["failing"])
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(pane._shown) == 2)
        await pilot.press("o")  # sort by first column (id) ascending
        await wait_for(pilot, lambda: [i.cells["id"] for i in pane._shown] == [1, 2])
        await pilot.press("O")
        await wait_for(pilot, lambda: [i.cells["id"] for i in pane._shown] == [2, 1])
        await pilot.press("z")
        assert app.screen.has_class("maximised")
        assert not app.screen.query_one("#tail").display or app.screen.query_one("#tail").styles.display == "none"
        await pilot.press("z")
        assert not app.screen.has_class("maximised")
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "DescribeScreen")
        await pilot.press("escape")


async def test_quit_is_refused_while_the_kill_switch_fires(make_app, monkeypatch):
    release = asyncio.Event()

    def plan(context):
        async def slow(log):
            await release.wait()
            return "stopped"

        return [KillStep("slow", "test", "waits", slow, deadline=30)]

    monkeypatch.setattr(killplan, "build_plan", plan)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, KillSwitchModal))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, KillResultsScreen))
        await pilot.press("escape", "q")
        await wait_for(pilot, lambda: any("still firing" in str(n.message) for n in app._notifications))
        assert not app._kill_task.done()  # the fire goes on
        release.set()
        await wait_for(pilot, lambda: app._kill_task.done())
        assert [a["event"] for a in app.context.ledger.list_audit()][-1] == "done"
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit)


CROWDED = ('[profiles.three.airflow]\nurl = "http://127.0.0.1:9"\nusername_env = "OPSC_NO_USER"\n'
           'password_env = "OPSC_NO_PASS"\n[profiles.three.yarn]\nurl = "http://127.0.0.1:9"\n')


async def test_too_many_panes_for_the_height_show_one_at_a_time_with_a_bar_naming_all(make_app):
    """80x24 with three panes (local runs, an Airflow and a YARN, both down): one pane at a
    time, full height, and a bar naming every pane; tab and the pane's number switch. With
    the room for them (200x50) every pane shows and the bar does not."""
    app = make_app(CROWDED, profile="three")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        screen = app.screen
        panes = list(screen.query(SourcePane))
        assert len(panes) == 3 and screen.has_class("crowded")
        await pilot.pause()
        assert [p.display for p in panes] == [True, False, False] and panes[0].size.height >= 10
        bar = str(screen.query_one("#pane-bar").render())
        assert all(f"{n} {p.source.title}" in bar for n, p in enumerate(panes, start=1))
        await pilot.press("tab")
        await wait_for(pilot, lambda: [p.display for p in panes] == [False, True, False])
        assert SourcePane.containing(app.focused) is panes[1]
        await pilot.press("3")
        await wait_for(pilot, lambda: [p.display for p in panes] == [False, False, True])
        assert SourcePane.containing(app.focused) is panes[2]
        await pilot.resize_terminal(200, 50)
        await wait_for(pilot, lambda: not screen.has_class("crowded"))
        await pilot.pause()
        assert all(p.display for p in panes) and not screen.query_one("#pane-bar").display
