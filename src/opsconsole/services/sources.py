"""Sources feed the Status screen's panes. Each backend adds one (or more) by implementing
`PaneSource`; the screen draws whatever `sources_for(context)` returns, so a new backend
plugs in without touching the screen's code."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Protocol

from opsconsole.domain.items import Column, Item

if TYPE_CHECKING:
    from opsconsole.services.context import Context


class PaneSource(Protocol):
    key: str
    title: str
    columns: tuple[Column, ...]
    interval: float

    async def fetch(self) -> list[Item]:
        """The current items (raises on a backend error: the pane turns stale and retries)."""
        ...

    # Optional, duck-typed (a pane checks with getattr):
    #   def drill(self, item) -> PaneSource | None      enter: the child source (DAG → its runs)
    #   async def open_log(self, item) -> str           l: a local path (a spool that may keep growing)
    #   async def describe(self, item) -> dict          d: the full object, fetched on demand


class LocalRunsSource:
    """Local runs of this profile, from the ledger (the local runner keeps it current)."""

    key = "local"
    title = "Local runs"
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

    def __init__(self, context: "Context", limit: int = 200) -> None:
        self._context = context
        self._limit = limit

    target: str | None = "local"

    def _runs(self):
        ledger = self._context.ledger
        # settle runs whose owner died (another opsconsole that crashed, or quit mid-run)
        ledger.reconcile()
        return ledger.list_runs(self._limit, target=self.target)

    async def fetch(self) -> list[Item]:
        runs = await asyncio.to_thread(self._runs)
        return [
            Item(
                key=str(run.id),
                state=run.state,
                cells={
                    "id": run.id,
                    "preset": run.preset or "",
                    "kind": run.kind,
                    "attempt": run.attempt or "",
                    "exit": "" if run.exit_code is None else run.exit_code,
                    "pid": run.pid or "",
                },
                created_at=run.created_at,
                started_at=run.started_at,
                ended_at=run.ended_at,
                log_path=run.log_path,
                detail={
                    "id": run.id, "kind": run.kind, "preset": run.preset, "target": run.target,
                    "state": run.state.value, "parameters": run.parameters, "command": run.command,
                    "fingerprint": run.fingerprint, "created_at": run.created_at.isoformat(),
                    "started_at": run.started_at.isoformat() if run.started_at else None,
                    "ended_at": run.ended_at.isoformat() if run.ended_at else None,
                    "exit_code": run.exit_code, "pid": run.pid, "attempt": run.attempt,
                    "result_dir": run.result_dir, "log_path": run.log_path, "error": run.error,
                    "external_id": run.external_id,
                    "sweep_point": run.sweep_point,
                },
            )
            for run in runs
        ]


def describe(item: Item) -> str:
    """The full object as pretty JSON (the `d` key)."""
    return json.dumps(item.detail or item.cells, indent=2, default=str, sort_keys=True)


def sources_for(context: "Context") -> list[PaneSource]:
    """The panes of a profile's Status screen, one per configured source."""
    sources: list[PaneSource] = [LocalRunsSource(context)]
    if context.profile.airflow:
        from opsconsole.services.airflow_sources import AirflowDagsSource, AirflowHub

        sources.append(AirflowDagsSource(AirflowHub.for_context(context)))
    # Airflow, ECS, Kubernetes, SSH hosts, health and balances add their sources here as their
    # backends land; each is imported lazily so start-up stays fast.
    return sources


class LedgerRunsSource(LocalRunsSource):
    """Every launch the ledger remembers, for the Runs screen."""

    key = "runs"
    title = "Runs (ledger)"
    target = None
    warning: str | None = None  # shown in the pane's title: the ledger is fine, a sync is not
    columns = (
        Column("id", "ID", 6),
        Column("state", "STATE", 12),
        Column("preset", "PRESET", 18),
        Column("target", "TARGET", 8, optional=True),
        Column("started", "STARTED (UTC)", 19),
        Column("duration", "DURATION", 8),
        Column("exit", "EXIT", 4),
        Column("attempt", "TRY", 3, optional=True),
        Column("age", "AGE", 7, optional=True),
        Column("external", "EXTERNAL ID", 20, optional=True),
        Column("params", "PARAMETERS", None),
    )
    interval = 2.0

    def __init__(self, context: "Context", limit: int = 5000) -> None:
        super().__init__(context, limit)

    async def fetch(self) -> list[Item]:
        self.warning = None
        if self._context.profile.airflow:
            from opsconsole.services.airflow_target import sync_airflow_runs

            try:
                problems = await sync_airflow_runs(self._context)
            except Exception as exc:  # noqa: BLE001 - Airflow down: the ledger rows stay as last seen
                problems = [f"{type(exc).__name__}: {exc}"]
            if problems:
                self.warning = f"Airflow states not synced: {problems[0]}" + (
                    f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        items = await super().fetch()
        for item in items:
            d = item.detail
            item.cells["target"] = d["target"]
            item.cells["external"] = d["external_id"] or (f"pid {d['pid']}" if d["pid"] else "")
            item.cells["started"] = item.started_at.strftime("%Y-%m-%d %H:%M:%S") if item.started_at else ""
            item.cells["params"] = " ".join(f"{k}={v}" for k, v in (d["parameters"] or {}).items())
        return items
