"""The local backend: the embedded default. Runs commands as local processes (seed 002's
experiment manager: result dir per run, parallelism, retries, abort-on-error, incremental),
records them in the ledger, stops them in the kill-switch, and recovers runs that outlived the
opsconsole that started them. Always enabled; its `[local]` profile table is optional.

This module stays light (the runner is imported when a session first needs it)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import Backend, BackendSession, SessionEnv
from opsconsole.config.schema import Bool, Num, Table
from opsconsole.domain import policy
from opsconsole.domain.actions import Action
from opsconsole.domain.models import BatchOptions

if TYPE_CHECKING:
    from opsconsole.backends.base import LaunchTarget, PaneSource
    from opsconsole.backends.local.runner import LocalRunner
    from opsconsole.domain.kill import KillStep
    from opsconsole.domain.models import RunRecord

_BATCH = {
    "parallelism": Num(integer=True, min=1, max=256),
    "retries": Num(integer=True, min=0, max=100),
    "abort_on_error": Bool(),
    "incremental": Bool(),
}
SCHEMA = Table({**_BATCH, "grace": Num(min=0, max=600)})
# a preset's [local] table: the profile's batch settings, minus the stop grace (a profile's business)
PRESET_SCHEMA = Table(dict(_BATCH))

STOP = Action("local.stop", "Stop run", "X", policy.CHANGE,
              "stop the selected local run: SIGTERM its process group, SIGKILL after the grace period")


@dataclass(frozen=True)
class LocalSettings(BatchOptions):
    """A profile's [local] table: the batch defaults, and how long a stop waits before SIGKILL."""

    grace: float = 5.0

    @property
    def batch(self) -> BatchOptions:
        return BatchOptions(**{f.name: getattr(self, f.name) for f in fields(BatchOptions)})


class LocalBackend(Backend):
    name = "local"
    title = "Local runner"
    schema = SCHEMA
    always = True
    preset_schema = PRESET_SCHEMA
    actions = (STOP,)

    def settings(self, table: Any) -> LocalSettings:
        return LocalSettings(**(table or {}))

    def open(self, env: SessionEnv) -> "LocalSession":
        return LocalSession(self, env)

    def target_label(self, preset: Any) -> str:
        return "local runner"


class LocalSession(BackendSession):
    settings: LocalSettings

    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.settings = env.settings
        self._runner: LocalRunner | None = None

    @property
    def runner(self) -> "LocalRunner":
        """The local runner of this profile (created on first use)."""
        if self._runner is None:
            from opsconsole.backends.local.runner import LocalRunner

            self._runner = LocalRunner(self.env.store(), self.env.data_dir / "runs", grace=self.settings.grace)
        return self._runner

    def sources(self) -> list["PaneSource"]:
        from opsconsole.backends.local.sources import LocalRunsSource

        return [LocalRunsSource(self)]

    def targets(self) -> list["LaunchTarget"]:
        from opsconsole.backends.local.target import LocalTarget

        return [LocalTarget(self)]

    def kill_steps(self) -> list["KillStep"]:
        from opsconsole.backends.local.target import local_kill_step

        # the store as an opener: a broken ledger must not stop the plan from being built
        step = local_kill_step(self.env.store, grace=self.settings.grace, deadline=self.env.kill_deadline,
                               runs_dir=self.env.data_dir / "runs")
        step.enabled = bool((self.env.kill_options or {}).get("local", True))
        return [step]

    def recover(self) -> list["RunRecord"]:
        from opsconsole.backends.local.recovery import reconcile

        return reconcile(self.env.store())

    def pending(self) -> list[str]:
        if self._runner is None:
            return []
        return [f"run {i}" for i in self._runner.pending_ids()]


BACKEND = LocalBackend()
