"""Balances: per run pre/post balance and P&L in the quote currency (exchange snapshots, or the
flatten_account dicts of the run's logs wherever the run ran), every snapshot per account, and
a chart of each account's quote total over time with the runs marked.

Keys: 1 runs · 2 history · 3 chart · enter the assets of the selected run or snapshot ·
e the selected run's execution report (notes editable, export to a file)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, DataTable, Footer, Static

from opsconsole.domain.balances import RunBalance, asset_changes
from opsconsole.ui.bindings import bindings
from opsconsole.ui.screens.base import OpsScreen

if TYPE_CHECKING:
    from opsconsole.domain.balances import BalanceSnapshot
    from opsconsole.domain.models import RunRecord

RUNS_SHOWN = 200
LOADS_AT_ONCE = 4


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if value else ""


def _safe(text: str) -> Text:
    """Outside text as plain text (no markup), control characters visible."""
    return Text("".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text))


class BalancesScreen(OpsScreen):
    TITLE_TEXT = "Balances"
    BINDINGS = bindings("balances")
    DEFAULT_CSS = """
    BalancesScreen #note { height: auto; padding: 0 1; color: $text-muted; }
    BalancesScreen ContentSwitcher { height: 1fr; }
    BalancesScreen DataTable { height: 1fr; }
    BalancesScreen #chart-box { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(id="balances")
        self.balances: dict[int, RunBalance] = {}
        self.runs: dict[int, RunRecord] = {}
        self.snapshots: list[BalanceSnapshot] = []
        self._service: Any = None
        self._chart_drawn = False

    def compose(self) -> ComposeResult:
        yield Static("Reading balances…", id="note")
        with ContentSwitcher(initial="runs"):
            runs: DataTable = DataTable(cursor_type="row", id="runs")
            runs.add_column("RUN", key="run")
            runs.add_column("PRESET", key="preset")
            runs.add_column("STATE", key="state")
            runs.add_column("ENDED (UTC)", key="ended")
            runs.add_column("PRE", key="pre")
            runs.add_column("POST", key="post")
            runs.add_column("P&L", key="pnl")
            runs.add_column("QUOTE", key="quote")
            runs.add_column("FROM", key="source")
            yield runs
            history: DataTable = DataTable(cursor_type="row", id="history")
            history.add_column("TIME (UTC)", key="time")
            history.add_column("ACCOUNT", key="account")
            history.add_column("FROM", key="source")
            history.add_column("ROLE", key="role")
            history.add_column("RUN", key="run")
            history.add_column("TOTAL", key="total")
            yield history
            yield Vertical(id="chart-box")
        yield Footer()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        switcher = self.query_one(ContentSwitcher)
        if switcher.current in ("runs", "history"):
            self.query_one(f"#{switcher.current}", DataTable).focus()
        self.run_worker(self._load, exclusive=True, group="balances")

    def action_refresh_balances(self) -> None:
        self.run_worker(self._load(refresh=True), exclusive=True, group="balances")

    def action_view(self, name: str) -> None:
        self.query_one(ContentSwitcher).current = "chart-box" if name == "chart" else name
        if name == "chart":
            self._draw_chart()
        else:
            self.query_one(f"#{name}", DataTable).focus()

    # -- loading ---------------------------------------------------------------------------------
    async def _load(self, refresh: bool = False) -> None:
        from opsconsole.services.balances import Balances, snapshot_ended_runs

        context = self.app.context
        if self._service is None:
            self._service = Balances(context)
        problems: list[str] = []
        try:
            await snapshot_ended_runs(context)
        except Exception as exc:  # noqa: BLE001 - an account down: the rest still shows
            problems.append(f"post-run snapshots: {type(exc).__name__}: {exc}")
        runs = await asyncio.to_thread(context.ledger.list_runs, RUNS_SHOWN)
        self.runs = {r.id: r for r in runs}
        sem = asyncio.Semaphore(LOADS_AT_ONCE)

        async def one(run: RunRecord) -> None:
            async with sem:
                rb = await self._service.run_balance(run, refresh=refresh)
            self.balances[run.id] = rb
            self._show_run(run, rb)

        await asyncio.gather(*(one(r) for r in runs))
        self.snapshots = await asyncio.to_thread(context.ledger.list_snapshots)
        self._show_history()
        shown = sum(1 for rb in self.balances.values() if rb.pre or rb.post)
        accounts = len({s.account for s in self.snapshots})
        note = (f"{shown} of the last {len(runs)} runs with balances · {len(self.snapshots)} snapshots of "
                f"{accounts} account(s)")
        if problems:
            note += " · ⚠ " + "; ".join(problems)
        self.query_one("#note", Static).update(_safe(note))
        self._chart_drawn = False
        if self.query_one(ContentSwitcher).current == "chart-box":
            self._draw_chart()

    def _show_run(self, run: "RunRecord", rb: RunBalance) -> None:
        if rb.pre is None and rb.post is None:
            return
        table = self.query_one("#runs", DataTable)
        pnl = rb.pnl
        style = "" if pnl is None else ("green3" if pnl >= 0 else "red1")
        source = (rb.pre or rb.post).source if (rb.pre or rb.post) else ""  # type: ignore[union-attr]
        row = (str(run.id), _safe(run.preset or run.kind), run.state.value, _when(run.ended_at),
               _money(rb.pre.quote_total if rb.pre else None), _money(rb.post.quote_total if rb.post else None),
               Text("" if pnl is None else f"{pnl:+,.2f}", style=style), rb.quote, source)
        key = str(run.id)
        if key in table.rows:
            for column, value in zip(("run", "preset", "state", "ended", "pre", "post", "pnl", "quote", "source"), row):
                table.update_cell(key, column, value)
            return
        # newest first, as the ledger lists them
        table.add_row(*row, key=key)
        if len(table.rows) > 1:
            table.sort("run", key=lambda v: -int(str(v)))

    def _show_history(self) -> None:
        table = self.query_one("#history", DataTable)
        table.clear()
        for snap in reversed(self.snapshots):
            table.add_row(_when(snap.taken_at), _safe(snap.account), snap.source, snap.role,
                          "" if snap.run_id is None else str(snap.run_id),
                          f"{_money(snap.quote_total)} {snap.quote}", key=str(snap.id))

    def _draw_chart(self) -> None:
        if self._chart_drawn:
            return
        from textual_plotext import PlotextPlot

        from opsconsole.services.balances import history

        box = self.query_one("#chart-box", Vertical)
        plots = list(box.query(PlotextPlot))
        widget = plots[0] if plots else PlotextPlot()
        if not plots:
            box.mount(widget)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        series = history(self.snapshots)
        plt.title("quote-currency total per account")
        if not series:
            plt.title("no snapshots yet: B on an account (Status), or runs with balance dicts")
        t0 = min((p[0] for pts in series.values() for p in pts), default=None)
        for account, points in series.items():
            xs = [(t - t0).total_seconds() / 3600 for t, _ in points]  # type: ignore[operator]
            plt.plot(xs, [v for _, v in points], label=account[:24], marker="braille")
        if t0 is not None:
            t1 = max(p[0] for pts in series.values() for p in pts)
            for run in self.runs.values():
                if run.id in self.balances and (self.balances[run.id].pre or self.balances[run.id].post):
                    start = run.started_at or run.created_at
                    plt.vline((start - t0).total_seconds() / 3600, "gray")
                    t1 = max(t1, start)
            span = max((t1 - t0).total_seconds() / 3600, 1e-6)
            ticks = [span * i / 3 for i in range(4)]
            fmt = "%H:%M:%S" if span < 1 / 6 else ("%m-%d %H:%M" if span < 72 else "%Y-%m-%d")
            plt.xticks(ticks, [(t0 + timedelta(hours=t)).strftime(fmt) for t in ticks])
            plt.xlabel("UTC · runs marked by vertical lines")
        widget.refresh()
        self._chart_drawn = True

    # -- actions ---------------------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_detail()

    def _selected(self, table_id: str) -> str | None:
        table = self.query_one(f"#{table_id}", DataTable)
        if not table.rows or table.cursor_row < 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_detail(self) -> None:
        from opsconsole.ui.screens.report import AssetsScreen

        current = self.query_one(ContentSwitcher).current
        if current == "history":
            key = self._selected("history")
            snap = next((s for s in self.snapshots if str(s.id) == key), None)
            if snap is not None:
                self.app.push_screen(AssetsScreen.of_snapshot(snap))
            return
        key = self._selected("runs")
        if key is None:
            self.notify("no run with balances selected", severity="warning")
            return
        rb = self.balances[int(key)]
        self.app.push_screen(AssetsScreen(f"run {key}: assets pre → post", asset_changes(rb.pre, rb.post),
                                          rb.notes))

    def action_report(self) -> None:
        from opsconsole.ui.screens.report import ReportScreen

        key = self._selected("runs") if self.query_one(ContentSwitcher).current == "runs" else None
        if key is None:
            hist = self._selected("history")
            snap = next((s for s in self.snapshots if str(s.id) == hist), None)
            key = str(snap.run_id) if snap is not None and snap.run_id is not None else None
        if key is None:
            self.notify("select a run first (1: runs)", severity="warning")
            return
        self.app.push_screen(ReportScreen(int(key), self._service))
