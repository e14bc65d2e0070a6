"""Launch target `ecs`: one `run_task` per sweep point (at most `max_parallel` submissions at
once), the run kind's command as the container's command override, the preset's environment,
opsconsole tags and the profile's network configuration. Every task is a ledger run (recorded
before it is submitted, the latch checked again just before); `sync` follows each to STOPPED
and records its exit code."""

from __future__ import annotations

import asyncio
import getpass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import LaunchRefused
from opsconsole.backends.ecs import LEDGER_PREFIX
from opsconsole.backends.ecs.models import EcsTask, family_of
from opsconsole.backends.ecs.settings import TAG_PRESET, TAG_PROFILE, TAG_RUN_ID, TAG_USER
from opsconsole.domain.models import RunRecord, RunSpec
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.ecs import EcsSession
    from opsconsole.config.presets import Preset

RERUN_KIND = "ecs-rerun"  # the ledger's kind of a task run again from the pane
STARTED_BY = "opsconsole"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers)
        return "unknown"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class EcsTarget:
    name = "ecs"

    def __init__(self, session: "EcsSession") -> None:
        self._session = session

    async def wait(self, records: list[RunRecord], *, started_only: bool = False) -> None:
        return None  # the tasks live in ECS: the ledger follows them (sync)

    def _tags(self, record_id: int, preset: str | None, extra: dict[str, str] | None = None) -> list[dict[str, str]]:
        tags = dict(extra or {})
        tags.update({TAG_RUN_ID: str(record_id), TAG_USER: _user(), TAG_PROFILE: self._session.env.profile})
        if preset:
            tags[TAG_PRESET] = preset
        return [{"key": k, "value": v[:256]} for k, v in sorted(tags.items())]

    async def _container(self, task_definition: str, wanted: str | None) -> str:
        if wanted:
            return wanted
        definition = await self._session.client.task_definition(task_definition)
        containers = definition.get("containerDefinitions") or []
        if not containers:
            raise LaunchRefused(f"task definition {task_definition} has no container")
        return str(containers[0]["name"])

    def _run_kw(self, launch_type: str | None) -> dict[str, Any]:
        settings = self._session.settings
        kw: dict[str, Any] = {"count": 1, "startedBy": STARTED_BY}
        launch_type = launch_type or settings.launch_type
        if launch_type:
            kw["launchType"] = launch_type
        if settings.platform_version:
            kw["platformVersion"] = settings.platform_version
        network = settings.network_configuration()
        if network:
            kw["networkConfiguration"] = network
        return kw

    async def launch(self, preset: "Preset", specs: list[RunSpec]) -> list[RunRecord]:
        session = self._session
        store = session.env.store()
        if await asyncio.to_thread(store.halt_latch) is not None:
            raise LaunchRefused("HALTED: launches are refused until the kill-switch latch is released")
        table = preset.table("ecs")
        task_definition = str(table["task_definition"])
        family = family_of(task_definition)[0]
        if not session.settings.wants_family(family):
            raise LaunchRefused(f"task family {family!r} is not one of profile {session.env.profile!r}'s "
                                f"task_families ({', '.join(session.settings.task_families)})")
        container = await self._container(task_definition, table.get("container"))
        environment = {str(k): str(v) for k, v in (table.get("environment") or {}).items()}
        base = self._run_kw(table.get("launch_type"))
        records = [await asyncio.to_thread(store.create_run, spec) for spec in specs]  # the ledger first
        gate = asyncio.Semaphore(session.settings.max_parallel)

        async def one(record: RunRecord, spec: RunSpec) -> RunRecord:
            async with gate:
                env = {**environment, **spec.env}
                override: dict[str, Any] = {"name": container, "command": list(spec.command)}
                if env:
                    override["environment"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
                kw = dict(base, taskDefinition=task_definition, overrides={"containerOverrides": [override]},
                          tags=self._tags(record.id, preset.name))
                return await self._submit(record, kw)

        return list(await asyncio.gather(*(one(r, s) for r, s in zip(records, specs))))

    async def _submit(self, record: RunRecord, kw: dict[str, Any]) -> RunRecord:
        store = self._session.env.store()
        # a kill-switch fired mid-sweep must not be overtaken by the rest of the sweep
        if await asyncio.to_thread(store.halt_latch) is not None:
            return await asyncio.to_thread(store.update_run, record.id, state=State.SKIPPED,
                                           error="HALTED before it was submitted", ended_at=_now())
        try:
            answer = await self._session.client.run_task(**kw)
        except Exception as exc:  # noqa: BLE001 - recorded on the run, the others go on
            return await asyncio.to_thread(store.update_run, record.id, state=State.FAILED,
                                           error=f"run_task failed: {exc}", ended_at=_now())
        tasks, failures = answer.get("tasks") or [], answer.get("failures") or []
        if not tasks:
            why = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')} {f.get('detail', '')}".strip()
                            for f in failures) or "no task started"
            return await asyncio.to_thread(store.update_run, record.id, state=State.FAILED,
                                           error=f"run_task: {why}", ended_at=_now())
        task = EcsTask(tasks[0])
        return await asyncio.to_thread(store.update_run, record.id, external_id=task.arn,
                                       state=task.state if task.state.active else State.QUEUED,
                                       started_at=task.started_at or _now())

    async def rerun(self, task: EcsTask) -> str:
        """The pane's "run again": the same task definition, overrides and tags (a new run id),
        the profile's network; recorded in the ledger like a launch."""
        session = self._session
        store = session.env.store()
        if await asyncio.to_thread(store.halt_latch) is not None:
            raise LaunchRefused("HALTED: launches are refused until the kill-switch latch is released")
        overrides = task.raw.get("overrides") or {}
        command = next((list(c.get("command") or []) for c in overrides.get("containerOverrides") or []
                        if c.get("command")), [])
        definition = str(task.raw.get("taskDefinitionArn", ""))
        family, revision = family_of(definition)
        spec = RunSpec(kind=RERUN_KIND, command=command, parameters={"rerun_of": task.arn},
                       preset=task.tags.get(TAG_PRESET), target=f"{LEDGER_PREFIX}{family}:{revision}",
                       shell=" ".join(command) or None)
        record = await asyncio.to_thread(store.create_run, spec)
        keep = {k: v for k, v in task.tags.items() if k not in (TAG_RUN_ID, TAG_USER, TAG_PROFILE, TAG_PRESET)}
        kw = dict(self._run_kw(task.raw.get("launchType")), taskDefinition=definition,
                  tags=self._tags(record.id, spec.preset, keep))
        clean = {k: v for k, v in overrides.items() if k in ("containerOverrides", "cpu", "memory", "taskRoleArn",
                                                              "executionRoleArn", "ephemeralStorage")}
        if clean:
            kw["overrides"] = clean
        result = await self._submit(record, kw)
        if result.state is State.FAILED:
            raise RuntimeError(f"{family}:{revision}: {result.error} (ledger run {result.id})")
        return f"{family}:{revision}: started task {(result.external_id or '').rsplit('/', 1)[-1]}; ledger run {result.id}"


async def sync_ecs_runs(session: "EcsSession") -> list[str]:
    """Bring the ledger's active ECS runs up to date: state, start/stop times, the exit code and
    the stopped reason once STOPPED. Returns the problems met, one per run."""
    store = session.env.store()
    active = [r for r in await asyncio.to_thread(store.active_runs)
              if r.target.startswith(LEDGER_PREFIX) and r.external_id]
    if not active:
        return []
    try:
        tasks = {t.arn: t for t in await session.client.describe([r.external_id or "" for r in active])}
    except Exception as exc:  # noqa: BLE001 - reported by the caller
        return [f"ecs: describe_tasks failed: {type(exc).__name__}: {exc}"]
    problems: list[str] = []
    for record in active:
        task = tasks.get(record.external_id or "")
        if task is None:
            problems.append(f"run {record.id} ({record.external_id}): ECS no longer knows this task")
            continue
        fields: dict[str, Any] = {}
        state = task.state
        if state is State.QUEUED and record.state is State.QUEUED:
            continue
        if state != record.state:
            fields["state"] = state
        if task.started_at and task.started_at != record.started_at:
            fields["started_at"] = task.started_at
        if state.final:
            fields["exit_code"] = task.exit_code
            fields["ended_at"] = task.stopped_at or record.ended_at or _now()
            if task.stopped_reason and state is not State.SUCCESS:
                fields["error"] = task.stopped_reason
        if fields:
            await asyncio.to_thread(store.update_run, record.id, **fields)
    return problems
