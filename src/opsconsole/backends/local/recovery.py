"""Local-run recovery: settle the runs an opsconsole process left active when it died.

A local run's wrapper leaves its exit code in the run's result dir (see runner.WRAPPER), and the
ledger records which process owns a run and which process it is; from those, a later opsconsole
(or a headless `opsconsole kill`) settles what nobody is watching any more. This lives with
the local backend; the ledger only stores and hands over the rows (RunStore.recovery_rows)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.backends.local.procs import process_alive, process_group_alive
from opsconsole.domain.models import RunRecord, utcnow
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.base import RunStore

LOCAL_TARGET = "local"
EXIT_CODE_FILE = "exit_code"
ORPHANED_ERROR = "opsconsole exited while the run was active"
ACTIVE_STATES: tuple[State, ...] = (State.QUEUED, State.RUNNING, State.UP_FOR_RETRY)


def reconcile(store: "RunStore") -> list[RunRecord]:
    """Settle local runs left active by an opsconsole process that died.

    Only runs whose owner process is gone are touched (a live runner settles its own). A run
    whose process still lives stays running. Otherwise the wrapper's ``exit_code`` file in
    the result dir decides success / failed; without it the run becomes unknown (or stopped
    if a stop had been requested); a run that never started becomes skipped. Returns the
    runs that changed. Blocking: call it in a thread from the event loop."""
    changed: list[RunRecord] = []
    for row in store.recovery_rows(LOCAL_TARGET):
        if row["owner_pid"] is not None and process_alive(row["owner_pid"], row["owner_start"]):
            continue
        fields = settle(row)
        if fields is None:
            continue
        record = store.transition(row["id"], ACTIVE_STATES, **fields)
        if record is not None:
            changed.append(record)
    return changed


def settle(row: dict[str, Any]) -> dict[str, Any] | None:
    """The fields that settle one orphaned run, or None while its process still lives."""
    pid = row["pid"]
    # the wrapper (the group leader) may be gone while its command runs on in its group
    if pid is not None and (process_alive(pid, row["proc_start"]) or process_group_alive(pid)):
        return None
    stop_requested = bool(row["stop_requested_at"])
    if pid is None and row["state"] == State.QUEUED.value:
        return {
            "state": State.STOPPED if stop_requested else State.SKIPPED,
            "ended_at": utcnow(),
            "error": "opsconsole exited before the run started",
        }
    exit_code, ended_at = read_exit_code(row["result_dir"])
    if exit_code is not None:
        if stop_requested:
            state = State.STOPPED
        else:
            state = State.SUCCESS if exit_code == 0 else State.FAILED
        return {
            "state": state,
            "exit_code": exit_code,
            "ended_at": ended_at or utcnow(),
            "error": None if state is State.SUCCESS else f"exit code {exit_code} (reconciled)",
        }
    return {
        "state": State.STOPPED if stop_requested else State.UNKNOWN,
        "ended_at": utcnow(),
        "error": ORPHANED_ERROR,
    }


def read_exit_code(result_dir: str | None) -> tuple[int | None, datetime | None]:
    """The exit code the wrapper left in `result_dir`, and when it wrote it."""
    if not result_dir:
        return None, None
    path = Path(result_dir) / EXIT_CODE_FILE
    try:
        text = path.read_text().strip()
        mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        return int(text), mtime
    except (OSError, ValueError):
        return None, None
