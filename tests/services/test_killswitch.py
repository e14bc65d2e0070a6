"""The kill-switch engine: latch first, every step at once, deadlines, audit, the cross-process
lock, dry run and release."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from opsconsole.domain.kill import StepLog
from opsconsole.backends.base import LaunchRefused
from opsconsole.backends.local.runner import LocalRunner, stop_local_runs
from opsconsole.domain.models import RunSpec
from opsconsole.domain.states import State
from opsconsole.backends.local.target import local_kill_step
from opsconsole.services.killswitch import KillStep, KillSwitch, StepResult
from opsconsole.services.ledger import Ledger


def step(name: str, action, deadline: float = 30.0, enabled: bool = True) -> KillStep:
    return KillStep(name=name, kind="test", description=f"test step {name}", action=action, deadline=deadline, enabled=enabled)


async def until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_steps_run_concurrently_and_a_hanging_one_ends_unknown(ledger: Ledger, tmp_path: Path) -> None:
    a_started, b_started = asyncio.Event(), asyncio.Event()
    hang_cancelled = asyncio.Event()

    async def a(log) -> str:  # can only finish if b runs at the same time
        a_started.set()
        await b_started.wait()
        return "a done"

    async def b(log) -> str:
        b_started.set()
        await a_started.wait()
        return "b done"

    async def hang(log) -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            hang_cancelled.set()
            raise
        return "never"

    finished: list[tuple[str, str]] = []

    def on_update(result: StepResult) -> None:
        if result.final:
            finished.append((result.name, result.outcome))

    ks = KillSwitch(ledger, [step("hang", hang, deadline=1.0), step("a", a), step("b", b)], tmp_path / "kill.lock")
    report = await ks.fire("alice", on_update=on_update)

    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes == {"hang": "unknown", "a": "ok", "b": "ok"}
    assert [name for name, _ in finished][-1] == "hang"  # a and b ended first, hang at its deadline
    assert hang_cancelled.is_set()
    assert "deadline" in report.results[0].detail
    assert report.results[1].detail == "a done"
    assert not report.ok
    hang_result = report.results[0]
    assert hang_result.started is not None and hang_result.ended is not None and hang_result.elapsed is not None


async def test_a_failing_step_does_not_stop_the_others(ledger: Ledger, tmp_path: Path) -> None:
    async def boom(log) -> str:
        raise RuntimeError("circuit breaker endpoint returned 500")

    async def fine(log) -> str:
        await asyncio.sleep(0.05)
        return "cancelled 3 orders"

    updates: list[tuple[str, str]] = []
    ks = KillSwitch(ledger, [step("boom", boom), step("fine", fine)], tmp_path / "kill.lock")
    report = await ks.fire("alice", on_update=lambda r: updates.append((r.name, r.outcome)))
    assert [(r.name, r.outcome) for r in report.results] == [("boom", "failed"), ("fine", "ok")]
    assert report.results[0].detail == "RuntimeError: circuit breaker endpoint returned 500"
    assert not report.ok
    # Every step went through running to its final outcome, reported live.
    assert ("boom", "running") in updates and ("boom", "failed") in updates
    assert updates.index(("fine", "running")) < updates.index(("fine", "ok"))


async def test_latch_is_set_before_any_step_and_audit_brackets_each_step(ledger: Ledger, tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    async def check(log) -> str:
        seen["latch"] = await asyncio.to_thread(ledger.halt_latch)
        seen["audit"] = await asyncio.to_thread(ledger.list_audit)
        return "checked"

    async def other(log) -> str:
        return "fine"

    async def disabled(log) -> str:
        seen["disabled ran"] = True
        return "should not run"

    ks = KillSwitch(
        ledger,
        [step("check", check), step("other", other), step("off", disabled, enabled=False)],
        tmp_path / "kill.lock",
    )
    report = await ks.fire("alice", kill_id="k-1")
    assert report.ok and report.kill_id == "k-1"
    assert seen["latch"] is not None and seen["latch"].by == "alice"
    # stop first, write later: the audit is written beside the steps, never before them
    assert all(r["kill_id"] == "k-1" for r in seen["audit"])

    assert "disabled ran" not in seen
    assert {r.name: r.outcome for r in report.results} == {"check": "ok", "other": "ok", "off": "skipped"}

    rows = ledger.list_audit("k-1")
    events = [(r["event"], r["step"]) for r in rows]
    assert events[0] == ("fired", None) and events[-1] == ("done", None)
    assert rows[-1]["outcome"] == "ok"
    for name in ("check", "other"):
        start, end = events.index(("step_start", name)), events.index(("step_end", name))
        assert 0 < start < end
        assert rows[end]["outcome"] == "ok" and rows[end]["elapsed"] is not None
    assert rows[events.index(("step_end", "check"))]["detail"] == "checked"
    assert ("step_start", "off") not in events
    assert rows[events.index(("step_end", "off"))]["outcome"] == "skipped"
    assert ledger.halt_latch() is not None  # stays set after the fire


async def test_dry_run_does_nothing(ledger: Ledger, tmp_path: Path) -> None:
    called = []

    async def act(log) -> str:
        called.append(1)
        return ""

    lock = tmp_path / "kill.lock"
    ks = KillSwitch(ledger, [step("a", act), step("b", act)], lock)
    assert [s.name for s in ks.dry_run()] == ["a", "b"] == [s.name for s in ks.plan()]
    assert called == []
    assert ledger.halt_latch() is None
    assert ledger.list_audit() == []
    assert not lock.exists()


async def test_release_clears_the_latch(ledger: Ledger, tmp_path: Path) -> None:
    async def act(log) -> str:
        return ""

    ks = KillSwitch(ledger, [step("a", act)], tmp_path / "kill.lock")
    await ks.fire("alice")
    assert ledger.halt_latch() is not None
    ks.release("bob")
    assert ledger.halt_latch() is None
    released = [r for r in ledger.list_audit() if r["event"] == "released"]
    assert len(released) == 1 and "bob" in released[0]["detail"]


async def test_fire_with_no_steps_still_latches(ledger: Ledger, tmp_path: Path) -> None:
    report = await KillSwitch(ledger, [], tmp_path / "kill.lock").fire("alice")
    assert report.ok and report.results == []
    assert ledger.halt_latch() is not None
    assert [r["event"] for r in ledger.list_audit(report.kill_id)] == ["fired", "done"]


async def test_a_broken_on_update_callback_does_not_stop_the_kill(ledger: Ledger, tmp_path: Path) -> None:
    async def act(log) -> str:
        return "done"

    def broken(_: StepResult) -> None:
        raise ValueError("widget gone")

    report = await KillSwitch(ledger, [step("a", act)], tmp_path / "kill.lock").fire("alice", on_update=broken)
    assert report.ok


# --- the local step -------------------------------------------------------------------------


async def test_local_kill_step_stops_runs_and_blocks_new_launches(ledger: Ledger, tmp_path: Path) -> None:
    runner = LocalRunner(ledger, tmp_path / "runs")
    cmd = [sys.executable, "-m", "opsconsole.sample.experiment", "--steps", "100000", "--interval", "0.05"]
    (run,) = await runner.launch([RunSpec("sample", cmd)])
    try:
        await until(
            lambda: (r := ledger.get_run(run.id)).log_path
            and Path(r.log_path).exists()
            and "done waiting" in Path(r.log_path).read_text(),
            what="the sample to start",
        )

        async def boom(log) -> str:
            raise RuntimeError("no webhook")

        ks = KillSwitch(ledger, [local_kill_step(ledger, grace=20.0), step("alert", boom)], tmp_path / "kill.lock")
        assert ks.plan()[0].kind == "local"
        report = await ks.fire("alice")
        local = report.results[0]
        assert local.outcome == "ok" and f"#{run.id}" in local.detail, (local.detail, local.log.objects)
        assert report.results[1].outcome == "failed"
        await runner.wait()
        assert ledger.get_run(run.id).state is State.STOPPED
        with pytest.raises(LaunchRefused):
            await runner.launch([RunSpec("sample", cmd)])
    finally:
        await stop_local_runs(ledger, grace=1.0)
        await runner.wait()


async def test_local_kill_step_fails_when_a_run_survives(ledger: Ledger, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that outlives SIGKILL (injected: SIGKILL is not delivered, as to a process in D
    state) is reported failed with its pid, and the step fails."""
    from opsconsole.backends.local import target as local_target

    real_signal = local_target._signal
    monkeypatch.setattr(local_target, "_signal",
                        lambda pid, signum, group: None if signum == signal.SIGKILL else real_signal(pid, signum, group))
    monkeypatch.setattr(local_target, "_KILL_WAIT", 0.5)
    runner = LocalRunner(ledger, ledger.path.parent / "runs")
    cmd = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
           "print('ready', flush=True); time.sleep(600)"]
    (run,) = await runner.launch([RunSpec("stubborn", cmd)])
    try:
        await until(lambda: (r := ledger.get_run(run.id)).log_path and Path(r.log_path).exists()
                    and "ready" in Path(r.log_path).read_text(), what="the stubborn run")
        log = StepLog()
        detail = await local_kill_step(ledger, grace=0.3).action(log)
        assert log.verdict() == "failed" and "STILL ALIVE" in detail
        (obj,) = log.objects
        assert obj.ident == f"#{run.id}" and obj.state == "failed" and "pid" in obj.reason
    finally:
        monkeypatch.undo()
        await stop_local_runs(ledger, grace=0.5)
        await runner.wait()


# --- two processes --------------------------------------------------------------------------

# One `opsconsole kill` stand-in: its only step appends "start NAME" to a journal, waits for
# NAME.go to exist, then appends "end NAME".
FIRE_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from opsconsole.services.killswitch import KillStep, KillSwitch
    from opsconsole.services.ledger import Ledger

    db, lock, journal, name = sys.argv[1:5]

    def note(text):
        with open(journal, "a") as f:
            f.write(text + "\\n")

    async def action(log):
        note("start " + name)
        while not os.path.exists(journal + "." + name + ".go"):
            await asyncio.sleep(0.02)
        note("end " + name)
        return name

    async def main():
        ledger = Ledger(Path(db))
        ks = KillSwitch(ledger, [KillStep("journal", "test", "journal", action, deadline=120)], Path(lock))
        note("firing " + name)
        report = await ks.fire(name, kill_id=name)
        sys.exit(0 if report.ok else 1)

    asyncio.run(main())
    """
)


def _lock_waiters(pid: int) -> bool:
    """True once /proc/locks shows ``pid`` blocked waiting for a lock (best effort)."""
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return False
    return any("->" in line and f" {pid} " in line for line in text.splitlines())


async def test_two_fires_in_two_processes_serialise(tmp_path: Path) -> None:
    db, lock, journal = tmp_path / "l.sqlite3", tmp_path / "kill.lock", tmp_path / "journal"
    Ledger(db).close()

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", FIRE_SCRIPT, str(db), str(lock), str(journal), name])

    def lines() -> list[str]:
        return journal.read_text().splitlines() if journal.exists() else []

    Path(f"{journal}.second.go").touch()  # the second one would finish at once if it could start
    first = start("first")
    second = None
    try:
        await until(lambda: "start first" in lines(), what="the first fire's step to start")
        second = start("second")
        await until(lambda: "firing second" in lines(), what="the second fire to be called")
        # Best effort: see the second process blocked on the lock before letting the first go.
        deadline = time.monotonic() + 10
        while not _lock_waiters(second.pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert "start second" not in lines()
        Path(f"{journal}.first.go").touch()
        assert await asyncio.to_thread(first.wait, 60) == 0
        assert await asyncio.to_thread(second.wait, 60) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()

    steps = [line for line in lines() if not line.startswith("firing")]
    assert steps == ["start first", "end first", "start second", "end second"]
    with Ledger(db) as ledger:
        rows = ledger.list_audit()
        order = [(r["kill_id"], r["event"]) for r in rows]
        assert order.index(("first", "done")) < order.index(("second", "fired"))
        latch = ledger.halt_latch()
        assert latch is not None and latch.by == "first"  # the second found it already set


async def test_a_step_is_retried_within_its_deadline(ledger: Ledger, tmp_path: Path) -> None:
    calls = []

    async def flaky(log) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return f"ok on try {len(calls)}"

    async def always_fails(log) -> str:
        raise ConnectionError("still refused")

    steps = [
        KillStep("flaky", "http", "flaky endpoint", flaky, retries=2, retry_delay=0.01),
        KillStep("down", "http", "down endpoint", always_fails, retries=1, retry_delay=0.01),
    ]
    report = await KillSwitch(ledger, steps, tmp_path / "kill.lock").fire("alice", kill_id="k")
    assert [(r.outcome, r.detail) for r in report.results] == [
        ("ok", "ok on try 3"),
        ("failed", "ConnectionError: still refused"),
    ]
    retries = [(r["step"], r["detail"]) for r in ledger.list_audit("k") if r["event"] == "step_retry"]
    assert sorted(retries) == [("down", "ConnectionError: still refused"), ("flaky", "ConnectionError: refused"),
                               ("flaky", "ConnectionError: refused")]


async def test_a_hung_lock_holder_does_not_block_the_kill_forever(ledger: Ledger, tmp_path: Path) -> None:
    import fcntl

    lock = tmp_path / "kill.lock"
    held = open(lock, "w")  # another holder that never lets go
    fcntl.flock(held, fcntl.LOCK_EX)
    ran = []

    async def act(log) -> str:
        ran.append(1)
        return "done"

    try:
        ks = KillSwitch(ledger, [step("a", act)], lock, lock_timeout=0.3)
        report = await ks.fire("alice", kill_id="k")
    finally:
        held.close()
    assert ran == [1] and report.results[0].outcome == "ok"
    fired = ledger.list_audit("k")[0]
    assert fired["event"] == "fired" and "fired anyway" in fired["detail"]


async def test_an_action_that_cancels_itself_fails_without_stopping_the_fire(ledger: Ledger, tmp_path: Path) -> None:
    async def self_cancel(log) -> str:
        raise asyncio.CancelledError()

    async def fine(log) -> str:
        return "ok"

    report = await KillSwitch(ledger, [step("c", self_cancel), step("f", fine)], tmp_path / "l").fire("alice")
    assert [r.outcome for r in report.results] == ["failed", "ok"]


async def test_a_step_that_acted_shows_stopping_until_confirmed(ledger: Ledger, tmp_path: Path) -> None:
    confirmed = asyncio.Event()

    async def action(log) -> str:
        log.progress("marked 2 runs failed; waiting for their processes")
        await confirmed.wait()
        return "2 processes gone"

    seen: list[tuple[str, str]] = []
    ks = KillSwitch(ledger, [KillStep("airflow", "airflow", "d", action, deadline=30)],
                    tmp_path / "lock")
    fire = asyncio.create_task(ks.fire("t", on_update=lambda r: seen.append((r.outcome, r.detail))))
    await until(lambda: ("stopping", "marked 2 runs failed; waiting for their processes") in seen)
    assert not fire.done()
    confirmed.set()
    report = await fire
    assert [r.outcome for r in report.results] == ["ok"] and report.ok
    assert [o for o, _ in seen] == ["running", "stopping", "ok"]


async def test_an_unusable_lock_file_does_not_stop_the_kill(ledger: Ledger, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the lock's directory should be")

    async def ok(log) -> str:
        return "done"

    report = await KillSwitch(ledger, [step("s", ok)], blocker / "killswitch.lock").fire("t")
    assert [r.outcome for r in report.results] == ["ok"]
    assert ledger.halt_latch() is not None
    fired = [a for a in ledger.list_audit(report.kill_id) if a["event"] == "fired"]
    assert "fired without it" in fired[0]["detail"]


# --- phases, deadlines, objects ---------------------------------------------------------------

def phased(name: str, phase: str, action, deadline: float = 30.0) -> KillStep:
    return KillStep(name=name, kind="test", description=name, action=action, deadline=deadline, phase=phase)


async def test_phases_run_in_order_and_a_hanging_phase_only_delays_the_next_by_its_deadline(ledger: Ledger,
                                                                                          tmp_path: Path) -> None:
    started: dict[str, float] = {}
    ended: dict[str, float] = {}

    def rec(name: str, sleep: float = 0.0, objects: int = 0):
        async def action(log: StepLog) -> str:
            started[name] = time.monotonic()
            for i in range(objects):
                log.acted("thing", f"{name}-{i}")
            await asyncio.sleep(sleep)
            ended[name] = time.monotonic()
            for i in range(objects):
                log.confirmed("thing", f"{name}-{i}", "gone")
            return f"{name} done"
        return action

    seen_outcome: dict = {}

    async def alert(log: StepLog) -> str:
        seen_outcome.update(log.outcome or {})
        return "sent"

    steps = [phased("alert", "alert", alert), phased("stop-a", "stop", rec("stop-a", 0.2, objects=2)),
             phased("breaker", "breaker", rec("breaker", 3600), deadline=0.5),
             phased("stop-b", "stop", rec("stop-b")), phased("halt", "halt", rec("halt"))]
    ks = KillSwitch(ledger, steps, tmp_path / "kill.lock")
    assert [s.phase for s in ks.plan()] == ["breaker", "halt", "stop", "stop", "alert"]
    t0 = time.monotonic()
    report = await ks.fire("alice")
    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes == {"breaker": "unknown", "halt": "ok", "stop-a": "ok", "stop-b": "ok", "alert": "ok"}
    # the halt phase waited for the breaker's deadline (0.5 s), not for the breaker (an hour);
    # the stops ran together: the second started before the first (0.2 s) had ended
    assert started["halt"] - t0 >= 0.45 and "breaker" not in ended
    assert ended["halt"] <= started["stop-a"] and started["stop-b"] < ended["stop-a"]
    # the alert got the outcome of everything before it, objects included
    names = [s["name"] for s in seen_outcome["steps"]]
    assert names == ["breaker", "halt", "stop-a", "stop-b"] and seen_outcome["ok_so_far"] is False
    stop_a = next(s for s in seen_outcome["steps"] if s["name"] == "stop-a")
    assert [o["state"] for o in stop_a["objects"]] == ["confirmed", "confirmed"]
    rows = ledger.list_audit(report.kill_id)
    end = next(r for r in rows if r["event"] == "step_end" and r["step"] == "stop-a")
    assert [o["id"] for o in end["objects"]] == ["stop-a-0", "stop-a-1"]


async def test_at_its_deadline_a_steps_unfinished_objects_are_not_confirmed(ledger: Ledger, tmp_path: Path) -> None:
    async def slow(log: StepLog) -> str:
        log.acted("dag run", "d/r1")
        log.confirmed("dag run", "d/r2", "marked failed")
        await asyncio.sleep(3600)
        return "never"

    report = await KillSwitch(ledger, [step("slow", slow, deadline=0.3)], tmp_path / "kill.lock").fire("bob")
    (result,) = report.results
    assert result.outcome == "unknown"
    states = {o.ident: (o.state, o.reason) for o in result.log.objects}
    assert states["d/r2"][0] == "confirmed"
    assert states["d/r1"][0] == "not confirmed" and "0.3s deadline" in states["d/r1"][1]
    assert report.as_dict()["steps"][0]["objects"][0]["state"] == "not confirmed"


# --- a broken ledger never stops a kill ---------------------------------------------------------------

async def _sleeper(runner: LocalRunner, ledger: Ledger, seconds: int = 600):
    cmd = [sys.executable, "-c", f"import time; print('ready', flush=True); time.sleep({seconds})"]
    (run,) = await runner.launch([RunSpec("sleeper", cmd)])
    await until(lambda: (r := ledger.get_run(run.id)).log_path and Path(r.log_path).exists()
                and "ready" in Path(r.log_path).read_text(), what="the run to start")
    return ledger.get_run(run.id)


def _group_alive(pgid: int) -> bool:
    from opsconsole.backends.local.procs import process_group_alive

    return process_group_alive(pgid)


def _break(data: Path, how: str) -> Path:
    """Break the ledger (or the whole data dir) the way an operator might find it."""
    db = data / "ledger.sqlite3"
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    if how == "corrupt":
        db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    elif how == "text":
        db.unlink()
        db.write_text("this is not a database\n")
    elif how == "directory":
        db.unlink()
        db.mkdir()
    elif how == "data dir is a file":
        moved = data.with_name(data.name + ".moved")
        data.rename(moved)
        data.write_text("not a directory\n")
        return moved
    return data


@pytest.mark.parametrize("how", ["corrupt", "text", "directory", "data dir is a file"])
async def test_a_broken_ledger_never_stops_the_kill(tmp_path: Path, how: str) -> None:
    from opsconsole.services import halt
    from opsconsole.services.killswitch import halt_status

    data = tmp_path / "data"
    ledger = Ledger(Ledger.default_path(data))
    runner = LocalRunner(ledger, data / "runs")
    run = await _sleeper(runner, ledger)
    ledger.close()
    _break(data, how)

    def opener() -> Ledger:
        return Ledger(Ledger.default_path(data))

    ks = KillSwitch(opener, [local_kill_step(opener, grace=2.0, runs_dir=data / "runs")], data / "killswitch.lock",
                    state_dir=data)
    report = await ks.fire("alice")
    (local,) = report.results
    assert local.outcome == "ok", local.detail
    assert [(o.ident, o.state) for o in local.log.objects] == [(f"#{run.id}", "confirmed")]
    assert "/proc only" in local.detail
    assert not _group_alive(run.pid)
    # the latch is set, in a file (the fallback when the data dir is a file), and says so
    assert report.latch_set and halt.read_latch_file(data) is not None
    if how == "data dir is a file":
        assert str(halt.fallback_dir(data)) in report.latch_where[0]
    # recording failed, loudly, and the audit went to the journal
    assert not report.recorded and not report.ledger_ok and report.ok
    assert any("ledger unusable" in e for e in report.errors)
    assert local.record_error
    rows = halt.journal_rows(data)
    assert [r["event"] for r in rows] == ["fired", "step_start", "step_end", "done"]
    status = halt_status(data, opener)
    assert status["halted"] and status["ledger"].startswith("unusable") and status["journal_rows"] == 4
    # repaired (the broken ledger moved aside), the journal is replayed into the new ledger once
    if how == "data dir is a file":
        data.unlink()
        data.mkdir()
    elif how == "directory":
        (data / "ledger.sqlite3").rmdir()
    else:
        (data / "ledger.sqlite3").unlink()
    status = halt_status(data, opener)
    assert status["halted"] and status["ledger"] == "ok" and status["journal_rows"] == 0
    with opener() as fresh:
        assert [r["event"] for r in fresh.list_audit(report.kill_id)] == ["fired", "step_start", "step_end", "done"]
        assert fresh.list_audit(report.kill_id)[2]["outcome"] == "ok"
        assert halt_status(data, lambda: fresh)["journal_rows"] == 0 and len(fresh.list_audit()) == 4
    await runner.wait()


def _can_mount_tmpfs(where: Path) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)],
                        capture_output=True).returncode == 0
    return ok


async def test_a_full_disk_never_stops_the_kill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data dir on a small tmpfs, filled up (an injected ENOSPC where no tmpfs can be mounted):
    the run is stopped, the latch lands in the fallback dir, the audit in the fallback journal."""
    from opsconsole.services import halt

    data = tmp_path / "mnt"
    mounted = _can_mount_tmpfs(data) if not os.environ.get("OPSCONSOLE_TEST_NO_TMPFS") else False
    try:
        ledger = Ledger(Ledger.default_path(data))
        runner = LocalRunner(ledger, data / "runs")
        run = await _sleeper(runner, ledger)
        if mounted:
            fd = os.open(data / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk to the last block
            try:
                while os.write(fd, b"\0" * 4096):
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)
            with pytest.raises(OSError):
                (data / "probe").write_bytes(b"x" * 8192)
        else:  # inject: every write below the data dir fails with ENOSPC
            import errno

            real_atomic, data_dir = halt._atomic_write, data

            def full(path, *a, **k):
                if str(path).startswith(str(data)):
                    raise OSError(errno.ENOSPC, "No space left on device")
                return real_atomic(path, *a, **k)

            monkeypatch.setattr(halt, "_atomic_write", full)
            real_append = halt._append
            monkeypatch.setattr(halt, "_append", lambda path, data: full(path) if str(path).startswith(str(data_dir))
                                else real_append(path, data))
            monkeypatch.setattr(ledger, "audit", lambda *a, **k: (_ for _ in ()).throw(
                __import__("sqlite3").OperationalError("database or disk is full")))
            monkeypatch.setattr(ledger, "set_halt", lambda *a, **k: (_ for _ in ()).throw(
                __import__("sqlite3").OperationalError("database or disk is full")))
        ks = KillSwitch(ledger, [local_kill_step(ledger, grace=2.0, runs_dir=data / "runs")], data / "killswitch.lock")
        report = await ks.fire("alice")
        (local,) = report.results
        assert local.outcome == "ok", local.detail
        assert not _group_alive(run.pid)
        assert report.latch_set and halt.read_latch_file(data) is not None
        assert str(halt.fallback_dir(data)) in report.latch_where[0]
        assert not report.recorded and report.errors
        assert report.journal is not None and str(halt.fallback_dir(data)) in report.journal
        assert any(r["event"] == "done" for r in halt.journal_rows(data))
        await runner.wait()
        ledger.close()
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(data)], capture_output=True)


# --- the wrapper shell killed alone -------------------------------------------------------------------

async def test_a_run_whose_wrapper_was_killed_alone_is_still_found_stopped_and_not_recorded_early(
        ledger: Ledger, tmp_path: Path) -> None:
    import os

    runs = ledger.path.parent / "runs"
    runner = LocalRunner(ledger, runs)
    cmd = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(600)"]
    (run,) = await runner.launch([RunSpec("orphan", cmd)])
    await until(lambda: (r := ledger.get_run(run.id)).log_path and Path(r.log_path).exists()
                and "ready" in Path(r.log_path).read_text(), what="the run to start")
    wrapper = ledger.get_run(run.id).pid
    os.kill(wrapper, signal.SIGKILL)  # the wrapper alone: its command lives on in the group
    await asyncio.sleep(1.0)
    assert _group_alive(wrapper)
    assert ledger.get_run(run.id).state is State.RUNNING  # never "stopped" while its command runs
    from opsconsole.backends.local.recovery import settle

    assert settle({**ledger.recovery_rows("local")[0]}) is None  # recovery agrees: still running
    report = await KillSwitch(ledger, [local_kill_step(ledger, grace=2.0)], tmp_path / "kill.lock").fire("alice")
    (local,) = report.results
    assert local.outcome == "ok", local.detail
    assert [(o.ident, o.state) for o in local.log.objects] == [(f"#{run.id}", "confirmed")]
    assert not _group_alive(wrapper)
    await runner.wait()
    assert ledger.get_run(run.id).state is State.STOPPED


# --- kill -9 of the process firing ---------------------------------------------------------------------

HANG_FIRE = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from opsconsole.services.killswitch import KillStep, KillSwitch
    from opsconsole.services.ledger import Ledger

    data = Path(sys.argv[1])

    async def action(log):
        (data / "step-started").write_text("x")
        await asyncio.sleep(3600)

    async def main():
        ks = KillSwitch(lambda: Ledger(data / "ledger.sqlite3"), [KillStep("hang", "test", "hangs", action,
                        deadline=3600)], data / "killswitch.lock", state_dir=data)
        await ks.fire("victim", kill_id="interrupted-1")

    asyncio.run(main())
    """
)


async def test_a_kill_interrupted_by_kill_9_is_reported_and_the_next_fire_notes_it(tmp_path: Path) -> None:
    from opsconsole.services.killswitch import halt_status

    data = tmp_path / "data"
    data.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HANG_FIRE, str(data)])
    try:
        await until(lambda: (data / "step-started").exists() and (data / "kill-inprogress.json").exists(),
                    what="the step to start and the marker to be written")
        status = halt_status(data, lambda: Ledger(data / "ledger.sqlite3"))
        assert [m["kill_id"] for m in status["in_progress"]] == ["interrupted-1"] and not status["interrupted"]
    finally:
        proc.kill()
        proc.wait()
    opener = lambda: Ledger(data / "ledger.sqlite3")  # noqa: E731
    status = halt_status(data, opener)
    assert status["halted"] and [m["kill_id"] for m in status["interrupted"]] == ["interrupted-1"]
    assert status["interrupted"][0]["by"] == "victim"

    async def fine(log: StepLog) -> str:
        return "ok"

    report = await KillSwitch(opener, [step("again", fine)], data / "killswitch.lock", state_dir=data).fire("alice")
    assert report.ok and [m["kill_id"] for m in report.interrupted] == ["interrupted-1"]
    assert halt_status(data, opener)["interrupted"] == []


# --- the circuit breaker and the alert webhook, against a real HTTP server on 127.0.0.1 -------------

@pytest.fixture
def hook_server():
    """A real HTTP server on 127.0.0.1: /ok answers 200, /fail 500, /hang never answers; every
    request (method, path, headers, JSON body) is kept."""
    import http.server
    import json
    import threading

    seen: list[dict] = []
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                         "json": json.loads(body) if body else None})
            if self.path.startswith("/hang"):
                release.wait(60)
                return
            code = 500 if self.path.startswith("/fail") else 200
            payload = b'{"detail": "breaker busy"}' if code == 500 else b'{"active": true}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_PUT = do_GET = do_DELETE = _any

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.seen = seen  # type: ignore[attr-defined]
    server.base = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield server
    release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("path", "outcome", "object_state"), [
    ("/ok", "ok", "confirmed"), ("/fail", "failed", "failed"), ("/hang", "unknown", "not confirmed")])
async def test_the_circuit_breaker_and_the_webhook_against_a_real_server(
        ledger: Ledger, tmp_path: Path, hook_server, monkeypatch: pytest.MonkeyPatch,
        path: str, outcome: str, object_state: str) -> None:
    from opsconsole.backends.hooks import alert_step, breaker_step

    monkeypatch.setenv("OPSC_BREAKER_TOKEN", "tok-123")
    breaker = breaker_step({"method": "PUT", "url": f"{hook_server.base}{path}/breaker",
                            "token_env": "OPSC_BREAKER_TOKEN"}, deadline=1.5)
    webhook = alert_step(f"{hook_server.base}{path}/alert", deadline=1.5)

    async def stop(log: StepLog) -> str:
        log.confirmed("local run", "#7", "gone")
        return "stopped #7"

    ks = KillSwitch(ledger, [webhook, phased("stop", "stop", stop), breaker], tmp_path / "kill.lock", profile="prod")
    report = await ks.fire("alice")  # two hangs end at their deadlines: the outcomes say how
    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes == {"circuit breaker": outcome, "stop": "ok", "alert webhook": outcome}
    for result in report.results:
        if result.name != "stop":
            assert [o.state for o in result.log.objects] == [object_state], result.detail
    assert report.ok is (outcome == "ok")
    calls = {c["path"].rsplit("/", 1)[1]: c for c in hook_server.seen}
    assert calls["breaker"]["method"] == "PUT" and calls["breaker"]["headers"]["Authorization"] == "Bearer tok-123"
    sent = calls["alert"]["json"]
    assert sent["event"] == "opsconsole.killswitch" and sent["profile"] == "prod" and sent["kill_id"] == report.kill_id
    assert sent["latch"]["set"] is True
    assert {s["name"]: s["outcome"] for s in sent["steps"]} == {"circuit breaker": outcome, "stop": "ok"}
    assert sent["steps"][1]["objects"] == [{"kind": "local run", "id": "#7", "state": "confirmed", "reason": "gone"}]
    assert "tok-123" not in str(sent) and all("tok-123" not in str(r) for r in ledger.list_audit())


async def test_a_breaker_whose_token_is_not_set_fails_without_calling(ledger: Ledger, tmp_path: Path,
                                                                      hook_server, monkeypatch) -> None:
    from opsconsole.backends.hooks import breaker_step

    monkeypatch.delenv("OPSC_MISSING_TOKEN", raising=False)
    step_ = breaker_step({"url": f"{hook_server.base}/ok", "token_env": "OPSC_MISSING_TOKEN"}, deadline=2)
    report = await KillSwitch(ledger, [step_], tmp_path / "kill.lock").fire("alice")
    assert report.results[0].outcome == "failed" and "OPSC_MISSING_TOKEN" in report.results[0].detail
    assert hook_server.seen == []


# --- the plan from the config -------------------------------------------------------------------------

def _config(text: str, tmp_path: Path):
    import opsconsole.backends.registry  # noqa: F401 - installs the backends' tables
    from opsconsole.config.settings import parse_config

    return parse_config(text, str(tmp_path / "config.toml"))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1.0", "0"])
def test_config_refuses_nan_infinite_and_negative_durations(tmp_path: Path, value: str) -> None:
    from opsconsole.config.settings import ConfigError

    for key in (f"deadline = {value}", f"deadlines = {{ local = {value} }}",
                f'circuit_breaker = {{ url = "http://127.0.0.1:1/x", deadline = {value} }}'):
        with pytest.raises(ConfigError) as info:
            _config(f"[profiles.p.killswitch]\n{key}\n", tmp_path)
        assert "killswitch" in str(info.value) and ":2:" in str(info.value), str(info.value)
    with pytest.raises(ConfigError, match="grace"):
        _config(f"[profiles.p.local]\ngrace = {value if value != '0' else 'nan'}\n", tmp_path)


@pytest.mark.parametrize(("text", "key"), [
    ("[profiles.p.killswitch]\nflatten_positions = true\n", "flatten_positions"),
    ("[profiles.p.ecs]\ncluster = \"c\"\n", "ecs"),
    ("[[profiles.p.exchanges]]\nname = \"binance\"\n", "exchanges"),
])
def test_config_refuses_what_is_not_supported_yet(tmp_path: Path, text: str, key: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend that is only announced (as ecs and exchanges were before they landed): its
    table, and a killswitch key that needs it, are refused — never accepted and ignored."""
    from opsconsole.backends import registry
    from opsconsole.config.settings import ConfigError

    for name in ("ecs", "exchanges"):  # back to "announced, not landed"
        monkeypatch.delitem(registry._modules, name)
        monkeypatch.setitem(registry.NOT_YET, name, "not supported yet: this backend has not landed")
    with pytest.raises(ConfigError) as info:
        _config(text, tmp_path)
    assert key in str(info.value) and "not supported yet" in str(info.value)


def test_flatten_positions_is_accepted_once_the_exchanges_backend_has_landed(tmp_path: Path) -> None:
    config = _config("[profiles.p.killswitch]\nflatten_positions = true\n", tmp_path)
    assert config.profile("p").killswitch.flatten_positions is True


def test_every_configured_step_is_in_the_plan_in_phase_order(tmp_path: Path) -> None:
    from opsconsole.services.context import Context
    from opsconsole.services.killplan import build_plan

    config = _config("""
[profiles.p.killswitch]
deadline = 20
deadlines = { local = 7, alert = 3 }
circuit_breaker = { method = "POST", url = "http://127.0.0.1:9/breaker", token_env = "BREAKER_TOKEN", deadline = 4 }
alert_webhook = "http://127.0.0.1:9/alert"
""", tmp_path)
    ctx = Context.create(config, "p", data_dir=tmp_path / "data")
    try:
        plan = build_plan(ctx)
        assert [(s.kind, s.phase, s.deadline) for s in plan] == [
            ("breaker", "breaker", 4.0), ("local", "stop", 7.0), ("alert", "alert", 3.0)]
        assert "BREAKER_TOKEN" in plan[0].description
        assert not (tmp_path / "data").exists()  # building the plan opens no ledger
    finally:
        ctx.close()
