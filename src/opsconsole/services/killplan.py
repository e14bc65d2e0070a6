"""The kill-switch plan of a profile: the circuit breaker (if configured), every enabled
backend's steps (registry order: the local runner first), the alert webhook (if configured).
The engine runs them by phase (domain/kill.py PHASES); inside a phase, concurrently.

Deadlines: ``[killswitch] deadline`` for every step, ``deadlines = { <kind> = s }`` per step
kind (a backend's step kind, ``breaker``, ``alert``...), ``circuit_breaker.deadline`` for the
breaker. Every configured step is in the plan: a key that cannot be honoured is refused by
``config check`` ("not supported yet"), never accepted and left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsconsole.domain.kill import KillStep
    from opsconsole.services.context import Context

BREAKER_DEADLINE = 10.0  # a breaker is one HTTP call: it should answer fast
ALERT_DEADLINE = 10.0


def build_plan(context: "Context") -> list["KillStep"]:
    ks = context.profile.killswitch
    per_kind = dict(ks.deadlines or {})
    steps: list[KillStep] = []
    if ks.circuit_breaker:
        from opsconsole.backends.hooks import breaker_step

        deadline = ks.circuit_breaker.get("deadline") or per_kind.get("breaker") or min(ks.deadline, BREAKER_DEADLINE)
        steps.append(breaker_step(ks.circuit_breaker, float(deadline)))
    for session in context.sessions:
        for step in session.kill_steps():
            if step.kind in per_kind:
                step.deadline = float(per_kind[step.kind])
            steps.append(step)
    if ks.alert_webhook:
        from opsconsole.backends.hooks import alert_step

        steps.append(alert_step(ks.alert_webhook, float(per_kind.get("alert") or min(ks.deadline, ALERT_DEADLINE))))
    return steps
