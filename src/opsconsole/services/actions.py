"""The one action path, for the UI and the CLI alike: refuse → confirm → run → audit.

* Refuse: domain.policy decides, fail-closed. The HALTED latch is read from the ledger here, off
  the event loop, at the moment of the action (not a cached copy); a latch that cannot be read
  refuses every action that starts work.
* Confirm: the caller's `confirm(call)` (a modal in the UI, a typed answer in the CLI); an
  action whose call says `confirm=False` skips it.
* Run: the call's coroutine; any exception is the outcome "failed", never a crash.
* Audit: every non-view action leaves one row in the ledger's action audit — who, when,
  profile, action, objects, outcome (ok / failed / refused / cancelled) and detail. A failure to
  write it is reported in the outcome's detail, never hidden (and never stops the action).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from opsconsole.domain import policy
from opsconsole.domain.actions import Action, ActionCall, ActionOutcome

if TYPE_CHECKING:
    from opsconsole.services.context import Context

log = logging.getLogger(__name__)

OK, FAILED, REFUSED, CANCELLED = "ok", "failed", "refused", "cancelled"

Confirm = Callable[[ActionCall], Awaitable[bool]]

# The app's own actions, declared like a backend's (their ids are key binding ids too).
LAUNCH = Action("launch.launch", "Launch", "ctrl+l,f5", policy.LAUNCH, "launch the preset (with its sweep)")
RELEASE = Action("runs.release", "Release HALT", "R", policy.CHANGE, "release the HALTED latch")


class ActionRunner:
    def __init__(self, context: "Context", who: str) -> None:
        self.context = context
        self.who = who

    async def refusal(self, call: ActionCall) -> str | None:
        """Why the call may not run now, or None."""
        profile = self.context.profile
        cls = call.policy
        if cls == policy.VIEW:
            return None
        halt, unknown = None, False
        if not profile.readonly:
            try:
                halt = await asyncio.to_thread(self.context.ledger.halt_latch)
            except Exception as exc:  # noqa: BLE001 - fail-closed: see policy.refusal
                log.warning("halt latch unreadable: %s", exc)
                unknown = True
        return policy.refusal(cls, profile=profile.name, readonly=profile.readonly, halt=halt,
                              halt_unknown=unknown, label=call.name)

    async def run(self, call: ActionCall, *, confirm: Confirm | None = None, value: Any = None) -> ActionOutcome:
        """Refuse, confirm, run and audit `call`; `value` is what the operator typed (JSON)."""
        call_id = uuid.uuid4().hex[:12]
        reason = await self.refusal(call)
        if reason is None and call.extra.get("precheck") is not None:
            # what would make it fail anyway is said before anyone is asked "Launch on LIVE?"
            reason = await call.extra["precheck"]()
        if reason is not None:
            return await self._done(call, call_id, REFUSED, reason)
        if call.confirm and confirm is not None and not await confirm(call):
            return await self._done(call, call_id, CANCELLED, "cancelled by the operator")
        try:
            detail = await call.run(value)
        except Exception as exc:  # noqa: BLE001 - any backend error is an outcome, never a crash
            return await self._done(call, call_id, FAILED, f"{type(exc).__name__}: {exc}" if str(exc)
                                    else type(exc).__name__)
        return await self._done(call, call_id, OK, detail or "done")

    async def _done(self, call: ActionCall, call_id: str, outcome: str, detail: str) -> ActionOutcome:
        if call.policy != policy.VIEW:
            try:
                await asyncio.to_thread(
                    self.context.ledger.audit_action, call_id, who=self.who, profile=self.context.profile.name,
                    action=call.action.id, policy=call.policy, objects=call.objects, outcome=outcome, detail=detail)
            except Exception as exc:  # noqa: BLE001 - shown with the outcome, never hidden
                log.exception("action audit failed")
                detail = f"{detail} (NOT AUDITED: {type(exc).__name__}: {exc})"
        return ActionOutcome(call_id, outcome, detail)
