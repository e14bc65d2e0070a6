"""The kill-switch screens as an operator sees them: the armed modal lists what each step would
stop, the results tick while steps run and show every object in full, the header tells the
latch and the trouble even with a broken ledger, and an interrupted kill is offered again."""

from __future__ import annotations

import asyncio

from textual.widgets import Static
from ui_helpers import wait_for

from opsconsole.domain.kill import KillObject, KillStep, StepLog
from opsconsole.services import killplan
from opsconsole.ui.screens.killswitch import KillResultsScreen, KillSwitchModal

LONG_ID = "dag_with_a_really_long_identifier_for_testing/manual__2026-11-29T23:00:00.123456+00:00__" + "x" * 60


def _static_text(screen, selector: str) -> str:
    from textual.widgets import Static

    return str(screen.query_one(selector, Static).render())


async def test_armed_modal_lists_the_objects_and_results_tick_and_show_every_object_in_full(make_app, monkeypatch):
    go = asyncio.Event()

    async def slow(log: StepLog) -> str:
        log.acted("task", LONG_ID, "running on worker-1")
        await go.wait()
        log.confirmed("task", LONG_ID, "ended: state failed")
        return "1 task stopped"

    async def listing() -> list[KillObject]:
        return [KillObject("task", LONG_ID, reason="running")]

    def plan(context):
        return [KillStep("stop the tasks", "test", "stops the tasks", slow, deadline=30, targets=listing)]

    monkeypatch.setattr(killplan, "build_plan", plan)
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, KillSwitchModal) and app.screen.targets is not None)
        text = _static_text(app.screen, "#plan")
        assert "STOP RUNS" in text and "task dag_with_a_really_long_identifier" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, KillResultsScreen)
                    and "stop the tasks" in app.screen.results
                    and app.screen.results["stop the tasks"].log.objects)
        table = app.screen.query_one("#ks-table")
        first = str(table.get_cell("stop the tasks", "time"))
        await pilot.pause(0.6)
        second = str(table.get_cell("stop the tasks", "time"))
        assert first != second and second.endswith("s")  # TIME ticks while the step runs
        go.set()
        await wait_for(pilot, lambda: app.screen.report is not None)
        detail = _static_text(app.screen, "#ks-detail-text")
        assert LONG_ID in detail.replace("\n", "")  # the whole id, never cut
        assert "ended: state failed" in detail and "confirmed" in detail
        assert "HALTED" in _static_text(app.screen, "#ks-title")


async def test_with_a_broken_ledger_the_header_shows_halted_and_the_trouble(make_app, tmp_path, monkeypatch):
    async def fine(log: StepLog) -> str:
        return "ok"

    monkeypatch.setattr(killplan, "build_plan", lambda context: [KillStep("noop", "test", "noop", fine)])
    app = make_app()
    data = app.context.data_dir
    data.mkdir(parents=True, exist_ok=True)
    (data / "ledger.sqlite3").write_text("not a database\n")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.5)
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, KillSwitchModal))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, KillResultsScreen) and app.screen.report is not None
                    and "kill-journal.jsonl" in _static_text(app.screen, ".ks-summary"))  # after the audit writer
        summary = _static_text(app.screen, ".ks-summary")
        assert "ledger unusable" in summary and "kill-journal.jsonl" in summary
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.halted and "LEDGER BROKEN" in app.kill_notice)
        from opsconsole.ui.widgets.header import OpsHeader

        header = str(app.screen.query_one(OpsHeader).render())
        assert "HALTED" in header and "LEDGER BROKEN" in header and "AUDIT NOT IN LEDGER" in header


async def test_an_interrupted_kill_is_said_on_start_and_offered_again(make_app, monkeypatch):
    from opsconsole.services import halt

    async def fine(log: StepLog) -> str:
        return "ok"

    monkeypatch.setattr(killplan, "build_plan", lambda context: [KillStep("noop", "test", "noop", fine)])
    app = make_app()
    data = app.context.data_dir
    halt.set_latch_file(data, "kill-switch fired by bob (k-dead)", "bob", "k-dead")
    halt.mark_in_progress(data, {"kill_id": "k-dead", "pid": 2 ** 22 - 1, "proc_start": "1", "by": "bob",
                                 "started_at": "2026-11-29T22:00:00+00:00"})
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, KillSwitchModal))
        assert "k-dead" in app.screen.notice and "INTERRUPTED" in app.screen.notice
        assert app.halted and "KILL INTERRUPTED" in app.kill_notice
        await pilot.press("enter")  # fire again
        await wait_for(pilot, lambda: isinstance(app.screen, KillResultsScreen) and app.screen.report is not None)
        assert [m["kill_id"] for m in app.screen.report.interrupted] == ["k-dead"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: "KILL INTERRUPTED" not in app.kill_notice)


async def test_release_shows_the_reconciliation_before_the_operator_confirms(make_app):
    """After a kill, the release dialog lists what is still open (runs still alive, and each
    backend's open orders and balances) before the operator confirms; cancelling keeps HALTED."""
    from opsconsole.ui.screens.confirm import ConfirmScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        app.context.ledger.set_halt("test kill", "tester")
        app.refresh_halt()
        app.release_latch()
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = "\n".join(str(s.render()) for s in app.screen.query(Static))
        assert "runs still alive:" in body and "none" in body
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.context.ledger.halt_latch() is not None  # cancelled: still HALTED
