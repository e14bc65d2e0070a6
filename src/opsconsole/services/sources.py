"""Sources feed the Status screen's panes: every enabled backend's, from the registry (see
backends/base.py PaneSource). The Runs screen's ledger source is generic too: it asks every
backend session to sync its runs' states."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from opsconsole.backends.base import PaneSource
from opsconsole.domain.items import Column, Item, run_item

if TYPE_CHECKING:
    from opsconsole.services.context import Context


def describe(item: Item) -> str:
    """The full object as pretty JSON (the `d` key)."""
    return json.dumps(item.detail or item.cells, indent=2, default=str, sort_keys=True)


def sources_for(context: "Context") -> list[PaneSource]:
    """The panes of a profile's Status screen: each enabled backend's, in registry order."""
    return [source for session in context.sessions for source in session.sources()]


class LedgerRunsSource(PaneSource):
    """Every launch the ledger remembers, for the Runs screen."""

    key = "runs"
    title = "Runs (ledger)"
    scope = "runs"
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
        self._context = context
        self._limit = limit

    def _runs(self):
        self._context.recover()
        return self._context.ledger.list_runs(self._limit)

    async def fetch(self) -> list[Item]:
        self.warning = None
        problems: list[str] = []
        for session in self._context.sessions:
            try:
                problems += [f"{session.backend.title}: {p}" for p in await session.sync()]
            except Exception as exc:  # noqa: BLE001 - a backend down: the ledger rows stay as last seen
                problems.append(f"{session.backend.title}: {type(exc).__name__}: {exc}")
        if problems:
            self.warning = f"states not synced: {problems[0]}" + (
                f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        items = [run_item(run) for run in await asyncio.to_thread(self._runs)]
        for item in items:
            d = item.detail
            item.cells["target"] = d["target"]
            item.cells["external"] = d["external_id"] or (f"pid {d['pid']}" if d["pid"] else "")
            item.cells["started"] = item.started_at.strftime("%Y-%m-%d %H:%M:%S") if item.started_at else ""
            item.cells["params"] = " ".join(f"{k}={v}" for k, v in (d["parameters"] or {}).items())
        return items
