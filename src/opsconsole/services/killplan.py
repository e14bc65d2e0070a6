"""The kill-switch plan of a profile: every enabled backend's steps, in registry order (the
local runner first). All run concurrently when fired."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsconsole.domain.kill import KillStep
    from opsconsole.services.context import Context


def build_plan(context: "Context") -> list["KillStep"]:
    return [step for session in context.sessions for step in session.kill_steps()]
