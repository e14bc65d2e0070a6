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


async def test_tables_move_with_j_k_g_G_home_end(make_app):
    from opsconsole.ui.screens.runs import RunsScreen

    app = make_app()
    for n in range(6):
        from opsconsole.domain.models import RunSpec

        app.context.ledger.create_run(RunSpec(kind="local-sample", preset="p", command=["true"],
                                              parameters={"seed": n}))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.pane.items) == 6)
        table = app.screen.pane.table
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == 5
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == 5
        await pilot.press("home")
        assert table.cursor_row == 0
        # marked runs are shown in the table, not only said in a toast
        await pilot.press("space")
        await pilot.pause()
        first = app.screen.pane._column_keys[0]
        key = app.screen.pane._shown[0].key
        assert str(table.get_cell(key, first)).startswith("● ")
        await pilot.press("k", "space")  # unmark
        await pilot.pause()
        assert not str(table.get_cell(key, first)).startswith("● ")


async def test_q_closes_the_log_and_esc_leaves_a_form_field(make_app, tmp_path):
    from textual.widgets import Input

    from opsconsole.ui.screens.launch import LaunchScreen

    log = tmp_path / "x.log"
    log.write_text("one\ntwo\n")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_log(str(log))
        await wait_for(pilot, lambda: app.current_mode == "logs" and type(app.focused).__name__ == "LogView")
        await pilot.press("q")  # less: q closes the log, not the app
        await wait_for(pilot, lambda: app.screen.tabs.tab_count == 0)
        assert app.is_running
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.fields)
        field = app.screen.fields[0].query(Input)
        field = field.first() if field else app.screen.query_one("#field-steps Input")
        field.focus()
        await pilot.press("escape")
        assert app.focused is app.screen.query_one("#presets")
        await pilot.press("s")  # out of the field, keys are shortcuts again
        await wait_for(pilot, lambda: app.current_mode == "status")


async def test_quit_asks_when_runs_are_attached_and_dialogs_dim_the_screen_behind(make_app):
    from opsconsole.domain.models import RunSpec
    from opsconsole.domain.states import State

    app = make_app()
    run = app.context.ledger.create_run(RunSpec(kind="local-sample", preset="p", command=["true"]))
    app.context.ledger.update_run(run.id, state=State.RUNNING)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen._title == "Quit with runs attached?" and f"Run {run.id} is running here" in app.screen._body
        background = app.screen.styles.background
        assert background.a < 1.0  # the screen behind stays visible, dimmed
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.is_running
