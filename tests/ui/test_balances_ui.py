"""The Balances screen driven by keys: runs' pre/post/P&L, snapshot history, the chart, the
per-asset detail and the execution report with its notes and export."""

from __future__ import annotations

from datetime import datetime, timezone

from textual.widgets import DataTable, Markdown, TextArea

from opsconsole.domain.balances import EXCHANGE, AssetBalance, BalanceSnapshot
from opsconsole.domain.models import RunSpec
from opsconsole.domain.states import State

from ui_helpers import wait_for

LOG = """INFO flatten_account: balance before run:
{'BTC': 0.5,
 'USDT': 6090.5617341}
# wall_clock_time=2023-10-05 07:40:00.078250-04:00: done waiting
WARNING broker slow fill
INFO run_notebooks: notebook https://notebooks.example.invalid/a.html
INFO flatten_account: balance after run:
{'BTC': 0.25,
 'USDT': 6102.2201}
"""


def _seed(app, tmp_path):
    ledger = app.context.ledger
    runs = []
    for i, text in enumerate((LOG, LOG.replace("6102.2201", "6000.0"), "no balances here\n")):
        log = tmp_path / f"run{i}.log"
        log.write_text(text)
        run = ledger.create_run(RunSpec(kind="local-sample", command=["x"], parameters={"steps": i},
                                        preset=f"seed-{i}", target="local"), state=State.RUNNING)
        runs.append(ledger.update_run(run.id, state=State.SUCCESS, log_path=str(log),
                                      started_at=datetime(2026, 11, 20 + i, 9, tzinfo=timezone.utc),
                                      ended_at=datetime(2026, 11, 20 + i, 11, tzinfo=timezone.utc)))
    for day, total in ((19, 5000.0), (22, 5100.0)):
        ledger.add_snapshot(BalanceSnapshot("binance-main", datetime(2026, 11, day, tzinfo=timezone.utc), "USDT",
                                            {"USDT": AssetBalance(total, 0, total)}, total, EXCHANGE))
    return runs


async def test_balances_runs_history_chart_detail_and_report(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        runs = _seed(app, tmp_path)
        await pilot.press("b")
        await wait_for(pilot, lambda: app.current_mode == "balances")
        screen = app.screen
        table = screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: len(table.rows) == 2)
        first = table.get_row(str(runs[0].id))
        assert first[4] == "6,090.56" and first[5] == "6,102.22" and str(first[6]) == "+11.66" and first[7] == "USDT"
        assert str(table.get_row(str(runs[1].id))[6]) == "-90.56"
        assert table.get_row_at(0)[0] == str(runs[1].id)  # newest first
        # per-asset detail of the selected run
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "AssetsScreen")
        detail = app.screen.query_one(DataTable)
        assert [str(c) for c in detail.get_row_at(0)] == ["BTC", "0.5", "0.25", "-0.25"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        # history: exchange snapshots and the runs' log snapshots, newest first
        await pilot.press("2")
        history = screen.query_one("#history", DataTable)
        await wait_for(pilot, lambda: len(history.rows) == 6)
        assert [str(c) for c in history.get_row_at(0)][1:3] == ["binance-main", "exchange"]
        await pilot.press("3")
        await wait_for(pilot, lambda: screen._chart_drawn)
        from textual_plotext import PlotextPlot

        assert screen.query_one(PlotextPlot).display
        # the report of the newest run: built, notes edited, exported
        await pilot.press("1")
        table.move_cursor(row=table.get_row_index(str(runs[0].id)))
        await pilot.press("e")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ReportScreen" and app.screen.markdown)
        report = app.screen
        assert "+11.6584 USDT" in report.markdown and "https://notebooks.example.invalid/a.html" in report.markdown
        assert "2023-10-05 11:40:00.078250 UTC" in report.markdown
        await pilot.press("e")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "NotesScreen")
        app.screen.query_one(TextArea).insert("slippage high on BTC")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is report and "slippage high on BTC" in report.markdown)
        assert app.context.ledger.get_report(runs[0].id)["notes"] == "slippage high on BTC"
        await pilot.press("x")
        exported = app.context.data_dir / "reports" / f"run-{runs[0].id}.md"
        await wait_for(pilot, lambda: exported.exists())
        assert exported.read_text().endswith("## Notes\n\nslippage high on BTC\n")
        assert report.query_one(Markdown) is not None
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
