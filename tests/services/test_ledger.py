"""The SQLite ledger: schema migrations, runs, the halt latch, the kill audit, and recovery
after opsconsole itself was killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from opsconsole.domain.models import RunSpec
from opsconsole.domain.states import State
from opsconsole.services import ledger as ledger_mod
from opsconsole.services.ledger import (
    MIGRATIONS,
    Ledger,
    LedgerError,
)
from opsconsole.backends.local.recovery import ORPHANED_ERROR, reconcile
from opsconsole.backends.local.procs import process_alive, process_group_alive, process_start_time


def spec(n: int = 0, **kw) -> RunSpec:
    return RunSpec(kind="sample", command=["echo", str(n)], parameters={"n": n}, **kw)


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- schema ---------------------------------------------------------------------------------


def test_migrates_an_empty_file_and_reopens_idempotently(tmp_path: Path) -> None:
    path = Ledger.default_path(tmp_path)
    assert path == tmp_path / "ledger.sqlite3"
    with Ledger(path) as first:
        assert first.schema_version() == len(MIGRATIONS)
        run = first.create_run(spec(1))
    with Ledger(path) as second:  # no migration runs twice, data survives
        assert second.schema_version() == len(MIGRATIONS)
        assert second.get_run(run.id) == run
    tables = {
        r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert {"runs", "halt_latch", "kill_audit"} <= tables


def test_wal_mode_and_integrity(ledger: Ledger) -> None:
    assert ledger.pragma("journal_mode") == "wal"
    assert ledger.pragma("integrity_check") == "ok"
    assert ledger.pragma("foreign_keys") == 1


def test_refuses_a_ledger_from_a_newer_opsconsole(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path)


def test_a_failing_migration_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.sqlite3"
    Ledger(path).close()

    def broken_v2(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(ledger_mod, "MIGRATIONS", [*MIGRATIONS, broken_v2])
    monkeypatch.setattr(ledger_mod, "SCHEMA_VERSION", len(MIGRATIONS) + 1)
    with pytest.raises(RuntimeError, match="migration bug"):
        Ledger(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert not db.execute("SELECT name FROM sqlite_master WHERE name='half_done'").fetchall()


# --- runs -----------------------------------------------------------------------------------


def test_create_get_update_runs(ledger: Ledger, tmp_path: Path) -> None:
    s = RunSpec(
        kind="broker",
        command=["run_ccxt_broker.py", "--secret_id", "4"],
        parameters={"secret_id": 4, "volatility_multiple": [0.75, 0.7]},
        preset="twap",
        sweep_point={"secret_id": 4},
        env={"BINANCE_SECRET": "s3cr3t-value"},
    )
    run = ledger.create_run(s, result_dir=tmp_path / "r")
    assert run.state is State.QUEUED
    assert (run.kind, run.preset, run.target) == ("broker", "twap", "local")
    assert run.parameters == s.parameters and run.command == s.command
    assert run.sweep_point == {"secret_id": 4}
    assert run.fingerprint == s.fingerprint
    assert run.result_dir == str(tmp_path / "r")
    assert run.created_at.tzinfo is not None and run.ended_at is None

    started = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    updated = ledger.update_run(run.id, state=State.RUNNING, started_at=started, pid=4242, attempt=1)
    assert updated.state is State.RUNNING and updated.started_at == started and updated.pid == 4242
    done = ledger.update_run(run.id, state="succeeded", ended_at=started + timedelta(seconds=90), exit_code=0)
    assert done.state is State.SUCCESS and done.duration == 90.0
    assert ledger.get_run(run.id) == done
    assert ledger.get_run(9999) is None
    with pytest.raises(ValueError):
        ledger.update_run(run.id, command=["rm", "-rf", "/"])
    with pytest.raises(KeyError):
        ledger.update_run(9999, state=State.FAILED)

    # Only the NAMES of env vars are kept, never their values.
    ledger.close()
    raw = b"".join(p.read_bytes() for p in Path(ledger.path).parent.iterdir() if p.is_file())
    assert b"s3cr3t-value" not in raw
    with Ledger(ledger.path) as again:
        row = again._query("SELECT env_names FROM runs WHERE id = ?", (run.id,))[0][0]
        assert json.loads(row) == ["BINANCE_SECRET"]


def test_list_active_and_find_succeeded(ledger: Ledger) -> None:
    a = ledger.create_run(spec(1))
    b = ledger.create_run(spec(2, preset="twap-fast"))
    c = ledger.create_run(spec(3, target="airflow"))
    ledger.update_run(a.id, state=State.SUCCESS)
    ledger.update_run(b.id, state=State.RUNNING)

    assert [r.id for r in ledger.list_runs()] == [c.id, b.id, a.id]  # newest first
    assert [r.id for r in ledger.list_runs(limit=2)] == [c.id, b.id]
    assert [r.id for r in ledger.list_runs(states=[State.SUCCESS])] == [a.id]
    assert ledger.list_runs(states=[]) == []
    assert [r.id for r in ledger.list_runs(search="TWAP-F")] == [b.id]
    assert [r.id for r in ledger.list_runs(search="airflow")] == [c.id]
    assert ledger.list_runs(search="100%_") == []  # LIKE wildcards are literal
    assert [r.id for r in ledger.list_runs(search=str(a.id))][-1] == a.id

    assert [r.id for r in ledger.active_runs()] == [b.id, c.id]
    assert [r.id for r in ledger.active_runs(target="local")] == [b.id]
    assert ledger.find_succeeded(spec(1).fingerprint).id == a.id
    assert ledger.find_succeeded(spec(2).fingerprint) is None


def test_transition_and_claim_are_conditional(ledger: Ledger, tmp_path: Path) -> None:
    run = ledger.create_run(spec(1))
    assert ledger.transition(run.id, [State.RUNNING], state=State.FAILED) is None
    assert ledger.claim_run(run.id, 1, tmp_path / "attempt-1.log")
    assert not ledger.claim_run(run.id, 1, tmp_path / "attempt-1.log")  # already running
    assert ledger.get_run(run.id).attempt == 1

    queued = ledger.create_run(spec(2))
    ledger.request_stop([queued.id])
    assert ledger.stop_requested(queued.id)
    assert not ledger.claim_run(queued.id, 1, tmp_path / "x.log")

    halted = ledger.create_run(spec(3))
    ledger.set_halt("test", "pytest")
    assert not ledger.claim_run(halted.id, 1, tmp_path / "y.log")
    ledger.release_halt("pytest")
    assert ledger.claim_run(halted.id, 1, tmp_path / "y.log")


# --- halt latch and audit -------------------------------------------------------------------


def test_halt_latch_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    with Ledger(path) as ledger:
        assert ledger.halt_latch() is None
        latch = ledger.set_halt("kill-switch fired", "alice")
        assert (latch.reason, latch.by) == ("kill-switch fired", "alice")
        assert ledger.set_halt("again", "bob") == latch  # already set: unchanged
    with Ledger(path) as ledger:
        assert ledger.halt_latch() == latch
        ledger.release_halt("carol")
        assert ledger.halt_latch() is None
    with Ledger(path) as ledger:
        assert ledger.halt_latch() is None
        (entry,) = ledger.halt_history()
        assert entry["by"] == "alice" and entry["released_by"] == "carol" and entry["released_at"]


def test_audit_rows(ledger: Ledger) -> None:
    ledger.audit("k1", "fired", detail="by alice")
    ledger.audit("k1", "step_start", step="stop local runs")
    ledger.audit("k2", "fired")
    ledger.audit("k1", "step_end", step="stop local runs", outcome="ok", detail="stopped #1", elapsed=0.25)
    rows = ledger.list_audit("k1")
    assert [r["event"] for r in rows] == ["fired", "step_start", "step_end"]
    assert rows[2]["outcome"] == "ok" and rows[2]["elapsed"] == 0.25 and rows[2]["detail"] == "stopped #1"
    assert datetime.fromisoformat(rows[0]["ts"]).tzinfo is not None
    assert [r["kill_id"] for r in ledger.list_audit()] == ["k1", "k1", "k2", "k1"]


def test_threads_share_one_ledger(ledger: Ledger) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: ledger.create_run(spec(n)).id, range(80)))
    assert len(set(ids)) == 80
    assert len(ledger.list_runs()) == 80


# --- recovery after opsconsole was killed mid-run -------------------------------------------

# A stand-in for the opsconsole UI: it launches runs with the real LocalRunner, reports the
# first run's pid once it is running, then waits to be SIGKILLed. The first run waits for a
# "go" file and exits with code 3; the second never starts (parallelism 1).
OWNER_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from opsconsole.backends.local.runner import LocalRunner
    from opsconsole.domain.models import BatchOptions, RunSpec
    from opsconsole.services.ledger import Ledger

    db, runs_dir, go = sys.argv[1:4]
    child = (
        "import os, sys, time\\n"
        "while not os.path.exists(sys.argv[1]): time.sleep(0.02)\\n"
        "sys.exit(int(sys.argv[2]))\\n"
    )

    async def main():
        ledger = Ledger(Path(db))
        runner = LocalRunner(ledger, Path(runs_dir))
        specs = [RunSpec("t", [sys.executable, "-c", child, go, str(code)], {"code": code}) for code in (3, 4)]
        first, second = await runner.launch(specs, BatchOptions(parallelism=1))
        while ledger.get_run(first.id).pid is None:
            await asyncio.sleep(0.02)
        print(json.dumps({"run": first.id, "queued": second.id, "pid": ledger.get_run(first.id).pid}), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def _start_owner(tmp_path: Path, go: Path) -> tuple[subprocess.Popen, dict]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(tmp_path / "l.sqlite3"), str(tmp_path / "runs"), str(go)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = owner.stdout.readline()
    assert line, "the owner process died before its run started"
    return owner, json.loads(line)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_reconcile_after_opsconsole_is_killed_mid_run(tmp_path: Path) -> None:
    go = tmp_path / "go"
    owner, info = _start_owner(tmp_path, go)
    try:
        _kill(owner)  # opsconsole dies; its run lives on in its own session
        with Ledger(tmp_path / "l.sqlite3") as ledger:
            assert ledger.pragma("integrity_check") == "ok"
            # The run's process is still alive: it stays running. The queued one never will.
            changed = reconcile(ledger)
            assert [(r.id, r.state) for r in changed] == [(info["queued"], State.SKIPPED)]
            assert ledger.get_run(info["run"]).state is State.RUNNING
            assert reconcile(ledger) == []

            go.touch()
            wait_for(lambda: not process_group_alive(info["pid"]), what="the orphaned run to end")
            (settled,) = reconcile(ledger)
            assert settled.id == info["run"]
            assert settled.state is State.FAILED and settled.exit_code == 3 and settled.ended_at
            assert reconcile(ledger) == []
            assert ledger.pragma("integrity_check") == "ok"
    finally:
        if owner.poll() is None:
            _kill(owner)
        go.touch()


def test_reconcile_marks_unknown_without_an_exit_code(tmp_path: Path) -> None:
    go = tmp_path / "go"
    owner, info = _start_owner(tmp_path, go)
    try:
        _kill(owner)
        os.killpg(info["pid"], signal.SIGKILL)  # the run dies too, without writing exit_code
        wait_for(lambda: not process_group_alive(info["pid"]), what="the run to die")
        with Ledger(tmp_path / "l.sqlite3") as ledger:
            changed = {r.id: r for r in reconcile(ledger)}
            assert changed[info["run"]].state is State.UNKNOWN
            assert changed[info["run"]].error == ORPHANED_ERROR
            assert ledger.pragma("integrity_check") == "ok"
    finally:
        if owner.poll() is None:
            _kill(owner)
        go.touch()


def test_reconcile_leaves_runs_of_a_live_owner_alone(ledger: Ledger) -> None:
    run = ledger.create_run(spec(1))  # owned by this (live) process
    ledger.update_run(run.id, state=State.RUNNING, pid=2**22 + 7)  # a pid that doesn't exist
    assert reconcile(ledger) == []
    assert ledger.get_run(run.id).state is State.RUNNING


def test_process_identity_helpers() -> None:
    me = os.getpid()
    start = process_start_time(me)
    assert process_alive(me, start)
    if start is not None:
        assert not process_alive(me, str(int(start) + 1))  # same pid, another process
    assert not process_alive(2**22 + 7)


def test_processes_creating_the_same_new_ledger_at_once_all_succeed(tmp_path: Path) -> None:
    # two `opsconsole kill` started together on a fresh data dir once hit "database is locked"
    code = ("import sys; from pathlib import Path; from opsconsole.services.ledger import Ledger; "
            "Ledger(Path(sys.argv[1])).close()")
    for round_ in range(5):
        path = tmp_path / f"round{round_}" / "ledger.sqlite3"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
        with Ledger(path) as ledger:
            assert ledger.pragma("journal_mode") == "wal"
