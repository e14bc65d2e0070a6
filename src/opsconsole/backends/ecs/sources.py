"""The ECS pane: the cluster's tasks (running, then recently stopped) → a task's containers;
when the cluster has services, a first row "services ›" → the services. `d` describes, `l` opens a task's (or a container's) CloudWatch log,
`x` stops a task (the reason is recorded on it), `R` runs it again (a new ledger run)."""

from __future__ import annotations

import getpass
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import DESCRIBE, DRILL, LOG, ActionCall, ActionUnavailable, PaneSource
from opsconsole.backends.ecs import RERUN, STOP
from opsconsole.backends.ecs.models import STOP_REASON_PREFIX, EcsTask, task_id
from opsconsole.domain.items import Column, Item
from opsconsole.domain.states import State, normalize_state
from opsconsole.logs.aws import is_throttling

if TYPE_CHECKING:
    from opsconsole.backends.ecs import EcsSession
    from opsconsole.logs.ref import LogRef


SERVICES_ROW = "ecs:services"  # the tasks pane's first row when the cluster has services (enter: the services)
SERVICES_EVERY = 60.0  # seconds between two counts of the cluster's services


def stop_reason(session: "EcsSession", why: str = "stopped from the Status pane") -> str:
    """The reason recorded on a stopped task: who, from which profile, why."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers)
        user = "?"
    return f"{STOP_REASON_PREFIX}: {why} by {user} (profile {session.env.profile})"


class _Throttled:
    """Keeps the last good listing: while AWS throttles (after the client's backoff), a refresh
    returns it with a warning instead of turning the pane stale."""

    warning: str | None = None

    def __init__(self) -> None:
        self._last: list[Item] = []
        self._last_at: float | None = None

    def _kept(self, exc: BaseException) -> list[Item]:
        if not is_throttling(exc):
            raise exc
        when = "" if self._last_at is None else f" (listed {time.monotonic() - self._last_at:.0f}s ago)"
        self.warning = f"AWS is throttling: showing the last listing{when}; retrying"
        return self._last

    def _fresh(self, items: list[Item], warning: str | None = None) -> list[Item]:
        self._last, self._last_at, self.warning = items, time.monotonic(), warning
        return items


class EcsTasksSource(_Throttled, PaneSource):
    key = "ecs"
    scope = "ecs"
    capabilities = frozenset({DRILL, DESCRIBE, LOG})
    actions = (STOP, RERUN)
    columns = (
        Column("task", "TASK", 12),
        Column("family", "FAMILY", 24),
        Column("rev", "REV", 4),
        Column("state", "STATE", 13),
        Column("desired", "DESIRED", 8, optional=True),
        Column("started", "STARTED (UTC)", 19, optional=True),
        Column("duration", "DURATION", 8),
        Column("exit", "EXIT", 5),
        Column("cpu_mem", "CPU/MEM", 10, optional=True),
        Column("reason", "STOPPED REASON", 28, optional=True),
        Column("tags", "TAGS", 30, optional=True),
        Column("started_by", "STARTED BY", 14, optional=True),
    )

    def __init__(self, session: "EcsSession") -> None:
        _Throttled.__init__(self)
        self.session = session
        self.title = f"ECS {session.settings.cluster}"
        self.interval = session.settings.poll_interval
        self.objects: dict[str, EcsTask] = {}
        self._services_count = 0
        self._services_at: float | None = None

    async def fetch(self) -> list[Item]:
        try:
            listing = await self.session.client.tasks()
            services = await self._services()
        except Exception as exc:  # noqa: BLE001 - throttling keeps the last listing, the rest raises
            return self._kept(exc)
        self.objects = {t.arn: t for t in listing.tasks}
        warning = f"showing the first {self.session.settings.task_limit} tasks" if listing.truncated else None
        rows = [task_item(t) for t in listing.tasks]
        if services:
            rows.insert(0, Item(key=SERVICES_ROW, state=State.RUNNING, cells={
                "task": "services ›", "family": f"{services} service{'s' if services > 1 else ''}", "state": "active"},
                detail={"services": services, "cluster": self.session.settings.cluster}))
        return self._fresh(rows, warning)

    async def _services(self) -> int:
        """How many services the cluster has (asked at most every SERVICES_EVERY s)."""
        if not self.session.settings.services:
            return 0
        now = time.monotonic()
        if self._services_at is None or now - self._services_at >= SERVICES_EVERY:
            self._services_at = now
            try:
                self._services_count = len(await self.session.client.service_arns())
            except Exception:  # noqa: BLE001 - no ecs:ListServices permission must not hide the tasks
                pass
        return self._services_count

    def task(self, item: Item | None) -> EcsTask:
        if item is None or item.key == SERVICES_ROW:
            raise ActionUnavailable("select a task first")
        task = self.objects.get(item.key)
        if task is None:
            raise ActionUnavailable(f"{item.key}: not in the last refresh")
        return task

    def drill(self, item: Item) -> PaneSource | None:
        if item.key == SERVICES_ROW:
            return EcsServicesSource(self.session)
        task = self.objects.get(item.key)
        return EcsContainersSource(self.session, task) if task is not None else None

    async def describe(self, item: Item) -> dict[str, Any]:
        if item.key == SERVICES_ROW:
            return {"services": await self.session.client.services()}
        task = self.task(item)
        (fresh,) = await self.session.client.describe([task.arn]) or [task]
        return fresh.raw

    async def open_log(self, item: Item) -> "LogRef":
        from opsconsole.backends.ecs.logs import task_log

        return await task_log(self.session, self.task(item), None)

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id == STOP.id:
            return stop_call(self.session, self.task(item))
        if action_id == RERUN.id:
            return rerun_call(self.session, self.task(item))
        return await super().prepare(action_id, item)


def task_item(task: EcsTask) -> Item:
    return Item(key=task.arn, state=task.state, cells=task.cells(), started_at=task.started_at,
                ended_at=task.stopped_at if task.started_at else None, detail=task.raw)


def stop_call(session: "EcsSession", task: EcsTask) -> ActionCall:
    if task.stopped:
        raise ActionUnavailable(f"task {task.id} is already stopped")
    reason = stop_reason(session)

    async def run(_value: Any) -> str:
        stopped = await session.client.stop(task.arn, reason)
        return f"task {task.id} ({task.family}:{task.revision}): stop sent, now {stopped.last_status or '?'}"

    return ActionCall(STOP, f"Stop ECS task {task.id}?",
                      f"{task.family}:{task.revision} on cluster {session.settings.cluster}: ECS sends SIGTERM to "
                      f"its containers, then SIGKILL after their stop timeout.\nReason recorded on the task: {reason}",
                      [f"ecs task {task.arn}"], run, confirm_label="Stop task")


def rerun_call(session: "EcsSession", task: EcsTask) -> ActionCall:
    async def run(_value: Any) -> str:
        from opsconsole.backends.ecs.target import EcsTarget

        return await EcsTarget(session).rerun(task)

    return ActionCall(RERUN, f"Run {task.family}:{task.revision} again?",
                      f"A new task with the same task definition, container overrides and tags as {task.id} "
                      f"(network from profile {session.env.profile}); recorded as a new ledger run.",
                      [f"ecs task {task.arn}"], run, confirm_label="Run again")


class EcsContainersSource(PaneSource):
    """The containers of one task (from the last refresh; `d` describes the task afresh)."""

    key = "ecs-containers"
    scope = "ecs"
    capabilities = frozenset({DESCRIBE, LOG})
    actions = ()
    columns = (
        Column("name", "CONTAINER", 24),
        Column("state", "STATE", 12),
        Column("exit", "EXIT", 5),
        Column("health", "HEALTH", 10, optional=True),
        Column("image", "IMAGE", 40, optional=True),
        Column("cpu_mem", "CPU/MEM", 10, optional=True),
        Column("reason", "REASON", 30, optional=True),
    )

    def __init__(self, session: "EcsSession", task: EcsTask) -> None:
        self.session = session
        self.task = task
        self.title = f"task {task.id[:12]}"
        self.interval = session.settings.poll_interval

    async def fetch(self) -> list[Item]:
        found = await self.session.client.describe([self.task.arn])
        if found:
            self.task = found[0]
        return [self._item(c) for c in self.task.containers]

    def _item(self, c: dict[str, Any]) -> Item:
        status = str(c.get("lastStatus") or "")
        if status == "STOPPED":
            state = State.SUCCESS if c.get("exitCode") == 0 else State.FAILED
        else:
            state = normalize_state(status)
        return Item(key=str(c.get("name", "")), state=state, cells={
            "name": c.get("name", ""), "state": status.lower(),
            "exit": "" if c.get("exitCode") is None or status != "STOPPED" else c.get("exitCode"),
            "health": str(c.get("healthStatus") or "").lower(), "image": c.get("image", ""),
            "cpu_mem": f"{c.get('cpu') or ''}/{c.get('memory') or ''}", "reason": c.get("reason", "")}, detail=c)

    async def describe(self, item: Item) -> dict[str, Any]:
        return item.detail

    async def open_log(self, item: Item) -> "LogRef":
        from opsconsole.backends.ecs.logs import task_log

        return await task_log(self.session, self.task, item.key)


class EcsServicesSource(_Throttled, PaneSource):
    """The cluster's services (a drill-down of the tasks pane's "services ›" row)."""

    key = "ecs-services"
    scope = "ecs"
    capabilities = frozenset({DESCRIBE})
    actions = ()
    interval = 30.0
    columns = (
        Column("name", "SERVICE", 28),
        Column("state", "STATUS", 10),
        Column("counts", "RUN/DES/PEND", 12),
        Column("taskdef", "TASK DEFINITION", 28, optional=True),
        Column("launch", "LAUNCH", 8, optional=True),
        Column("deploy", "DEPLOYMENT", 14, optional=True),
    )

    def __init__(self, session: "EcsSession") -> None:
        _Throttled.__init__(self)
        self.session = session
        self.title = "services"

    async def fetch(self) -> list[Item]:
        try:
            services = await self.session.client.services()
        except Exception as exc:  # noqa: BLE001 - throttling keeps the last listing
            return self._kept(exc)
        return self._fresh([self._item(s) for s in services], None if services else "none in this cluster")

    @staticmethod
    def _item(s: dict[str, Any]) -> Item:
        running, desired = int(s.get("runningCount") or 0), int(s.get("desiredCount") or 0)
        status = str(s.get("status") or "")
        state = State.RUNNING if status == "ACTIVE" and running >= desired else (
            State.QUEUED if status == "ACTIVE" else State.STOPPED)
        deployments = s.get("deployments") or []
        rollout = str(deployments[0].get("rolloutState") or deployments[0].get("status") or "") if deployments else ""
        created = s.get("createdAt")
        return Item(key=str(s.get("serviceArn") or s.get("serviceName")), state=state, cells={
            "name": s.get("serviceName", ""), "state": status.lower(),
            "counts": f"{running}/{desired}/{int(s.get('pendingCount') or 0)}",
            "taskdef": task_id(str(s.get("taskDefinition") or "")), "launch": s.get("launchType", ""),
            "deploy": rollout.lower()}, created_at=created if isinstance(created, datetime) else None, detail=s)
