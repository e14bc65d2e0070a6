"""The kill-switch: arm (a modal listing the plan), fire (same key again or enter), watch the
per-step results fill in. The engine is services/killswitch.py; this only draws it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import safe_text

OUTCOME_STYLES = {
    "pending": "dim", "running": "bold dodger_blue1", "stopping": "bold orange3", "ok": "bold green3",
    "failed": "bold red1", "unknown": "bold yellow", "skipped": "magenta",
}


class KillSwitchModal(ModalScreen[bool]):
    """Armed: shows what firing will do. Cancel is what happens unless the operator confirms."""

    BINDINGS = bindings("killswitch")
    DEFAULT_CSS = """
    KillSwitchModal { align: center middle; background: $background 60%; }
    KillSwitchModal > Vertical { width: 90%; max-width: 110; height: auto; max-height: 90%;
                                 border: heavy $error; background: $surface; padding: 0 1; }
    KillSwitchModal .ks-title { text-style: bold; color: $error; padding: 0 0 1 0; }
    KillSwitchModal #plan { height: auto; }
    KillSwitchModal .ks-help { color: $text-muted; padding: 1 0 0 0; }
    KillSwitchModal Horizontal { height: auto; align-horizontal: right; }
    KillSwitchModal Button { margin: 0 1; }
    """

    # Nothing takes focus: enter (like the kill key again) fires, as the plan says; every other
    # way out — esc, the Cancel button — cancels. A focused Cancel button would make enter lie.
    AUTO_FOCUS = ""

    def __init__(self, plan, profile: str, environment: str) -> None:
        super().__init__(id="killswitch-armed")
        self.plan = plan
        self.profile = profile
        self.environment = environment

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"KILL-SWITCH ARMED — profile {self.profile} [{self.environment}]"), classes="ks-title")
            yield Static("Firing sets the HALTED latch (no launches until released), then runs every step "
                         "below at once, each with its own deadline.")
            plan = Text("\n")
            for n, step in enumerate(self.plan, start=1):
                style = "bold" if step.enabled else "dim strike"
                plan.append(f"{n}. {step.name}", style=style)
                plan.append(f"  [{step.kind}, deadline {step.deadline:g}s]", style="dim")
                if not step.enabled:
                    plan.append("  disabled in this profile", style="yellow")
                plan.append(f"\n   {step.description}\n")
            yield Static(plan, id="plan")
            yield Static("ctrl+k again or enter: FIRE    esc: cancel", classes="ks-help")
            with Horizontal():
                yield Button("Cancel", id="cancel", variant="default")
                yield Button("FIRE", id="fire", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "fire")

    def action_fire(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class KillResultsScreen(ModalScreen[None]):
    """Fired: one row per step, updated live as steps end."""

    BINDINGS = bindings("killresults")
    DEFAULT_CSS = """
    KillResultsScreen { align: center middle; background: $background 60%; }
    KillResultsScreen > Vertical { width: 90%; max-width: 110; height: auto; max-height: 90%;
                                   border: heavy $error; background: $surface; padding: 0 1; }
    KillResultsScreen .ks-title { text-style: bold; color: $error; padding: 0 0 1 0; }
    KillResultsScreen DataTable { height: auto; max-height: 14; }
    KillResultsScreen .ks-summary { padding: 1 0 0 0; }
    """

    def __init__(self, plan) -> None:
        super().__init__(id="killswitch-results")
        self.plan = plan
        self.report = None
        self.results: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("KILL-SWITCH FIRED — HALTED", classes="ks-title")
            table: DataTable = DataTable(cursor_type="row")
            table.add_column("STEP", key="step")
            table.add_column("KIND", key="kind")
            table.add_column("OUTCOME", key="outcome", width=9)
            table.add_column("TIME", key="time", width=7)
            table.add_column("DETAIL", key="detail")
            for step in self.plan:
                table.add_row(step.name, step.kind, Text("pending", style="dim"), "", "", key=step.name)
            yield table
            yield Static("firing… (esc hides this; the steps go on)", classes="ks-summary")

    def on_mount(self) -> None:
        for result in self.results.values():
            self._update(result)
        if self.report is not None:
            self.finish(self.report)

    def finish(self, report) -> None:
        """The engine is done: show the verdict."""
        self.report = report
        if not self.is_mounted:
            return
        for result in report.results:
            self._update(result)
        summary = self.query_one(".ks-summary", Static)
        if report.ok:
            summary.update(Text("All steps ok. Launches stay refused until the latch is released "
                                "(Runs: R, or `opsconsole release`).  esc: close", style="green3"))
        else:
            bad = [r.name for r in report.results if r.outcome not in ("ok", "skipped")]
            summary.update(Text(f"NOT all steps ok: {', '.join(bad)} — check them by hand.  esc: close",
                                style="bold red1"))

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
        table.update_cell(result.name, "detail", safe_text((result.detail or "")[:200]))  # a server's error text

    def action_close(self) -> None:
        self.dismiss(None)
