"""The kill step of an ECS profile (phase "stop"): stop every running task of the profile's
task families, or every task tagged `opsconsole:profile=<profile>` (`kill_by = "tag"`), then
describe them until each is STOPPED, within the step's deadline. Listings are capped
(`task_limit`) and bounded in time, so a huge cluster cannot push the step past its deadline."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from opsconsole.backends.ecs.models import EcsTask
from opsconsole.backends.ecs.settings import TAG_PROFILE
from opsconsole.domain.kill import STOP, KillObject, KillStep, StepLog

if TYPE_CHECKING:
    from opsconsole.backends.ecs import EcsSession

KIND = "ecs task"
CONFIRM_EVERY = 1.0  # seconds between two describe rounds
LIST_SHARE = 0.4  # of the deadline, at most, for the listing


async def kill_candidates(session: "EcsSession", budget: float) -> list[EcsTask]:
    """The running tasks the kill-switch stops for this profile (bounded by `budget` seconds)."""
    settings = session.settings

    async def listing() -> list[EcsTask]:
        tasks = (await session.client.tasks(running_only=True)).tasks
        if settings.kill_by == "tag":
            return [t for t in tasks if t.tags.get(TAG_PROFILE) == session.env.profile and not t.stopped]
        return [t for t in tasks if settings.wants_family(t.family) and not t.stopped]

    return await asyncio.wait_for(listing(), budget)


def _ident(task: EcsTask) -> str:
    return f"{task.arn} ({task.family}:{task.revision})"


def ecs_kill_step(session: "EcsSession", deadline: float) -> KillStep:
    settings = session.settings
    what = (f"tagged {TAG_PROFILE}={session.env.profile}" if settings.kill_by == "tag"
            else f"of families {', '.join(settings.task_families)}" if settings.task_families else "of the cluster")

    async def action(log: StepLog) -> str:
        from opsconsole.backends.ecs.sources import stop_reason

        started = time.monotonic()
        tasks = await kill_candidates(session, max(1.0, deadline * LIST_SHARE))
        if not tasks:
            return f"no running ECS task {what} on {settings.cluster}"
        reason = stop_reason(session, "kill-switch")

        async def stop(task: EcsTask) -> bool:
            try:
                await session.client.stop(task.arn, reason)
            except Exception as exc:  # noqa: BLE001 - reported per task, the others go on
                log.failed(KIND, _ident(task), f"stop_task: {exc}")
                return False
            log.acted(KIND, _ident(task), "stop sent")
            return True

        sent = [t for t, ok in zip(tasks, await asyncio.gather(*(stop(t) for t in tasks))) if ok]
        log.progress(f"stop sent to {len(sent)} task(s); waiting for STOPPED")
        waiting = {t.arn: t for t in sent}
        stop_at = started + deadline - 0.5
        while waiting and time.monotonic() < stop_at:
            try:
                seen = await asyncio.wait_for(session.client.describe(list(waiting)),
                                              max(0.1, stop_at - time.monotonic()))
            except Exception:  # noqa: BLE001 - a describe timing out leaves them unconfirmed
                break
            for task in seen:
                if task.stopped and task.arn in waiting:
                    del waiting[task.arn]
                    log.confirmed(KIND, _ident(task), task.stopped_reason or "STOPPED")
            if waiting:
                await asyncio.sleep(min(CONFIRM_EVERY, max(0.0, stop_at - time.monotonic())))
        for task in waiting.values():
            log.not_confirmed(KIND, _ident(task), "not seen STOPPED within the deadline")
        return f"{len(sent) - len(waiting)} of {len(tasks)} task(s) {what} STOPPED"

    async def targets() -> list[KillObject]:
        tasks = await kill_candidates(session, max(1.0, min(10.0, deadline * LIST_SHARE)))
        return [KillObject(KIND, _ident(t)) for t in tasks]

    return KillStep(
        name=f"stop ECS tasks ({settings.cluster})", kind="ecs",
        description=f"stop_task every running task {what} on cluster {settings.cluster}, "
                    "confirm each is STOPPED by describe_tasks",
        action=action, deadline=deadline, phase=STOP, targets=targets,
    )
