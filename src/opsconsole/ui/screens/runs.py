"""Runs: the ledger — every launch, its parameters, target, state, start/end, log."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Footer

from opsconsole.ui.screens.base import OpsScreen
from opsconsole.services.sources import LedgerRunsSource, describe
from opsconsole.ui.bindings import bindings
from opsconsole.ui.screens.describe import DescribeScreen
from opsconsole.ui.widgets.source_pane import SourcePane


class RunsScreen(OpsScreen):
    TITLE_TEXT = "Runs"
    BINDINGS = bindings("runs")
    DEFAULT_CSS = "RunsScreen SourcePane { height: 1fr; }"

    def __init__(self) -> None:
        super().__init__(id="runs")

    def compose(self) -> ComposeResult:
        yield SourcePane(LedgerRunsSource(self.app.context), 1, self.app.context.clock)
        yield Footer()

    @property
    def pane(self) -> SourcePane:
        return self.query_one(SourcePane)

    def on_mount(self) -> None:
        self.pane.table.focus()

    def on_screen_suspend(self) -> None:
        self.pane.pause()

    def on_screen_resume(self) -> None:
        self.pane.resume()

    def action_filter(self) -> None:
        self.pane.action_filter()

    def action_open_log(self) -> None:
        self.pane.action_open_log()

    def action_release_latch(self) -> None:
        self.app.release_latch()

    @on(SourcePane.OpenLog)
    def _open_log(self, event: SourcePane.OpenLog) -> None:
        self.app.open_log(event.item.log_path, title=f"run {event.item.key}")

    @on(SourcePane.Describe)
    def _describe(self, event: SourcePane.Describe) -> None:
        self.app.push_screen(DescribeScreen(f"run {event.item.key}", describe(event.item)))

    @on(SourcePane.Highlighted)
    def _ignore(self, event: SourcePane.Highlighted) -> None:
        event.stop()
