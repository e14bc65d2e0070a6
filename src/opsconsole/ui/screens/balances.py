"""Balances: pre/post-run balances per run, read out of the run logs (seed 000's dicts).
Snapshots taken by a backend join this screen when one offers them."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Static

from opsconsole.ui.screens.base import OpsScreen
from opsconsole.services.balances import log_balances


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.4f}"


class BalancesScreen(OpsScreen):
    TITLE_TEXT = "Balances"
    DEFAULT_CSS = """
    BalancesScreen #note { height: auto; padding: 0 1; color: $text-muted; }
    BalancesScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(id="balances")

    def compose(self) -> ComposeResult:
        note = "No exchange accounts in this profile; balances below are read from the runs' logs."
        yield Static(note, id="note")
        table: DataTable = DataTable(cursor_type="row")
        table.add_column("RUN", key="run")
        table.add_column("PRESET", key="preset")
        table.add_column("STATE", key="state")
        table.add_column("PRE USDT", key="pre")
        table.add_column("POST USDT", key="post")
        table.add_column("P&L USDT", key="pnl")
        yield table
        yield Footer()

    def on_screen_resume(self) -> None:
        self.run_worker(self._load, exclusive=True, group="balances")

    async def _load(self) -> None:
        ledger = self.app.context.ledger
        runs = await asyncio.to_thread(ledger.list_runs, 500)
        rows = []
        for run in runs:
            if not run.log_path:
                continue
            diff = await asyncio.to_thread(log_balances, run.log_path)
            if diff.pre is None:
                continue
            pnl = diff.pnl
            style = "" if pnl is None else ("green3" if pnl >= 0 else "red1")
            rows.append((str(run.id), run.preset or run.kind, run.state.value, _money(diff.pre_quote),
                         _money(diff.post_quote), Text(_money(pnl), style=style)))
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row, key=row[0])
