"""The ledger: every launch, the kill-switch halt latch and the kill-switch audit, in SQLite.

One connection (``check_same_thread=False``) guarded by a lock, so the UI can call it from worker
threads (``asyncio.to_thread``); several processes (the UI and a headless ``opsconsole kill``)
share the file through SQLite's own locking in WAL mode.

The schema is versioned with ``PRAGMA user_version``: :data:`MIGRATIONS` is an ordered list and
every migration runs in its own transaction, so a ledger opened by a newer opsconsole is upgraded
in place and an interrupted upgrade leaves the previous version intact.

Secrets are never stored: a run's environment is kept as the *names* of its variables only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from opsconsole.domain.balances import AssetBalance, BalanceSnapshot
from opsconsole.domain.models import HaltLatch, RunRecord, RunSpec, utcnow
from opsconsole.domain.states import State, normalize_state
from opsconsole.services import halt
from opsconsole.services.lock import FileLock
from opsconsole.backends.local.procs import process_start_time



class LedgerError(RuntimeError):
    """The ledger file can't be used (e.g. written by a newer opsconsole)."""


# --- schema -------------------------------------------------------------------------------


def _v1(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            preset TEXT,
            target TEXT NOT NULL,
            parameters TEXT NOT NULL DEFAULT '{}',
            command TEXT NOT NULL DEFAULT '[]',
            env_names TEXT NOT NULL DEFAULT '[]',
            fingerprint TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            exit_code INTEGER,
            pid INTEGER,
            proc_start TEXT,
            owner_pid INTEGER,
            owner_start TEXT,
            stop_requested_at TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            result_dir TEXT,
            log_path TEXT,
            external_id TEXT,
            error TEXT,
            sweep_point TEXT
        )
        """
    )
    db.execute("CREATE INDEX runs_state ON runs(state)")
    db.execute("CREATE INDEX runs_fingerprint ON runs(fingerprint, state)")
    db.execute(
        """
        CREATE TABLE halt_latch (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            set_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            by TEXT NOT NULL,
            released_at TEXT,
            released_by TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE kill_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kill_id TEXT NOT NULL,
            ts TEXT NOT NULL,
            event TEXT NOT NULL,
            step TEXT,
            outcome TEXT,
            detail TEXT,
            elapsed REAL
        )
        """
    )
    db.execute("CREATE INDEX kill_audit_kill_id ON kill_audit(kill_id)")


def _v2(db: sqlite3.Connection) -> None:
    """The action audit: every non-view action, whatever screen or command it came from."""
    db.execute(
        """
        CREATE TABLE action_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            call_id TEXT NOT NULL,
            ts TEXT NOT NULL,
            who TEXT NOT NULL,
            profile TEXT NOT NULL,
            action TEXT NOT NULL,
            policy TEXT NOT NULL,
            objects TEXT NOT NULL DEFAULT '[]',
            outcome TEXT NOT NULL,
            detail TEXT
        )
        """
    )
    db.execute("CREATE INDEX action_audit_action ON action_audit(action)")


def _v3(db: sqlite3.Connection) -> None:
    """The kill audit's per-object results (JSON) and a row uid, so that rows journalled while
    the ledger was unusable are replayed exactly once."""
    db.execute("ALTER TABLE kill_audit ADD COLUMN objects TEXT")
    db.execute("ALTER TABLE kill_audit ADD COLUMN uid TEXT")
    db.execute("CREATE UNIQUE INDEX kill_audit_uid ON kill_audit(uid) WHERE uid IS NOT NULL")


def _v4(db: sqlite3.Connection) -> None:
    """Balances and reports: exchange / run-log balance snapshots, and every run's execution
    report (its Markdown, as last built, and the operator's notes)."""
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS balance_snapshots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account TEXT NOT NULL,
            taken_at TEXT NOT NULL,
            quote TEXT NOT NULL,
            quote_total REAL,
            assets TEXT NOT NULL DEFAULT '{}',
            source TEXT NOT NULL,
            role TEXT NOT NULL,
            run_id INTEGER,
            unpriced TEXT NOT NULL DEFAULT '[]',
            detail TEXT NOT NULL DEFAULT ''
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS balance_snapshots_account ON balance_snapshots(account, taken_at)")
    db.execute("CREATE INDEX IF NOT EXISTS balance_snapshots_run ON balance_snapshots(run_id, role)")
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS run_reports (
            run_id INTEGER PRIMARY KEY,
            built_at TEXT NOT NULL,
            markdown TEXT NOT NULL,
            notes TEXT NOT NULL DEFAULT '',
            fields TEXT NOT NULL DEFAULT '{}'
        )
        """
    )


# Append only: never edit a released migration, add the next one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4]
SCHEMA_VERSION = len(MIGRATIONS)


# --- conversions ----------------------------------------------------------------------------


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        return normalize_state(value)


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        preset=row["preset"],
        target=row["target"],
        parameters=json.loads(row["parameters"] or "{}"),
        command=json.loads(row["command"] or "[]"),
        state=_state(row["state"]),
        created_at=_parse_ts(row["created_at"]),  # type: ignore[arg-type]
        fingerprint=row["fingerprint"] or "",
        started_at=_parse_ts(row["started_at"]),
        ended_at=_parse_ts(row["ended_at"]),
        exit_code=row["exit_code"],
        pid=row["pid"],
        attempt=row["attempt"],
        result_dir=row["result_dir"],
        log_path=row["log_path"],
        external_id=row["external_id"],
        error=row["error"],
        sweep_point=json.loads(row["sweep_point"]) if row["sweep_point"] else None,
    )


# Columns update_run may change; the internal ones are for the local runner and reconcile.
_UPDATABLE = {
    "state", "started_at", "ended_at", "exit_code", "pid", "attempt", "result_dir", "log_path",
    "external_id", "error", "proc_start", "owner_pid", "owner_start", "stop_requested_at",
}  # fmt: skip


def _column_value(name: str, value: Any) -> Any:
    if isinstance(value, State):
        return value.value
    if isinstance(value, datetime):
        return _ts(value)
    if isinstance(value, Path):
        return str(value)
    if name == "state" and isinstance(value, str):
        return _state(value).value
    return value


class Ledger:
    """The SQLite ledger. Synchronous and thread-safe; wrap calls in ``asyncio.to_thread`` from
    the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: we open our transactions explicitly (BEGIN IMMEDIATE).
        self._db = sqlite3.connect(
            str(self.path), timeout=30.0, check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        # Switching a new database to WAL can answer SQLITE_BUSY at once (no busy wait) when
        # two processes create it together (two `opsconsole kill` at the same moment): the
        # set-up is serialised by a lock file beside it.
        with FileLock(self.path.with_name(self.path.name + ".lock")).hold():
            self._db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._owner_pid = os.getpid()
        self._owner_start = process_start_time(self._owner_pid)

    @staticmethod
    def default_path(data_dir: Path) -> Path:
        return Path(data_dir) / "ledger.sqlite3"

    # -- plumbing ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"{self.path} has schema version {version}, newer than this opsconsole "
                    f"understands ({SCHEMA_VERSION}); upgrade opsconsole"
                )
            while version < SCHEMA_VERSION:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    # Another process may have migrated while we waited for the write lock.
                    version = self._db.execute("PRAGMA user_version").fetchone()[0]
                    if version < SCHEMA_VERSION:
                        MIGRATIONS[version](self._db)
                        version += 1
                        self._db.execute(f"PRAGMA user_version = {version}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(sql, tuple(params))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cur

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def schema_version(self) -> int:
        return self._query("PRAGMA user_version")[0][0]

    def pragma(self, name: str) -> Any:
        """Read a PRAGMA (journal_mode, integrity_check...), for diagnostics and tests."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"bad pragma name {name!r}")
        return self._query(f"PRAGMA {name}")[0][0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs -------------------------------------------------------------------------------

    def create_run(
        self, spec: RunSpec, state: State = State.QUEUED, result_dir: Path | str | None = None
    ) -> RunRecord:
        """Record a launch. The creating process is recorded as the run's owner, so
        :meth:`reconcile` can tell when it died."""
        now = _ts(utcnow())
        cur = self._write(
            """
            INSERT INTO runs (kind, preset, target, parameters, command, env_names, fingerprint,
                              state, created_at, ended_at, result_dir, sweep_point,
                              owner_pid, owner_start)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                spec.kind,
                spec.preset,
                spec.target,
                json.dumps(spec.parameters, sort_keys=True, default=str),
                json.dumps(list(spec.command)),
                json.dumps(sorted(spec.env)),  # names only, never values
                spec.fingerprint,
                _column_value("state", state),
                now,
                None if State(_column_value("state", state)).active else now,
                str(result_dir) if result_dir is not None else None,
                json.dumps(spec.sweep_point, sort_keys=True, default=str)
                if spec.sweep_point is not None
                else None,
                self._owner_pid,
                self._owner_start,
            ),
        )
        record = self.get_run(int(cur.lastrowid))  # type: ignore[arg-type]
        assert record is not None
        return record

    def update_run(self, run_id: int, **fields: Any) -> RunRecord:
        """Change some columns of a run; raises KeyError if there is no such run."""
        self._set(run_id, fields, None)
        record = self.get_run(run_id)
        if record is None:
            raise KeyError(f"no run {run_id}")
        return record

    def transition(
        self, run_id: int, from_states: Iterable[State], **fields: Any
    ) -> RunRecord | None:
        """Update the run only if its state is one of ``from_states`` (atomically); returns the
        new record, or None if the run was in another state."""
        changed = self._set(run_id, fields, tuple(from_states))
        return self.get_run(run_id) if changed else None

    def _set(self, run_id: int, fields: dict[str, Any], from_states: tuple[State, ...] | None) -> bool:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update run column(s): {', '.join(sorted(unknown))}")
        if not fields:
            return True
        assignments = ", ".join(f"{name} = ?" for name in fields)
        params = [_column_value(name, value) for name, value in fields.items()]
        sql = f"UPDATE runs SET {assignments} WHERE id = ?"
        params.append(run_id)
        if from_states is not None:
            sql += f" AND state IN ({', '.join('?' for _ in from_states)})"
            params.extend(s.value for s in from_states)
        return self._write(sql, params).rowcount > 0

    def claim_run(self, run_id: int, attempt: int, log_path: Path | str) -> bool:
        """Atomically move a queued / up-for-retry run to running for ``attempt`` -- unless a stop
        was requested for it or the halt latch is set. The local runner calls this right before
        it starts a process, so a kill-switch firing in another process can never be overtaken
        by a run that starts after it."""
        if halt.read_latch_file(self.path.parent) is not None:  # the latch file wins
            return False
        cur = self._write(
            """
            UPDATE runs SET state = 'running', attempt = ?, log_path = ?,
                            started_at = COALESCE(started_at, ?),
                            pid = NULL, proc_start = NULL, exit_code = NULL, error = NULL
            WHERE id = ? AND state IN ('queued', 'up_for_retry') AND stop_requested_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM halt_latch WHERE released_at IS NULL)
            """,
            (attempt, str(log_path), _ts(utcnow()), run_id),
        )
        return cur.rowcount > 0

    def request_stop(self, run_ids: Iterable[int]) -> None:
        """Mark runs as asked to stop (before they are signalled), so whoever sees them end --
        this process or another -- records them as stopped rather than failed, and never starts
        or retries them."""
        ids = list(run_ids)
        if not ids:
            return
        self._write(
            f"UPDATE runs SET stop_requested_at = ? WHERE stop_requested_at IS NULL "
            f"AND id IN ({', '.join('?' for _ in ids)})",
            [_ts(utcnow()), *ids],
        )

    def stop_requested(self, run_id: int) -> bool:
        rows = self._query("SELECT stop_requested_at FROM runs WHERE id = ?", (run_id,))
        return bool(rows and rows[0][0])

    def process_identity(self, run_id: int) -> tuple[int | None, str | None]:
        """(pid, kernel start time) recorded for the run's current process."""
        rows = self._query("SELECT pid, proc_start FROM runs WHERE id = ?", (run_id,))
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def get_run(self, run_id: int) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _record(rows[0]) if rows else None

    def list_runs(
        self, limit: int = 500, states: Iterable[State] | None = None, search: str | None = None,
        target: str | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first; ``search`` matches (case-insensitively) kind, preset, target,
        parameters, command, error or the run id; ``target`` keeps one target's runs."""
        where: list[str] = []
        params: list[Any] = []
        if target is not None:
            where.append("target = ?")
            params.append(target)
        if states is not None:
            wanted = [State(s).value for s in states]
            if not wanted:
                return []
            where.append(f"state IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            columns = ("kind", "preset", "target", "parameters", "command", "error", "fingerprint")
            clause = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns)
            params.extend([pattern] * len(columns))
            if search.strip().isdigit():
                clause += " OR id = ?"
                params.append(int(search.strip()))
            where.append(f"({clause})")
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(int(limit))
        return [_record(r) for r in self._query(sql, params)]

    def active_runs(self, target: str | None = None) -> list[RunRecord]:
        """Queued, running and up-for-retry runs (of one target if given), oldest first."""
        sql = "SELECT * FROM runs WHERE state IN ('queued', 'running', 'up_for_retry')"
        params: list[Any] = []
        if target is not None:
            sql += " AND target = ?"
            params.append(target)
        return [_record(r) for r in self._query(sql + " ORDER BY id", params)]

    def find_succeeded(self, fingerprint: str) -> RunRecord | None:
        rows = self._query(
            "SELECT * FROM runs WHERE fingerprint = ? AND state = 'success' ORDER BY id DESC LIMIT 1",
            (fingerprint,),
        )
        return _record(rows[0]) if rows else None

    # -- halt latch -------------------------------------------------------------------------

    def halt_latch(self) -> HaltLatch | None:
        """The latch: the HALTED file beside the ledger (services/halt.py) or the ledger's row."""
        latch = halt.read_latch_file(self.path.parent)
        if latch is not None:
            return latch
        rows = self._query(
            "SELECT set_at, reason, by FROM halt_latch WHERE released_at IS NULL ORDER BY id LIMIT 1"
        )
        if not rows:
            return None
        return HaltLatch(set_at=_parse_ts(rows[0][0]), reason=rows[0][1], by=rows[0][2])  # type: ignore[arg-type]

    def set_halt(self, reason: str, by: str) -> HaltLatch:
        """Set the latch (kept in the history table). If it is already set, the existing latch
        stays as it is and is returned."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT set_at, reason, by FROM halt_latch WHERE released_at IS NULL "
                    "ORDER BY id LIMIT 1"
                ).fetchone()
                if row is None:
                    now = _ts(utcnow())
                    self._db.execute(
                        "INSERT INTO halt_latch (set_at, reason, by) VALUES (?, ?, ?)", (now, reason, by)
                    )
                    row = (now, reason, by)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return HaltLatch(set_at=_parse_ts(row[0]), reason=row[1], by=row[2])  # type: ignore[arg-type]

    def release_halt(self, by: str) -> None:
        """Release the ledger's latch row and remove the latch file; raises if the file stays."""
        self._write(
            "UPDATE halt_latch SET released_at = ?, released_by = ? WHERE released_at IS NULL",
            (_ts(utcnow()), by),
        )
        errors = halt.clear_latch_file(self.path.parent)
        if errors:
            raise LedgerError(f"the HALTED file could not be removed: {'; '.join(errors)}")

    def halt_history(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._query("SELECT * FROM halt_latch ORDER BY id")]

    # -- kill-switch audit ------------------------------------------------------------------

    def audit(
        self,
        kill_id: str,
        event: str,
        step: str | None = None,
        outcome: str | None = None,
        detail: str | None = None,
        elapsed: float | None = None,
        objects: list[dict[str, str]] | None = None,
        uid: str | None = None,
        ts: str | None = None,
    ) -> None:
        """One kill audit row; ``uid`` makes it idempotent (a journal replay writes it once)."""
        self._write(
            "INSERT OR IGNORE INTO kill_audit (kill_id, ts, event, step, outcome, detail, elapsed, objects, uid) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (kill_id, ts or _ts(utcnow()), event, step, outcome, detail, elapsed,
             json.dumps(objects) if objects is not None else None, uid),
        )

    def replay_journal(self) -> int:
        """Write the audit rows journalled while the ledger was unusable (services/halt.py) and
        drop them from the journal; returns how many were written."""
        rows = halt.journal_rows(self.path.parent)
        done: set[str] = set()
        for row in rows:
            uid = row.get("uid")
            if not isinstance(uid, str) or not row.get("kill_id") or not row.get("event"):
                continue
            self.audit(str(row["kill_id"]), str(row["event"]), step=row.get("step"), outcome=row.get("outcome"),
                       detail=row.get("detail"), elapsed=row.get("elapsed"), objects=row.get("objects"),
                       uid=uid, ts=row.get("ts"))
            done.add(uid)
        if done:
            halt.journal_clear(self.path.parent, done)
        return len(done)

    def audit_action(self, call_id: str, *, who: str, profile: str, action: str, policy: str,
                     objects: Iterable[str], outcome: str, detail: str | None = None) -> None:
        """One row of the action audit (who, when, profile, action, objects, outcome)."""
        self._write(
            "INSERT INTO action_audit (call_id, ts, who, profile, action, policy, objects, outcome, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call_id, _ts(utcnow()), who, profile, action, policy, json.dumps(list(objects)), outcome, detail),
        )

    def list_action_audit(self, action: str | None = None) -> list[dict[str, Any]]:
        """Action audit rows in the order they were written (objects decoded)."""
        if action is None:
            rows = self._query("SELECT * FROM action_audit ORDER BY id")
        else:
            rows = self._query("SELECT * FROM action_audit WHERE action = ? ORDER BY id", (action,))
        out = []
        for row in rows:
            d = dict(row)
            d["objects"] = json.loads(d["objects"])
            out.append(d)
        return out

    def list_audit(self, kill_id: str | None = None) -> list[dict[str, Any]]:
        """Audit rows in the order they were written."""
        if kill_id is None:
            rows = self._query("SELECT * FROM kill_audit ORDER BY id")
        else:
            rows = self._query("SELECT * FROM kill_audit WHERE kill_id = ? ORDER BY id", (kill_id,))
        out = []
        for row in rows:
            d = dict(row)
            d["objects"] = json.loads(d["objects"]) if d.get("objects") else []
            out.append(d)
        return out

    # -- recovery (the local backend's reconcile reads these rows) ---------------------------

    def recovery_rows(self, target: str) -> list[dict[str, Any]]:
        """Active runs of `target`, and every active run that had a local process, with their
        owner's and process's identity: what the local backend needs to settle orphans."""
        rows = self._query(
            "SELECT id, state, pid, proc_start, owner_pid, owner_start, stop_requested_at, result_dir "
            "FROM runs WHERE state IN ('queued', 'running', 'up_for_retry') "
            "AND (target = ? OR pid IS NOT NULL) ORDER BY id",
            (target,),
        )
        return [dict(r) for r in rows]

    # -- balance snapshots and run reports ----------------------------------------------------

    def add_snapshot(self, snapshot: BalanceSnapshot) -> int:
        """Keep a balance snapshot; returns its id."""
        cur = self._write(_INSERT_SNAPSHOT, _snapshot_values(snapshot, snapshot.run_id))
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def replace_run_snapshots(self, run_id: int, source: str, snapshots: Iterable[BalanceSnapshot]) -> None:
        """The run's snapshots of one source replaced by `snapshots` (a run's log read again)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM balance_snapshots WHERE run_id = ? AND source = ?", (run_id, source))
                for snap in snapshots:
                    self._db.execute(_INSERT_SNAPSHOT, _snapshot_values(snap, run_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def list_snapshots(self, account: str | None = None, run_id: int | None = None,
                       limit: int = 5000) -> list[BalanceSnapshot]:
        """Snapshots oldest first (of one account, or one run)."""
        where: list[str] = []
        params: list[Any] = []
        if account is not None:
            where.append("account = ?")
            params.append(account)
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        sql = "SELECT * FROM balance_snapshots" + (" WHERE " + " AND ".join(where) if where else "")
        sql = f"SELECT * FROM ({sql} ORDER BY taken_at DESC, id DESC LIMIT ?) ORDER BY taken_at, id"
        params.append(int(limit))
        return [_snapshot(r) for r in self._query(sql, params)]

    def last_snapshot(self, account: str) -> BalanceSnapshot | None:
        rows = self._query("SELECT * FROM balance_snapshots WHERE account = ? AND source = 'exchange' "
                           "ORDER BY taken_at DESC, id DESC LIMIT 1", (account,))
        return _snapshot(rows[0]) if rows else None

    def save_report(self, run_id: int, markdown: str, fields: dict[str, Any]) -> None:
        """Store the report built for a run (its notes, edited apart, are kept)."""
        self._write(
            "INSERT INTO run_reports (run_id, built_at, markdown, fields) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(run_id) DO UPDATE SET built_at = excluded.built_at, markdown = excluded.markdown, "
            "fields = excluded.fields",
            (run_id, _ts(utcnow()), markdown, json.dumps(fields, sort_keys=True, default=str)),
        )

    def set_report_notes(self, run_id: int, notes: str) -> None:
        self._write(
            "INSERT INTO run_reports (run_id, built_at, markdown, notes) VALUES (?, ?, '', ?) "
            "ON CONFLICT(run_id) DO UPDATE SET notes = excluded.notes",
            (run_id, _ts(utcnow()), notes),
        )

    def get_report(self, run_id: int) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM run_reports WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        d = dict(rows[0])
        d["fields"] = json.loads(d["fields"] or "{}")
        return d


_INSERT_SNAPSHOT = ("INSERT INTO balance_snapshots (account, taken_at, quote, quote_total, assets, source, role, "
                    "run_id, unpriced, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _snapshot_values(snap: BalanceSnapshot, run_id: int | None) -> tuple[Any, ...]:
    assets = {k: [v.free, v.used, v.total] for k, v in snap.assets.items()}
    return (snap.account, _ts(snap.taken_at), snap.quote, snap.quote_total, json.dumps(assets, sort_keys=True),
            snap.source, snap.role, run_id, json.dumps(list(snap.unpriced)), snap.detail)


def _snapshot(row: sqlite3.Row) -> BalanceSnapshot:
    assets = {k: AssetBalance(*v) for k, v in json.loads(row["assets"] or "{}").items()}
    return BalanceSnapshot(
        account=row["account"], taken_at=_parse_ts(row["taken_at"]),  # type: ignore[arg-type]
        quote=row["quote"], assets=assets, quote_total=row["quote_total"], source=row["source"], role=row["role"],
        run_id=row["run_id"], unpriced=tuple(json.loads(row["unpriced"] or "[]")), id=row["id"],
        detail=row["detail"] or "")
