"""The local launch target and the local kill step."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from opsconsole.backends.base import RunStore
from opsconsole.backends.local.recovery import LOCAL_TARGET
from opsconsole.domain.kill import KillStep, StepLog
from opsconsole.domain.models import BatchOptions, RunRecord, RunSpec
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.local import LocalSession
    from opsconsole.config.presets import Preset


class LocalTarget:
    """`target = "local"`: the runs go to this process's local runner."""

    name = LOCAL_TARGET

    def __init__(self, session: "LocalSession") -> None:
        self._session = session

    def options(self, preset: "Preset") -> BatchOptions:
        """The profile's local-runner settings, overridden by the preset's [local] table."""
        base = self._session.settings.batch
        return BatchOptions(**{**base.__dict__, **preset.table(LOCAL_TARGET)})

    async def launch(self, preset: "Preset", specs: list[RunSpec]) -> list[RunRecord]:
        return await self._session.runner.launch(specs, self.options(preset))

    async def wait(self, records: list[RunRecord], *, started_only: bool = False) -> None:
        """Until the runs ended; with `started_only`, until each started (its process lives in
        its own session and outlives us) or ended: never-started runs would be skipped."""
        if not started_only:
            await self._session.runner.wait([r.id for r in records])
            return
        store = self._session.env.store()
        while True:
            now = [await asyncio.to_thread(store.get_run, r.id) for r in records]
            if all(r is None or r.state.final or (r.state == State.RUNNING and r.pid) for r in now):
                return
            await asyncio.sleep(0.05)


def local_kill_step(store: RunStore, grace: float = 5.0, deadline: float = 30.0) -> KillStep:
    """The step that stops every active local run of any opsconsole process on this machine."""
    from opsconsole.backends.local.runner import stop_local_runs

    async def action(log: StepLog) -> str:
        report = await stop_local_runs(store, grace)
        if not report.ok:
            raise RuntimeError(report.detail)
        return report.detail

    return KillStep(
        name="stop local runs",
        kind="local",
        description=f"SIGTERM every local run's process group, SIGKILL after {grace:g}s, verify none is left",
        action=action,
        deadline=deadline,
    )
