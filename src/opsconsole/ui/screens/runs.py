"""Runs: the ledger — every launch, its parameters, target, state, start/end, log."""

from __future__ import annotations

import asyncio

from textual import on
from textual.app import ComposeResult

from opsconsole.ui.screens.base import OpsScreen
from opsconsole.services.sources import LedgerRunsSource, describe
from opsconsole.ui.bindings import bindings
from opsconsole.ui.screens.describe import DescribeScreen
from opsconsole.ui.widgets.source_pane import SourcePane
from opsconsole.ui.widgets.ops_footer import OpsFooter


class RunsScreen(OpsScreen):
    TITLE_TEXT = "Runs"
    BINDINGS = bindings("runs")
    DEFAULT_CSS = "RunsScreen SourcePane { height: 1fr; }"

    def __init__(self) -> None:
        super().__init__(id="runs")
        self.marked: list[str] = []

    def compose(self) -> ComposeResult:
        yield SourcePane(LedgerRunsSource(self.app.context), 1, self.app.context.clock)
        yield OpsFooter()

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

    def _selected_run(self):
        item = self.pane.selected
        return item.detail if item is not None else None

    def action_clone(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.app.open_in_launch(run["preset"], run["parameters"])

    def action_rerun(self) -> None:
        run = self._selected_run()
        if run is None:
            return
        self.run_worker(self._rerun(run), group="rerun", exclusive=True)

    async def _rerun(self, run: dict) -> None:
        """Re-run = the same preset and parameters rendered again, one run, same target."""
        from opsconsole.services.catalog import load_catalog
        from opsconsole.services.launcher import plan_launch

        catalog = await asyncio.to_thread(load_catalog, self.app.context.preset_dirs())
        try:
            preset = catalog.preset(run["preset"] or "")
        except KeyError as exc:
            self.notify(f"cannot re-run {run['id']}: {exc}", severity="error", markup=False)
            return
        kind = catalog.kinds[preset.kind]
        editable = {p.name for p in kind.editable if p.derive is None}
        values = {k: v for k, v in run["parameters"].items() if k in editable}
        self.app.launch_plan(plan_launch(preset, kind, values, sweep={}))

    def action_mark(self) -> None:
        item = self.pane.selected
        if item is None:
            return
        if item.key in self.marked:
            self.marked.remove(item.key)
        else:
            self.marked = (self.marked + [item.key])[-2:]
        self.pane.set_marked(self.marked)
        self.notify(f"marked: {', '.join(self.marked) or 'none'}  (= compares two)")

    def action_compare(self) -> None:
        runs = {it.key: it.detail for it in self.pane.items if it.key in self.marked}
        if len(runs) != 2:
            self.notify("mark two runs with space first", severity="warning")
            return
        from opsconsole.ui.screens.compare import CompareScreen

        a, b = (runs[k] for k in self.marked)
        self.app.push_screen(CompareScreen(a, b))

    @on(SourcePane.OpenLog)
    def _open_log(self, event: SourcePane.OpenLog) -> None:
        self.app.open_log(event.ref, title=f"run {event.item.key}")

    @on(SourcePane.Describe)
    def _describe(self, event: SourcePane.Describe) -> None:
        self.app.push_screen(DescribeScreen(f"run {event.item.key}", describe(event.item)))

    @on(SourcePane.Highlighted)
    def _ignore(self, event: SourcePane.Highlighted) -> None:
        event.stop()
