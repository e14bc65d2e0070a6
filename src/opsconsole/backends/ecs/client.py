"""The ECS client of one profile: boto3 calls in worker threads (never on the event loop), each
bounded by the profile's timeout, retried with backoff while AWS throttles, listings paginated
and capped. The cluster's task listing is single-flight: a pane refresh, the ledger sync and
the kill-switch's target listing asking at once share one listing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from opsconsole.backends.ecs.models import EcsTask
from opsconsole.backends.ecs.settings import EcsSettings
from opsconsole.logs.aws import call_with_backoff, client

DESCRIBE_BATCH = 100  # describe_tasks takes at most 100 tasks
SERVICES_BATCH = 10  # describe_services takes at most 10


@dataclass
class TaskListing:
    """One refresh of the cluster: running tasks, then recently stopped ones (newest first)."""

    tasks: list[EcsTask]
    truncated: bool = False  # more tasks than task_limit: "showing N"
    at: float = field(default_factory=time.monotonic)


class EcsClient:
    def __init__(self, settings: EcsSettings) -> None:
        self.settings = settings
        self._definitions: dict[str, dict[str, Any]] = {}
        self._listing: asyncio.Future[TaskListing] | None = None
        self.calls = 0

    # -- plumbing ---------------------------------------------------------------------

    def _blocking(self, op: str, **kw: Any) -> Any:
        ecs = client("ecs", self.settings.aws)
        self.calls += 1
        return call_with_backoff(lambda: getattr(ecs, op)(**kw), budget=self.settings.timeout)

    async def call(self, op: str, **kw: Any) -> Any:
        """`ecs.<op>(**kw)` in a thread; throttling is retried within the profile's timeout."""
        return await asyncio.to_thread(self._blocking, op, **kw)

    # -- tasks ------------------------------------------------------------------------

    async def task_arns(self, desired_status: str, *, family: str | None = None, limit: int = 1000,
                        started_by: str | None = None) -> tuple[list[str], bool]:
        """Task ARNs of the cluster (paginated, at most `limit`); (arns, truncated)."""
        arns: list[str] = []
        token: str | None = None
        while True:
            kw: dict[str, Any] = {"cluster": self.settings.cluster, "desiredStatus": desired_status,
                                  "maxResults": 100}
            if family:
                kw["family"] = family
            if started_by:
                kw["startedBy"] = started_by
            if token:
                kw["nextToken"] = token
            page = await self.call("list_tasks", **kw)
            arns.extend(page.get("taskArns", []))
            token = page.get("nextToken")
            if len(arns) >= limit:
                return arns[:limit], bool(token) or len(arns) > limit
            if not token:
                return arns, False

    async def describe(self, arns: Iterable[str]) -> list[EcsTask]:
        """The tasks (with their tags), in batches of 100; tasks AWS no longer knows are left out."""
        arns = list(arns)
        batches = [arns[i:i + DESCRIBE_BATCH] for i in range(0, len(arns), DESCRIBE_BATCH)]
        pages = await asyncio.gather(*(self.call("describe_tasks", cluster=self.settings.cluster, tasks=b,
                                                 include=["TAGS"]) for b in batches))
        return [EcsTask(t) for page in pages for t in page.get("tasks", [])]

    async def families(self) -> list[str] | None:
        """The profile's task families (its globs matched against the ACTIVE families), or None
        when it names none (every task of the cluster)."""
        if not self.settings.task_families:
            return None
        globs = [p for p in self.settings.task_families if any(ch in p for ch in "*?[")]
        found = {p for p in self.settings.task_families if p not in globs}
        if globs:
            token: str | None = None
            for _ in range(50):  # 50 pages of 100 families at most
                kw: dict[str, Any] = {"status": "ACTIVE", "maxResults": 100}
                if token:
                    kw["nextToken"] = token
                page = await self.call("list_task_definition_families", **kw)
                found.update(f for f in page.get("families", []) if self.settings.wants_family(f))
                token = page.get("nextToken")
                if not token:
                    break
        return sorted(found)

    async def _list(self, *, running_only: bool = False) -> TaskListing:
        limit = self.settings.task_limit
        families = await self.families()
        statuses = ("RUNNING",) if running_only or not self.settings.stopped_limit else ("RUNNING", "STOPPED")
        arns: dict[str, list[str]] = {s: [] for s in statuses}
        truncated = False
        scopes: list[str | None] = list(families) if families is not None else [None]
        for status in statuses:
            cap = limit if status == "RUNNING" else self.settings.stopped_limit
            for n, family in enumerate(scopes):
                got, cut = await self.task_arns(status, family=family, limit=cap - len(arns[status]))
                arns[status].extend(got)
                if len(arns[status]) >= cap:
                    # a stopped listing cut at stopped_limit is by design; running tasks left out are not
                    truncated = truncated or (status == "RUNNING" and (cut or n < len(scopes) - 1))
                    break
        running = await self.describe(arns["RUNNING"])
        stopped = await self.describe(arns.get("STOPPED", []))
        running = [t for t in running if self.settings.wants_family(t.family)]
        stopped = [t for t in stopped if self.settings.wants_family(t.family)]
        stopped.sort(key=lambda t: (t.stopped_at is None, -(t.stopped_at.timestamp() if t.stopped_at else 0)))
        # a task asked to stop is listed under STOPPED by desired status but may still be stopping
        return TaskListing(running + stopped, truncated)

    async def tasks(self, *, running_only: bool = False) -> TaskListing:
        """The cluster's tasks of the profile's families, single-flight (callers asking while a
        listing runs get that listing)."""
        if running_only:
            return await self._list(running_only=True)
        pending = self._listing
        if pending is not None and not pending.done():
            return await asyncio.shield(pending)
        future: asyncio.Future[TaskListing] = asyncio.get_running_loop().create_future()
        self._listing = future
        try:
            listing = await self._list()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lone caller's error is not "never retrieved"
            raise
        future.set_result(listing)
        return listing

    async def stop(self, arn: str, reason: str) -> EcsTask:
        answer = await self.call("stop_task", cluster=self.settings.cluster, task=arn, reason=reason[:255])
        return EcsTask(answer.get("task", {}))

    async def run_task(self, **kw: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("run_task", cluster=self.settings.cluster, **kw)
        return result

    async def task_definition(self, arn: str) -> dict[str, Any]:
        """A task definition (cached: a revision never changes)."""
        found = self._definitions.get(arn)
        if found is None:
            answer = await self.call("describe_task_definition", taskDefinition=arn)
            found = self._definitions[arn] = answer.get("taskDefinition", {})
        return found

    # -- services ---------------------------------------------------------------------

    async def service_arns(self, limit: int = 500) -> list[str]:
        arns: list[str] = []
        token: str | None = None
        while len(arns) < limit:
            kw: dict[str, Any] = {"cluster": self.settings.cluster, "maxResults": 100}
            if token:
                kw["nextToken"] = token
            page = await self.call("list_services", **kw)
            arns.extend(page.get("serviceArns", []))
            token = page.get("nextToken")
            if not token:
                break
        return arns[:limit]

    async def services(self, limit: int = 500) -> list[dict[str, Any]]:
        arns = await self.service_arns(limit)
        batches = [arns[i:i + SERVICES_BATCH] for i in range(0, len(arns), SERVICES_BATCH)]
        pages = await asyncio.gather(*(self.call("describe_services", cluster=self.settings.cluster, services=b)
                                       for b in batches))
        return [s for page in pages for s in page.get("services", [])]
