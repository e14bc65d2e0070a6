"""The local runs pane: this profile's local runs, from the ledger (the runner keeps it current)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import LOG, PaneSource
from opsconsole.backends.local import STOP
from opsconsole.backends.local.recovery import LOCAL_TARGET, reconcile
from opsconsole.domain.actions import ActionCall, ActionUnavailable
from opsconsole.domain.items import Column, Item, run_item
from opsconsole.domain.models import RunRecord

if TYPE_CHECKING:
    from opsconsole.backends.base import RunStore
    from opsconsole.backends.local import LocalSession
    from opsconsole.logs.ref import LogRef


class LocalRunsSource(PaneSource):
    """Local runs of this profile, newest first."""

    key = "local"
    title = "Local runs"
    scope = "local"
    capabilities = frozenset({LOG})
    actions = (STOP,)
    columns = (
        Column("id", "ID", 6),
        Column("state", "STATE", 12),
        Column("preset", "PRESET", 18),
        Column("kind", "KIND", 14, optional=True),
        Column("attempt", "TRY", 3),
        Column("exit", "EXIT", 4),
        Column("age", "AGE", 7),
        Column("duration", "DURATION", 8),
        Column("pid", "PID", 7, optional=True),
    )
    interval = 1.0

    def __init__(self, session: "LocalSession", limit: int = 200) -> None:
        self._session = session
        self._limit = limit

    @property
    def store(self) -> "RunStore":
        return self._session.env.store()

    def _runs(self) -> list[RunRecord]:
        store = self.store
        # settle runs whose owner died (another opsconsole that crashed, or quit mid-run)
        reconcile(store)
        return store.list_runs(self._limit, target=LOCAL_TARGET)

    async def fetch(self) -> list[Item]:
        runs = await asyncio.to_thread(self._runs)
        return [run_item(run) for run in runs]

    async def open_log(self, item: Item) -> "LogRef":
        from opsconsole.logs.ref import FileLog

        if not item.log_path:
            raise LookupError(f"run {item.key}: no log yet (it has not started)")
        return FileLog(item.log_path, f"run {item.key}")

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id != STOP.id:
            return await super().prepare(action_id, item)
        if item is None:
            raise ActionUnavailable("stop: select a run first")
        if not item.state.active:
            raise ActionUnavailable(f"run {item.key} is {item.state.value}: nothing to stop")
        run_id = int(item.key)
        grace = self._session.settings.grace
        store = self.store

        async def run(_: Any) -> str:
            from opsconsole.backends.local.runner import stop_local_runs

            report = await stop_local_runs(store, grace, run_ids=[run_id])
            if not report.ok:
                raise RuntimeError(report.detail)
            return f"run {run_id}: {report.detail}"

        return ActionCall(STOP, f"Stop run {run_id}?",
                          f"Run {run_id} ({item.cells.get('preset') or item.cells.get('kind')}): SIGTERM its process "
                          f"group, SIGKILL after {grace:g}s. It is recorded as stopped and not retried.",
                          [f"run {run_id}"], run, confirm_label="Stop")
