"""What a Status pane shows: sources produce Items, panes draw them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsconsole.domain.models import RunRecord
from opsconsole.domain.states import State


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None = None
    optional: bool = False  # dropped first when the terminal is narrow


@dataclass
class Item:
    """One row of a pane: a local run, a DAG run, an ECS task, a pod..."""

    key: str
    state: State
    cells: dict[str, Any]
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    log_path: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # What this item is, in names other backends understand ("airflow.dag_id", "airflow.run_id",
    # "airflow.task_id", "airflow.try_number", "airflow.map_index"): another pane may show
    # what is related to it (the pods of a task instance) — see PaneSource.related.
    refs: dict[str, str] = field(default_factory=dict)


def human_bytes(size: float) -> str:
    """Sizes as an operator reads them: 512 B, 4.2 KB, 43.0 MB, 1.1 GB."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def human_seconds(seconds: float | None) -> str:
    """Compact k9s-style durations: 42s, 3m12s, 5h03m, 2d04h."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def run_item(run: RunRecord) -> Item:
    """A ledger run as a pane row (the Runs screen adds its own columns)."""
    return Item(
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
