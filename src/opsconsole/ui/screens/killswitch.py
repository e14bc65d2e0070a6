"""The kill-switch: arm (a modal listing the plan phase by phase, with the objects each step
would stop), fire (same key again or enter), watch the per-step results fill in (a table with
live times, and a detail pane with the selected step's every object in full). The engine is
services/killswitch.py; this only draws it. Text from outside (run ids, DAG ids, reasons) is
shown as rich Text, never as markup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from opsconsole.domain.kill import PHASE_TITLES
from opsconsole.ui.bindings import bindings
from opsconsole.domain.text import visible as _visible

OUTCOME_STYLES = {
    "pending": "dim", "running": "bold dodger_blue1", "stopping": "bold orange3", "ok": "bold green3",
    "failed": "bold red1", "unknown": "bold yellow", "skipped": "magenta",
}
OBJECT_STYLES = {"pending": "dim", "acted": "orange3", "confirmed": "green3", "not confirmed": "bold yellow",
                 "failed": "bold red1"}
TARGETS_SHOWN = 8  # objects listed per step in the armed modal (then "… and N more")


class KillSwitchModal(ModalScreen[bool]):
    """Armed: shows what firing will do. Cancel is what happens unless the operator confirms."""

    BINDINGS = bindings("killswitch")
    DEFAULT_CSS = """
    KillSwitchModal { align: center middle; background: $background 60%; }
    KillSwitchModal > Vertical { width: 90%; max-width: 120; height: auto; max-height: 95%;
                                 border: heavy $error; background: $surface; padding: 0 1; }
    KillSwitchModal .ks-title { text-style: bold; color: $error; }
    KillSwitchModal #plan-scroll { height: auto; max-height: 50vh; }
    KillSwitchModal #plan { height: auto; }
    KillSwitchModal .ks-help { color: $text-muted; }
    KillSwitchModal Horizontal { height: auto; align-horizontal: right; }
    KillSwitchModal Button { margin: 0 1; }
    """

    # Nothing takes focus: enter (like the kill key again) fires, as the plan says; every other
    # way out — esc, the Cancel button — cancels. A focused Cancel button would make enter lie.
    AUTO_FOCUS = ""

    def __init__(self, plan, profile: str, environment: str,
                 targets: Callable[[], Awaitable[dict[str, Any]]] | None = None,
                 notice: str = "") -> None:
        super().__init__(id="killswitch-armed")
        self.plan = plan
        self.profile = profile
        self.environment = environment
        self._targets_of = targets
        self.targets: dict[str, Any] | None = None
        self.notice = notice

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"KILL-SWITCH ARMED — profile {self.profile} [{self.environment}]"), classes="ks-title")
            if self.notice:
                yield Static(Text(self.notice, style="bold yellow"))
            yield Static("Firing sets the HALTED latch (no launches until released), then runs the steps phase "
                         "by phase; the steps of a phase run at once, each with its own deadline.")
            yield Static("ctrl+k again or enter: FIRE    esc: cancel", classes="ks-help")
            with VerticalScroll(id="plan-scroll"):
                yield Static(self._plan_text(), id="plan")
            with Horizontal():
                yield Button("Cancel", id="cancel", variant="default")
                yield Button("FIRE", id="fire", variant="error")

    def on_mount(self) -> None:
        if self._targets_of is not None:
            self.run_worker(self._load_targets(), group="kill-targets", exclusive=True)

    async def _load_targets(self) -> None:
        assert self._targets_of is not None
        try:
            self.targets = await self._targets_of()
        except Exception as exc:  # noqa: BLE001 - the plan stays usable without its listing
            self.targets = {s.name: f"listing failed: {type(exc).__name__}: {exc}" for s in self.plan}
        if self.is_attached:  # the operator may have fired or cancelled while it listed
            plan = self.query("#plan")
            if plan:
                plan.first(Static).update(self._plan_text())

    def _plan_text(self) -> Text:
        plan = Text()
        phase = None
        for n, step in enumerate(self.plan, start=1):
            if step.phase != phase:
                phase = step.phase
                plan.append(f"\n{PHASE_TITLES.get(phase, phase).upper()}\n", style="bold underline")
            style = "bold" if step.enabled else "dim strike"
            plan.append(f"{n}. {step.name}", style=style)
            plan.append(f"  [{step.kind}, deadline {step.deadline:g}s]", style="dim")
            if not step.enabled:
                plan.append("  disabled in this profile", style="yellow")
            plan.append(f"\n   {_visible(step.description)}\n")
            plan.append_text(self._targets_text(step))
        return plan

    def _targets_text(self, step) -> Text:
        text = Text()
        if self._targets_of is None or not step.enabled:
            return text
        if self.targets is None:
            text.append("   listing what it would stop…\n", style="dim italic")
            return text
        found = self.targets.get(step.name)
        if isinstance(found, str):
            text.append(f"   ({_visible(found)})\n", style="dim yellow")
            return text
        if not found:
            text.append("   nothing to stop right now\n", style="dim")
            return text
        for obj in found[:TARGETS_SHOWN]:
            text.append(f"   • {obj.kind} ", style="dim")
            text.append(_visible(obj.ident))
            if obj.reason:
                text.append(f"  {_visible(obj.reason)}", style="dim")
            text.append("\n")
        if len(found) > TARGETS_SHOWN:
            text.append(f"   … and {len(found) - TARGETS_SHOWN} more\n", style="dim")
        return text

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "fire")

    def action_fire(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class KillResultsScreen(ModalScreen[None]):
    """Fired: one row per step, updated live (TIME ticks while a step runs); below, the
    selected step's full detail and every object it touched; the engine's own trouble (latch,
    ledger, journal) under it all."""

    BINDINGS = bindings("killresults")
    DEFAULT_CSS = """
    KillResultsScreen { align: center middle; background: $background 60%; }
    KillResultsScreen > Vertical { width: 95%; max-width: 160; height: 95%;
                                   border: heavy $error; background: $surface; padding: 0 1; }
    KillResultsScreen .ks-title { text-style: bold; color: $error; }
    KillResultsScreen DataTable { height: auto; max-height: 40%; }
    KillResultsScreen #ks-detail { height: 1fr; border-top: solid $error 50%; }
    KillResultsScreen .ks-summary { height: auto; }
    """

    def __init__(self, plan) -> None:
        super().__init__(id="killswitch-results")
        self.plan = plan
        self.report = None
        self.results: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("KILL-SWITCH FIRING — setting the HALTED latch", classes="ks-title", id="ks-title")
            table: DataTable = DataTable(cursor_type="row", id="ks-table")
            table.add_column("STEP", key="step")
            table.add_column("PHASE", key="phase")
            table.add_column("OUTCOME", key="outcome", width=9)
            table.add_column("TIME", key="time", width=8)
            table.add_column("OBJECTS", key="objects")
            for step in self.plan:
                table.add_row(Text(_visible(step.name)), step.phase, Text("pending", style="dim"), "", "",
                              key=step.name)
            yield table
            with VerticalScroll(id="ks-detail"):
                yield Static("", id="ks-detail-text")
            yield Static("firing… (esc hides this; the steps go on)", classes="ks-summary")

    def on_mount(self) -> None:
        # after the mount has completed (is_mounted): what the engine sent until then is shown
        # here, what it sends later by update_result/finish themselves, nothing falls between
        self.call_later(self._catch_up)
        self.set_interval(0.2, self._tick)

    def _catch_up(self) -> None:
        for result in list(self.results.values()):
            self._update(result)
        if self.report is not None:
            self.finish(self.report)
        self._show_detail()

    def _tick(self) -> None:
        """TIME runs while a step runs (its elapsed is computed from the clock)."""
        table = self.query_one(DataTable)
        for name, result in self.results.items():
            if getattr(result, "started", None) is not None and getattr(result, "ended", None) is None:
                table.update_cell(name, "time", f"{result.elapsed:.1f}s")

    def finish(self, report) -> None:
        """The engine is done: show the verdict, the latch as it really is, and every failure to
        record."""
        self.report = report
        if not self.is_mounted:
            return
        for result in report.results:
            self._update(result)
        title = self.query_one("#ks-title", Static)
        if report.latch_set:
            title.update(Text("KILL-SWITCH FIRED — HALTED", style="bold red1"))
        else:
            title.update(Text("KILL-SWITCH FIRED — HALTED LATCH NOT SET: launches are NOT blocked", style="bold red1"))
        summary = self.query_one(".ks-summary", Static)
        text = Text()
        if report.ok:
            text.append("All steps ok. Launches stay refused until the latch is released "
                        "(Runs: R, or `opsconsole release`).", style="green3")
        else:
            bad = [r.name for r in report.results if r.outcome not in ("ok", "skipped")]
            text.append(f"NOT all steps ok: {', '.join(bad) or 'the latch'} — check them by hand.", style="bold red1")
        problems = list(report.errors) + [f"{r.name}: {r.record_error}" for r in report.results if r.record_error]
        for problem in problems:
            text.append(f"\n! {_visible(problem)}", style="bold yellow")
        if report.journal:
            text.append(f"\naudit rows kept in {_visible(report.journal)} (replayed into the ledger when it works)",
                        style="yellow")
        text.append("\nenter/↑↓: a step's objects   esc: close", style="dim")
        summary.update(text)
        self._show_detail()

    def update_result(self, result) -> None:
        self.results[result.name] = result
        if self.is_mounted:
            self._update(result)

    def _update(self, result) -> None:
        self.results[result.name] = result
        table = self.query_one(DataTable)
        elapsed = result.elapsed
        table.update_cell(result.name, "outcome", Text(result.outcome, style=OUTCOME_STYLES.get(result.outcome, "")))
        table.update_cell(result.name, "time", f"{elapsed:.2f}s" if elapsed is not None else "")
        summary = result.log.summary() if result.log.objects else _visible(result.detail or "")
        table.update_cell(result.name, "objects", Text(summary, no_wrap=True, overflow="ellipsis"), update_width=True)
        if self._selected() == result.name:
            self._show_detail()

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.plan:
            return None
        row = min(max(table.cursor_row, 0), len(self.plan) - 1)
        return self.plan[row].name

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected step in full: its detail wrapped, every object with its state and reason."""
        if not self.is_mounted:
            return
        name = self._selected()
        text = Text()
        step = next((s for s in self.plan if s.name == name), None)
        result = self.results.get(name) if name else None
        if step is not None:
            text.append(f"{_visible(step.name)}", style="bold")
            text.append(f"  [{step.phase}, {step.kind}, deadline {step.deadline:g}s]\n", style="dim")
        if result is not None:
            text.append(result.outcome, style=OUTCOME_STYLES.get(result.outcome, ""))
            if result.detail:
                text.append(f": {_visible(result.detail)}")
            text.append("\n")
            if getattr(result, "record_error", ""):
                text.append(f"! {_visible(result.record_error)}\n", style="bold yellow")
            for obj in result.log.objects:
                text.append(f"  {obj.state:<13}", style=OBJECT_STYLES.get(obj.state, ""))
                text.append(f" {obj.kind} ", style="dim")
                text.append(_visible(obj.ident))
                if obj.reason:
                    text.append(f" — {_visible(obj.reason)}", style="dim")
                text.append("\n")
        self.query_one("#ks-detail-text", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)
