"""The app: screens, themes, keymap, and the paths every screen shares (open a log, the
kill-switch; the action path is ui/action_path.py). Screens own their widgets and workers."""

from __future__ import annotations

import asyncio
import getpass
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.screen import Screen

from opsconsole.domain import policy
from opsconsole.ui.action_path import ActionPath
from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import CrashReporting, SafeNotify, palette_text
from opsconsole.ui.theming import discover_themes

if TYPE_CHECKING:
    from opsconsole.services.context import Context
    from opsconsole.ui.screens.killswitch import KillResultsScreen

# Screens other than Status (and dialogs: help, confirm, the kill-switch's) are imported when
# first shown: the first frame stays fast (tests/ui/test_startup.py checks).
DIALOG_WAIT = 10.0  # seconds keys are held back at most while a dialog is on its way
SCREENS_BY_NAME = {"status": "status.StatusScreen", "logs": "logs.LogsScreen", "launch": "launch.LaunchScreen",
                   "runs": "runs.RunsScreen", "balances": "balances.BalancesScreen"}


class _Hold:
    kept = False

    def until_shown(self) -> None:
        self.kept = True


def _screen_factory(ref: str):
    module, cls = ref.split(".")

    def make() -> Screen:
        import importlib

        return getattr(importlib.import_module(f"opsconsole.ui.screens.{module}"), cls)()

    return make


class OpsConsole(CrashReporting, SafeNotify, ActionPath, App):
    TITLE = "opsconsole"
    CSS_PATH = Path(__file__).parent / "ui" / "app.tcss"
    BINDINGS = bindings("global")
    MODES = {name: _screen_factory(ref) for name, ref in SCREENS_BY_NAME.items()}
    DEFAULT_MODE = "status"  # the first screen, without a blank default screen before it
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, context: Context) -> None:
        super().__init__()
        self.context = context
        self.user_keymap = dict(context.config.keys)
        self.halted = False
        self.latch = None
        self.env_colour = "#d70000" if context.profile.production else "#3b82c4"
        self._kill_results: KillResultsScreen | None = None
        self._kill_task: asyncio.Task | None = None
        self._kill_report = None
        self._offered_rerun = False
        self.kill_status: dict = {}
        self.kill_notice = ""
        self._dialog_holds: dict[int, float] = {}  # id -> deadline: a dialog is on its way
        self._theme_errors = self._apply_theme()

    # --- keys typed while a dialog is on its way ---------------------------------------------
    @asynccontextmanager
    async def dialog_coming(self, within: float = DIALOG_WAIT) -> AsyncIterator["_Hold"]:
        """Around work that ends by showing a dialog (a fetch, then a confirmation): until a
        screen is pushed (or `within` seconds, or the work ends) keys are swallowed, so what the
        operator types ahead never reaches Status's or the app's shortcuts (the kill-switch key
        still works). `hold.until_shown()`: the dialog is posted for later, keep holding until it
        is pushed (or `within`)."""
        hold = _Hold()
        self._dialog_holds[id(hold)] = time.monotonic() + within
        try:
            yield hold
        finally:
            if not hold.kept:
                self._dialog_holds.pop(id(hold), None)

    def push_screen(self, *args, **kwargs):  # type: ignore[override]
        self._dialog_holds.clear()  # the dialog is here: keys go to it
        return super().push_screen(*args, **kwargs)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self._dialog_holds:
            now = time.monotonic()
            for hold, deadline in list(self._dialog_holds.items()):
                if deadline < now:
                    del self._dialog_holds[hold]
            if self._dialog_holds and event.key not in self._kill_keys():
                self.bell()
                return
        await super().on_event(event)

    @staticmethod
    def _kill_keys() -> set[str]:
        from opsconsole.ui.keymap import KILLSWITCH, by_id

        return {k.strip() for k in by_id()[KILLSWITCH].keys.split(",")}

    # --- start-up ---------------------------------------------------------------------------
    def _apply_theme(self) -> list[str]:
        """The profile's theme, set before the app runs (its stylesheet is built once, with it);
        returns the problems to show once it runs."""
        themes, errors = discover_themes()
        for theme in themes:
            self.register_theme(theme)
        names = {t.name for t in themes}
        wanted = self.context.profile.theme
        self.theme = wanted if wanted in names else "opsconsole"
        if wanted not in names:
            errors.append(f"profile {self.context.profile.name!r}: no theme {wanted!r} (have: {', '.join(sorted(names))})")
        # the environment label: the theme's colour, but always red on a production profile
        if not self.context.profile.production:
            self.env_colour = self.get_css_variables().get("env-label-background", self.env_colour)
        return errors

    def on_mount(self) -> None:
        # the Status screen is the default mode (DEFAULT_MODE): composed as the app starts
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        for error in self._theme_errors:
            self.notify(error, title="theme", severity="warning", markup=False)
        # the latch (it opens the ledger in a thread) is read once the first frame is drawn, then
        # every 2 s: another process (`opsconsole kill`, a colleague's console) may set or release it
        self.call_after_refresh(self.refresh_halt)
        self.set_interval(2.0, self.refresh_halt)

    def refresh_halt(self) -> None:
        """Re-read the latch (after a kill or a release) and show it in the header."""
        self.run_worker(self._refresh_halt(), group="halt", exclusive=True)

    async def _refresh_halt(self) -> None:
        """The latch from the HALTED file and the ledger (a broken ledger never hides it), and
        what the header must say besides: an interrupted kill, audit rows the ledger could not
        take, a ledger that does not open, a latch the last kill could not set."""
        from opsconsole.services.killswitch import halt_status

        context = self.context
        try:
            status = await asyncio.to_thread(halt_status, context.data_dir, lambda: context.ledger)
        except Exception as exc:  # noqa: BLE001 - the header says it rather than the app dying
            status = {"halted": False, "latch": None, "ledger": f"unusable: {exc}", "interrupted": [],
                      "in_progress": [], "journal_rows": 0}
        self.kill_status = status
        self.latch = status["latch"]
        self.halted = bool(status["halted"])
        notes = []
        if status["interrupted"]:
            notes.append("KILL INTERRUPTED")
        if self._kill_report is not None and not self._kill_report.latch_set and not self.halted:
            notes.append("LATCH NOT SET")
        if status["ledger"] != "ok":
            notes.append("LEDGER BROKEN")
        if status["journal_rows"]:
            notes.append(f"AUDIT NOT IN LEDGER ({status['journal_rows']})")
        self.kill_notice = " · ".join(notes)
        from opsconsole.ui.widgets.header import OpsHeader

        for screen in self.screen_stack:
            for header in screen.query(OpsHeader):
                header.halted = self.halted
                header.notice = self.kill_notice
        if status["interrupted"] and not self._offered_rerun:
            self._offered_rerun = True
            self._offer_rerun(status["interrupted"][0])

    def _offer_rerun(self, marker: dict) -> None:
        """A kill was interrupted (the app died mid-kill): offer to run the plan again."""
        note = (f"The kill {marker.get('kill_id')} fired at {marker.get('started_at')} by {marker.get('by')} was "
                f"INTERRUPTED (its process died mid-kill): its steps may not have run. Fire the plan again?")
        self.notify(note, title="KILL-SWITCH", severity="error", timeout=30, markup=False)
        from opsconsole.ui.screens.killswitch import KillResultsScreen, KillSwitchModal

        if isinstance(self.screen, (KillSwitchModal, KillResultsScreen)):
            return
        self.action_arm_killswitch(notice=note)

    # --- quitting ---------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Quit, unless it would cancel a kill-switch that is firing; warn when queued runs
        would never start (running ones live on and are picked up next time)."""
        if self._kill_task is not None and not self._kill_task.done():
            self.notify("the kill-switch is still firing: quit when its steps have ended",
                        title="not quitting", severity="error", timeout=8)
            self.bell()
            return
        async with self.dialog_coming():
            pending = await asyncio.to_thread(self.context.pending)
            attached = await asyncio.to_thread(self._attached_runs)
        if pending or attached:
            self.run_worker(self._confirm_quit(pending, attached), group="quit", exclusive=True)
            return
        self.exit()

    def _attached_runs(self) -> list[str]:
        """(Blocking.) Local runs running under this console (they outlive it, unwatched)."""
        try:
            return [f"run {r.id}" for r in self.context.ledger.active_runs("local") if r.state.value == "running"]
        except Exception:  # noqa: BLE001 - the quit must never fail on this
            return []

    async def _confirm_quit(self, pending: list[str], attached: list[str] | None = None) -> None:
        parts = []
        if pending:
            ids = ", ".join(pending)
            parts.append(f"{ids[:1].upper()}{ids[1:]} have not started (or wait for a retry): they need opsconsole "
                         "running and will be recorded as skipped.")
        if attached:
            ids = ", ".join(attached)
            parts.append(f"{ids[:1].upper()}{ids[1:]} {'are' if len(attached) > 1 else 'is'} running here: "
                         "they keep running and are picked up next time.")
        else:
            parts.append("Runs already started keep running.")
        from opsconsole.ui.screens.confirm import ConfirmScreen

        title = "Quit with runs still queued?" if pending else "Quit with runs attached?"
        if await self.push_screen_wait(ConfirmScreen(title, " ".join(parts), confirm_label="Quit anyway")):
            self.exit()

    # --- navigation -------------------------------------------------------------------------
    def action_show_screen(self, name: str) -> None:
        if self.current_mode != name:
            self.switch_mode(name)

    def action_help(self) -> None:
        from opsconsole.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    @staticmethod
    def _focused_pane(screen: Screen):
        """The pane whose actions the palette offers: the focused one, else the first."""
        from opsconsole.ui.widgets.source_pane import SourcePane

        return SourcePane.containing(screen.focused) or next(iter(screen.query(SourcePane)), None)

    async def on_unmount(self) -> None:
        await self.context.aclose()  # the backends' clients and log jobs

    def open_log(self, path, title: str | None = None) -> None:
        """Show a log (a reference, or a path) in the Logs screen (a new tab, or its own)."""
        if not path:
            self.notify("no log for this item yet", severity="warning")
            return

        async def _open() -> None:
            if self.current_mode != "logs":
                await self.switch_mode("logs")
            screen = self.screen
            if screen.id == "logs":
                await screen.open(path, title)

        self.run_worker(_open(), group="open-log")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for name in SCREENS_BY_NAME:
            yield SystemCommand(f"Screen: {name.title()}", f"Switch to the {name.title()} screen",
                                lambda n=name: self.action_show_screen(n))
        yield SystemCommand("Kill-switch: arm", "Show the emergency-stop plan for this profile, then fire",
                            self.action_arm_killswitch)
        if self._kill_results is not None:
            yield SystemCommand("Kill-switch: results", "Show the results of the last firing",
                                lambda: self.push_screen(self._kill_results))
        yield SystemCommand("Kill-switch: release HALTED latch", "Allow launches again", self.release_latch)
        # every action on the selected item of the focused pane (what its keys do, by name)
        pane = self._focused_pane(screen)
        if pane is not None and pane.selected is not None:
            key = pane.selected.key
            yield SystemCommand(palette_text(f"{pane.source.title}: Log of {key}"), "Open the selected item's log",
                                pane.action_open_log)
            yield SystemCommand(palette_text(f"{pane.source.title}: Describe {key}"), "Every field of the selected item",
                                pane.action_describe)
        if pane is not None:
            for action in pane.source.actions:
                yield SystemCommand(palette_text(f"{pane.source.title}: {action.label}"),
                                    palette_text(action.description or f"{action.label} the selected item"),
                                    lambda a=action.id, p=pane: p.action_pane_action(a))
        yield SystemCommand("Keys: help", "Every key binding", self.action_help)

    def open_in_launch(self, preset: str | None, parameters: dict) -> None:
        """Open the Launch form on `preset` with a run's parameters."""
        if not preset:
            self.notify("this run has no preset to clone into", severity="warning")
            return

        async def _clone() -> None:
            await self.switch_mode("launch")
            self.screen.load_values(preset, parameters)

        self.run_worker(_clone(), group="clone")

    # --- the kill-switch ---------------------------------------------------------------------------
    def action_arm_killswitch(self, notice: str = "") -> None:
        from opsconsole.ui.screens.killswitch import KillResultsScreen, KillSwitchModal

        if isinstance(self.screen, KillSwitchModal):
            self.screen.action_fire()  # the same key again fires
            return
        if isinstance(self.screen, KillResultsScreen):
            return
        if self._kill_task is not None and not self._kill_task.done():
            self.push_screen(self._kill_results)
            return
        if not self.guarded(policy.KILLSWITCH):
            return
        ks = self.context.killswitch()
        profile = self.context.profile
        if not profile.killswitch.confirm:
            self._fire(ks)
            return

        def _armed(fire: bool | None) -> None:
            if fire:
                self._fire(ks)
            else:
                self.notify("kill-switch cancelled")

        self.push_screen(KillSwitchModal(ks.plan(), profile.name, profile.environment, targets=ks.targets,
                                         notice=notice), callback=_armed)

    def _kill_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.notify(f"the kill-switch engine failed: {type(exc).__name__}: {exc} — check every system by hand",
                        title="KILL-SWITCH", severity="error", timeout=60, markup=False)

    def _fire(self, ks) -> None:
        """Fire on the app's loop (not the results screen's): hiding the table never cancels it."""
        from opsconsole.ui.screens.killswitch import KillResultsScreen

        results = KillResultsScreen(ks.plan())
        self._kill_results = results

        async def _run() -> None:
            report = await ks.fire(by=f"{getpass.getuser()}@opsconsole", on_update=results.update_result)
            self._kill_report = report
            results.finish(report)
            await self._refresh_halt()
            if not report.recorded or not report.latch_set:
                self.notify("the kill-switch could not record everything: see the results (ctrl+p → "
                            "Kill-switch: results)", title="KILL-SWITCH", severity="error", timeout=30, markup=False)

        self._kill_task = asyncio.create_task(_run())
        self._kill_task.add_done_callback(self._kill_done)
        self.halted = True
        # drawn after the steps are dispatched: the kill goes first, then the screen
        self.call_later(self.push_screen, results)
