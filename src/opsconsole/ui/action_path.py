"""The UI's side of the one action path (services/actions.py): every action from a pane, the
palette, the Launch or Runs screen is refused (read-only, HALTED, fail-closed), given its input,
confirmed with Cancel as the default, run in a worker and audited; its outcome is shown, never a
crash. Mixed into the app so every screen reaches it as `self.app`."""

from __future__ import annotations

import asyncio
import getpass
from typing import TYPE_CHECKING

from opsconsole.domain import policy

if TYPE_CHECKING:
    from opsconsole.domain.actions import ActionOutcome
    from opsconsole.services.context import Context


class ActionPath:
    """Methods of OpsConsole (an App with `context`, `latch` and `open_in_launch`)."""

    context: "Context"

    @property
    def who(self) -> str:
        return f"{getpass.getuser()}@opsconsole"

    @property
    def actions(self):
        from opsconsole.services.actions import ActionRunner

        return ActionRunner(self.context, self.who)

    def refusal(self, action: str) -> str | None:
        """A quick answer for keys that open a screen first (the latch as last read, every 2 s);
        the action runner checks again, from the ledger, when the action runs."""
        latch = self.latch if policy.policy_of(action) == policy.LAUNCH else None
        p = self.context.profile
        return policy.refusal(action, profile=p.name, readonly=p.readonly, halt=latch)

    def guarded(self, action: str) -> bool:
        reason = self.refusal(action)
        if reason:
            self._refused(reason)
            return False
        return True

    def _refused(self, reason: str) -> None:
        self.notify(reason, title="refused", severity="error", timeout=8, markup=False)
        self.bell()

    async def _confirm_call(self, call) -> bool:
        profile = self.context.profile
        body = call.body
        if policy.needs_confirmation(call.policy, production=profile.production):
            body = f"{body}\n\non profile {profile.name} [{profile.environment}]"
        from opsconsole.ui.screens.confirm import ConfirmScreen

        return bool(await self.push_screen_wait(ConfirmScreen(call.title, body, call.confirm_label)))

    async def run_action_call(self, call) -> "ActionOutcome | None":
        """The one path for an action from a pane, the palette or a screen: refused (read-only,
        HALTED, fail-closed) → its input (a preset's typed Launch form, or a JSON object) →
        confirmed (Cancel is the default) → run → audited; the outcome is shown, never a crash.
        None when the operator left the input (or went to the Launch form instead). Keys typed
        before its first dialog shows are held back (never shortcuts)."""
        if not (call.confirm or call.ask_json is not None):
            return await self._run_action_call(call)
        async with self.dialog_coming():
            return await self._run_action_call(call)

    async def _run_action_call(self, call) -> "ActionOutcome | None":
        runner = self.actions
        # asked before the input is: a refused action asks for nothing (the runner asks again
        # when it runs, as the latch may have been set meanwhile)
        reason = await runner.refusal(call)
        value = None
        if reason is None and call.ask_json is not None:
            if call.preset is not None and await self._open_matching_preset(call):
                return None
            try:
                default = await call.ask_json()
            except Exception as exc:  # noqa: BLE001 - an empty object still lets the operator go on
                self.notify(f"{call.title.rstrip('?')}: defaults unavailable ({exc})", severity="warning",
                            markup=False)
                default = {}
            from opsconsole.ui.screens.json_input import JsonInputScreen

            value = await self.push_screen_wait(JsonInputScreen(call.title.rstrip("?"), default))
            if value is None:
                self.notify(f"{call.title.rstrip('?')}: cancelled", markup=False)
                return None
            if call.confirm:
                import json

                call.body = f"{call.body}\n{json.dumps(value, indent=2)}"
        elif reason is None and call.ask_line is not None:
            from opsconsole.ui.screens.line_prompt import LinePrompt

            value = await self.push_screen_wait(LinePrompt(call.ask_line, call.line_default))
            if not value:
                self.notify(f"{call.title.rstrip('?')}: cancelled", markup=False)
                return None
            call.body = f"{call.body}\n{value}"
        if call.extra.get("terminal"):
            value = self._run_in_terminal  # the call runs an interactive program (ssh) itself
        outcome = await runner.run(call, confirm=self._confirm_call, value=value)
        if call.open_log is not None:  # the call's output as a log tab (an exec, run on all hosts), even failed
            self.open_log(call.open_log, title=getattr(call.open_log, "title", None))
        if outcome.outcome == "refused":
            self._refused(outcome.detail)
        elif outcome.outcome == "cancelled":
            self.notify(f"{call.title.rstrip('?')}: cancelled", markup=False)
        elif outcome.outcome == "failed":
            self.notify(outcome.detail, title=f"{call.name} failed", severity="error", timeout=10, markup=False)
        else:
            self.notify(outcome.detail, title=call.name, markup=False)
            if call.interactive is not None:
                self.run_interactive(call.interactive)
        for pane in self.screen.query("SourcePane"):
            pane.refresh_now()
        then = call.extra.get("then")
        if outcome.ok and then is not None:  # a follow-up the action offers (unpause what was triggered)
            try:
                follow = await then()
            except Exception as exc:  # noqa: BLE001 - the action itself went through
                self.notify(f"{call.name}: the follow-up is unavailable ({exc})", severity="warning", markup=False)
            else:
                if follow is not None:
                    await self.run_action_call(follow)
        return outcome

    async def _run_in_terminal(self, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Run an interactive program (ssh into a host, a shell in a pod) on the console's
        terminal: the app is suspended meanwhile and redrawn after. Returns its exit code."""
        import os
        import subprocess

        from textual.app import SuspendNotSupported

        try:
            with self.suspend():
                try:
                    return subprocess.call(argv, env={**os.environ, **env} if env else None)
                except OSError as exc:
                    print(f"opsconsole: cannot run {argv[0]}: {exc}")
                    return 127
        except SuspendNotSupported:
            raise RuntimeError("this terminal cannot be handed over (the console cannot suspend here)") from None

    def run_interactive(self, command) -> None:
        """An action's interactive command set by its run (a shell in a pod): run on the
        operator's terminal once the action succeeded; how it ended is shown."""
        async def go() -> None:
            title = command.title or command.argv[0]
            try:
                code = await self._run_in_terminal(list(command.argv), command.env)
            except Exception as exc:  # noqa: BLE001 - no terminal to hand over (tests, a headless run)
                self.notify(f"{title}: {type(exc).__name__}: {exc}", severity="error", markup=False)
                return
            self.notify(f"{title}: exited with {code}", markup=False,
                        severity="information" if code == 0 else "warning")

        self.run_worker(go(), group="interactive", exit_on_error=False)

    async def _open_matching_preset(self, call) -> bool:
        """A preset that launches what the call would (e.g. the DAG to trigger) opens the typed
        Launch form instead of a raw JSON editor."""
        from opsconsole.services.catalog import load_catalog

        want = dict(call.preset or {})
        target = want.pop("target", None)
        catalog = await asyncio.to_thread(load_catalog, self.context.preset_dirs())
        preset = next((p for p in catalog.presets if p.target == target
                       and all(p.table(target).get(k) == v for k, v in want.items())), None)
        if preset is None:
            return False
        self.notify(f"{call.title.rstrip('?')}: launching through preset {preset.name}", markup=False)
        self.open_in_launch(preset.name, {})
        return True

    def launch_plan(self, plan) -> None:
        """Launch a plan (one run or a sweep) through the action path: refused while read-only
        or HALTED, confirmed on a production profile, audited."""
        from opsconsole.domain.actions import ActionCall
        from opsconsole.services.actions import LAUNCH

        profile = self.context.profile
        count = len(plan.specs)
        label = f"{plan.preset.name}: {count} run{'s' if count != 1 else ''} → {plan.target_label}"
        launched: list = []

        async def run(_) -> str:
            from opsconsole.services.launcher import launch

            launched.extend(await launch(self.context, plan))
            # an incremental preset skips what already succeeded: said, never a silent "launched"
            skipped = [r for r in launched if r.state.value == "skipped"]
            started = [r for r in launched if r not in skipped]
            parts = [f"run {', '.join(str(r.id) for r in started)}"] if started else ["nothing launched"]
            parts += [f"run {r.id} SKIPPED: {r.error or 'skipped'}" for r in skipped[:5]]
            if len(skipped) > 5:
                parts.append(f"{len(skipped) - 5} more skipped")
            if skipped:
                parts.append("(incremental preset: change a value, or set incremental = false, to run it again)")
            return f"{label}: " + "; ".join(parts)

        async def precheck() -> str | None:
            from opsconsole.services.launcher import precheck as check

            return await check(self.context, plan)

        call = ActionCall(LAUNCH, f"Launch on {profile.environment}?",
                          label, [label], run,  # _confirm_call names the profile and environment
                          confirm_label=f"Launch on {profile.environment}",
                          confirm=policy.needs_confirmation(policy.LAUNCH, production=profile.production),
                          label="launch", extra={"precheck": precheck})

        async def _launch() -> None:
            outcome = await self.run_action_call(call)
            if outcome is None or not outcome.ok:
                return
            await self.switch_mode("status")
            for pane in self.screen.query("SourcePane"):
                # the new run is selected in the pane of the backend it went to
                mine = launched and pane.source.scope == plan.preset.target
                pane.refresh_now(select=str(launched[0].id) if mine else None)

        self.run_worker(_launch(), group="launch")

    def release_latch(self) -> None:
        if not self.guarded(policy.RELEASE):
            return

        async def _release() -> None:
            from opsconsole.domain.actions import ActionCall
            from opsconsole.services.actions import RELEASE

            try:
                latch = await asyncio.to_thread(self.context.ledger.halt_latch)
            except Exception as exc:  # noqa: BLE001 - a release must be audited: no ledger, no release
                self.notify(f"cannot release: the ledger is unusable ({exc}); HALTED stays set",
                            title="release", severity="error", timeout=15, markup=False)
                return
            if latch is None:
                self.notify("not halted: nothing to release")
                return
            ks = self.context.killswitch()
            # what is still open (orders, runs) and balances vs the last snapshot, in view
            # before the operator confirms
            from opsconsole.services.reconcile import format_reconciliation, reconciliation

            self.notify("reconciling before the release…", title="release", timeout=3)
            try:
                recon = format_reconciliation(await reconciliation(self.context))
            except Exception as exc:  # noqa: BLE001 - shown, and the operator decides
                recon = f"reconciliation failed: {type(exc).__name__}: {exc}"
            lines = recon.splitlines()
            if len(lines) > 24:
                lines = lines[:24] + [f"… and {len(lines) - 24} more lines (opsconsole release prints them all)"]

            async def run(_) -> str:
                await asyncio.to_thread(ks.release, self.who)
                return "HALTED latch released: launches allowed again"

            await self.run_action_call(ActionCall(
                RELEASE, "Release the HALTED latch?",
                f"Set {latch.set_at:%Y-%m-%d %H:%M:%S} UTC by {latch.by}: {latch.reason}.\n"
                "Launches will be allowed again.\n\n" + "\n".join(lines), ["halt latch"], run,
                confirm_label="Release", label="release"))
            self.refresh_halt()

        self.run_worker(_release(), group="release")
