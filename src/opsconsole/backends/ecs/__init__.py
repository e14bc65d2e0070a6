"""The ECS backend: one cluster's tasks (running and recently stopped) with their containers and
the cluster's services; stop a task or run it again; `target = "ecs"` runs one task per sweep
point with `run_task`, followed by the ledger to STOPPED and its exit code; a kill step stopping
the profile's tasks; task logs from CloudWatch and `opsconsole tail s3://…` / `cloudwatch://…`.
See docs/ecs.md.

boto3 is imported only when a session first calls AWS (in a worker thread): this module, the
settings and the schema are light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from opsconsole.backends.base import Backend, BackendSession, Preview, SessionEnv
from opsconsole.backends.ecs.settings import PRESET_SCHEMA, SCHEMA, EcsSettings
from opsconsole.domain import policy
from opsconsole.domain.actions import Action

if TYPE_CHECKING:
    from opsconsole.backends.base import LaunchTarget, PaneSource
    from opsconsole.backends.ecs.client import EcsClient
    from opsconsole.domain.kill import KillStep
    from opsconsole.logs.ref import LogRef
    from opsconsole.logs.spool import LogSpool

STOP = Action("ecs.stop", "Stop task", "x", policy.CHANGE, "stop the selected ECS task (the reason is recorded on the task)")
RERUN = Action("ecs.rerun", "Run again", "R", policy.LAUNCH, "run the selected task again: same task definition, overrides, network and tags")
ACTIONS = (STOP, RERUN)
LEDGER_PREFIX = "ecs:"


class EcsBackend(Backend):
    name = "ecs"
    title = "ECS"
    schema = SCHEMA
    preset_schema = PRESET_SCHEMA
    actions = ACTIONS

    def settings(self, table: Any) -> EcsSettings:
        return EcsSettings.from_table(table or {})

    def open(self, env: SessionEnv) -> "EcsSession":
        return EcsSession(self, env)

    def preset_problems(self, table: Mapping[str, Any]) -> list[tuple[tuple[object, ...], str]]:
        if not table.get("task_definition"):
            return [(("target",), 'target ecs needs the task definition to run: [ecs] task_definition = "family[:revision]"')]
        return []

    def ledger_target(self, preset: Any) -> str:
        return f"{LEDGER_PREFIX}{preset.table('ecs').get('task_definition')}"

    def target_label(self, preset: Any) -> str:
        return f"ECS task {preset.table('ecs').get('task_definition')}"

    def preview(self, spec: Any) -> list[Preview]:
        import json

        override = {"command": list(spec.command)}
        if spec.env:
            override["environment"] = [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
        return [Preview("container override (+ the preset's environment):", json.dumps(override, indent=1), "json")]

    def open_url(self, url: str, settings: Any | None) -> "LogRef":
        from opsconsole.backends.ecs.logs import open_url

        return open_url(url, settings if isinstance(settings, EcsSettings) else None)


class EcsSession(BackendSession):
    """One profile's ECS cluster: one client (its boto3 clients made on first use, in a thread)
    and one log spool, shared by the panes, the sync, the launch target and the kill step."""

    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.settings: EcsSettings = env.settings
        self._client: EcsClient | None = None
        self._spool: LogSpool | None = None

    @property
    def client(self) -> "EcsClient":
        if self._client is None:
            from opsconsole.backends.ecs.client import EcsClient

            self._client = EcsClient(self.settings)
        return self._client

    @property
    def spool(self) -> "LogSpool":
        if self._spool is None:
            from opsconsole.logs.spool import LogSpool

            self._spool = LogSpool(self.env.data_dir / "spool" / "ecs")
        return self._spool

    def sources(self) -> list["PaneSource"]:
        from opsconsole.backends.ecs.sources import EcsTasksSource

        return [EcsTasksSource(self)]  # the cluster's services: a row of it, when there are any

    def targets(self) -> list["LaunchTarget"]:
        from opsconsole.backends.ecs.target import EcsTarget

        return [EcsTarget(self)]

    def kill_steps(self) -> list["KillStep"]:
        from opsconsole.backends.ecs.kill import ecs_kill_step

        return [ecs_kill_step(self, self.env.kill_deadline)]

    async def sync(self) -> list[str]:
        from opsconsole.backends.ecs.target import sync_ecs_runs

        return await sync_ecs_runs(self)

    async def aclose(self) -> None:
        if self._spool is not None:
            await self._spool.close()


BACKEND = EcsBackend()
