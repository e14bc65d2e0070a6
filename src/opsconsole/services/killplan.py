"""The kill-switch plan of a profile: one step per stoppable thing it has.

Backends contribute steps as they land (Airflow: mark runs failed and pause DAGs; ECS: stop
tasks; SSH: stop services; exchanges: cancel orders...). All run concurrently when fired."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsconsole.services.context import Context
    from opsconsole.services.killswitch import KillStep


def build_plan(context: "Context") -> list["KillStep"]:
    from opsconsole.services.killswitch import local_kill_step

    ks = context.profile.killswitch
    steps = []
    step = local_kill_step(context.ledger, grace=context.profile.local.grace, deadline=ks.deadline)
    step.enabled = ks.local
    steps.append(step)
    if context.profile.airflow:
        from opsconsole.services.airflow_sources import airflow_kill_step

        steps.append(airflow_kill_step(context))
    return steps
