"""The local runner against real processes: the sample experiment, parallelism, retries,
abort-on-error, incremental, the halt latch, and stopping runs from another ledger / process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from opsconsole.backends.base import LaunchRefused
from opsconsole.backends.local.runner import LocalRunner, stop_local_runs  # noqa: E402
from opsconsole.domain.models import BatchOptions, RunRecord, RunSpec  # noqa: E402
from opsconsole.domain.states import State  # noqa: E402
from opsconsole.services.ledger import Ledger  # noqa: E402
from opsconsole.backends.local.procs import process_group_alive  # noqa: E402

PY = sys.executable


@pytest.fixture(autouse=True)
def _child_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(SRC) + (os.pathsep + existing if existing else ""))


@pytest.fixture
def ledger(tmp_path: Path):
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    yield ledger
    ledger.close()


@pytest.fixture
async def runner(ledger: Ledger, tmp_path: Path):
    runner = LocalRunner(ledger, tmp_path / "runs", grace=5.0)
    yield runner
    # Whatever a failing test left behind must not outlive it.
    await stop_local_runs(ledger, grace=1.0)
    await runner.wait()


def sample(steps: int = 5, interval: float = 0.01, *extra: str) -> RunSpec:
    command = [PY, "-m", "opsconsole.sample.experiment", "--steps", str(steps), "--interval", str(interval), *extra]
    return RunSpec(kind="sample", command=command, parameters={"steps": steps, "interval": interval, "extra": list(extra)})


def script(code: str, *args: str, **params) -> RunSpec:
    code = textwrap.dedent(code)
    return RunSpec(kind="script", command=[PY, "-c", code, *args], parameters={"code": code, "args": list(args), **params})


# Waits until a file exists, then exits with the given code.
WAIT_FOR_FILE = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
"""


async def until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def log_text(record: RunRecord) -> str:
    return Path(record.log_path).read_text() if record.log_path and Path(record.log_path).exists() else ""


# --- running --------------------------------------------------------------------------------


async def test_sample_run_succeeds_with_log_and_config(runner: LocalRunner, ledger: Ledger, tmp_path: Path) -> None:
    s = RunSpec(
        kind="sample",
        command=sample().command,
        parameters={"steps": 5},
        preset="sample-sweep",
        sweep_point={"seed": 1},
        env={"SAMPLE_TOKEN": "do-not-store-me"},
    )
    changes: list[tuple[int, State]] = []
    (queued,) = await runner.launch([s], on_change=lambda r: changes.append((r.id, r.state)))
    assert queued.state is State.QUEUED  # returned at once
    await runner.wait()

    run = ledger.get_run(queued.id)
    assert run.state is State.SUCCESS and run.exit_code == 0 and run.attempt == 1
    assert run.started_at and run.ended_at and run.pid
    assert changes == [(run.id, State.RUNNING), (run.id, State.SUCCESS)]
    result_dir = tmp_path / "runs" / f"{run.id:06d}"
    assert run.result_dir == str(result_dir.resolve())
    assert Path(run.log_path) == result_dir.resolve() / "attempt-1.log"
    text = log_text(run)
    assert ": done waiting" in text
    assert "flatten_account: balance before run:" in text and "flatten_account: balance after run:" in text
    assert "{'BNB': 0.0,\n 'BTC': 0.0," in text and "\n 'XRP': 0.0}" in text
    assert f"run_id={run.id}" in text  # OPSCONSOLE_RUN_ID reached the process
    config = json.loads((result_dir / "config.json").read_text())
    assert config["command"] == s.command and config["fingerprint"] == s.fingerprint
    assert config["sweep_point"] == {"seed": 1} and config["preset"] == "sample-sweep"
    assert config["env"] == ["SAMPLE_TOKEN"]
    assert "do-not-store-me" not in (result_dir / "config.json").read_text()
    assert (result_dir / "exit_code").read_text().strip() == "0"


async def test_env_values_reach_the_process(runner: LocalRunner, ledger: Ledger) -> None:
    s = RunSpec(
        kind="script",
        command=[PY, "-c", "import os; print('token=' + os.environ['SAMPLE_TOKEN'], os.environ['OPSCONSOLE_RESULT_DIR'])"],
        env={"SAMPLE_TOKEN": "abc123"},
    )
    (run,) = await runner.launch([s])
    await runner.wait()
    run = ledger.get_run(run.id)
    assert run.state is State.SUCCESS
    assert log_text(run).strip() == f"token=abc123 {run.result_dir}"


async def test_parallelism_limit(runner: LocalRunner, ledger: Ledger, tmp_path: Path) -> None:
    go = tmp_path / "go"
    running: set[int] = set()
    most = 0

    def track(record: RunRecord) -> None:
        nonlocal most
        if record.state is State.RUNNING:
            running.add(record.id)
        else:
            running.discard(record.id)
        most = max(most, len(running))

    specs = [script(WAIT_FOR_FILE, str(go), "0", n=n) for n in range(5)]
    records = await runner.launch(specs, BatchOptions(parallelism=2), on_change=track)
    ids = [r.id for r in records]

    def states() -> list[State]:
        return [ledger.get_run(i).state for i in ids]

    await until(lambda: states().count(State.RUNNING) == 2, what="two runs running")
    await asyncio.sleep(0.5)  # give a third run every chance to (wrongly) start
    assert states().count(State.RUNNING) == 2 and states().count(State.QUEUED) == 3
    go.touch()
    await runner.wait()
    assert states() == [State.SUCCESS] * 5
    assert most == 2


async def test_a_failed_run_is_retried(runner: LocalRunner, ledger: Ledger, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    flaky = script(
        """
        import sys
        from pathlib import Path
        counter = Path(sys.argv[1])
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))
        print(f"attempt number {n + 1}")
        sys.exit(1 if n == 0 else 0)
        """,
        str(counter),
    )
    seen: list[State] = []
    (run,) = await runner.launch([flaky], BatchOptions(retries=2), on_change=lambda r: seen.append(r.state))
    await runner.wait()
    run = ledger.get_run(run.id)
    assert run.state is State.SUCCESS and run.attempt == 2 and run.exit_code == 0
    assert seen == [State.RUNNING, State.UP_FOR_RETRY, State.RUNNING, State.SUCCESS]
    result_dir = Path(run.result_dir)
    assert "attempt number 1" in (result_dir / "attempt-1.log").read_text()
    assert "attempt number 2" in (result_dir / "attempt-2.log").read_text()
    assert run.log_path == str(result_dir / "attempt-2.log")


async def test_retries_run_out(runner: LocalRunner, ledger: Ledger) -> None:
    (run,) = await runner.launch([script("import sys; sys.exit(5)")], BatchOptions(retries=1))
    await runner.wait()
    run = ledger.get_run(run.id)
    assert run.state is State.FAILED and run.attempt == 2 and run.exit_code == 5
    assert "exit code 5" in run.error


async def test_sample_fail_is_recorded_failed(runner: LocalRunner, ledger: Ledger) -> None:
    (run,) = await runner.launch([sample(2, 0.01, "--fail")])
    await runner.wait()
    run = ledger.get_run(run.id)
    assert run.state is State.FAILED and run.exit_code == 1
    assert " ERROR " in log_text(run)


async def test_abort_on_error_skips_runs_not_started(runner: LocalRunner, ledger: Ledger, tmp_path: Path) -> None:
    go = tmp_path / "go"
    specs = [
        script(WAIT_FOR_FILE, str(go), "0", n="long"),  # running when the other one fails
        script("import sys; sys.exit(2)", n="bad"),
        script("print('never')", n=1),
        script("print('never')", n=2),
    ]
    long_run, bad, *rest = await runner.launch(specs, BatchOptions(parallelism=2, abort_on_error=True))
    await runner.wait([bad.id])
    assert ledger.get_run(bad.id).state is State.FAILED
    for r in rest:
        r = ledger.get_run(r.id)
        assert r.state is State.SKIPPED and r.attempt == 0
        assert f"run {bad.id} failed (abort-on-error)" in r.error
    assert ledger.get_run(long_run.id).state is State.RUNNING  # left to finish
    go.touch()
    await runner.wait()
    assert ledger.get_run(long_run.id).state is State.SUCCESS


async def test_without_abort_on_error_the_batch_goes_on(runner: LocalRunner, ledger: Ledger) -> None:
    records = await runner.launch(
        [script("import sys; sys.exit(2)", n=0), script("pass", n=1)], BatchOptions(parallelism=1)
    )
    await runner.wait()
    assert [ledger.get_run(r.id).state for r in records] == [State.FAILED, State.SUCCESS]


async def test_incremental_skips_what_already_succeeded(runner: LocalRunner, ledger: Ledger) -> None:
    a, b = script("print('a')", n="a"), script("print('b')", n="b")
    (first,) = await runner.launch([a])
    await runner.wait()
    assert ledger.get_run(first.id).state is State.SUCCESS

    records = await runner.launch([a, b, b], BatchOptions(incremental=True))
    skipped_a, run_b, dup_b = records
    assert skipped_a.state is State.SKIPPED and skipped_a.error == f"already succeeded as run {first.id}"
    assert skipped_a.result_dir is None and skipped_a.ended_at is not None
    assert dup_b.state is State.SKIPPED and f"run {run_b.id} of this batch" in dup_b.error
    await runner.wait()
    assert ledger.get_run(run_b.id).state is State.SUCCESS
    assert ledger.get_run(skipped_a.id).state is State.SKIPPED  # never ran

    # Without incremental, the same spec runs again.
    (again,) = await runner.launch([a])
    await runner.wait()
    assert ledger.get_run(again.id).state is State.SUCCESS


async def test_launch_refused_while_halted(runner: LocalRunner, ledger: Ledger) -> None:
    ledger.set_halt("kill-switch fired", "alice")
    with pytest.raises(LaunchRefused, match="alice"):
        await runner.launch([sample()])
    assert ledger.list_runs() == []
    ledger.release_halt("alice")
    (run,) = await runner.launch([sample()])
    await runner.wait()
    assert ledger.get_run(run.id).state is State.SUCCESS


async def test_launch_refuses_a_non_local_spec(runner: LocalRunner, ledger: Ledger) -> None:
    with pytest.raises(LaunchRefused):
        await runner.launch([RunSpec(kind="dag", command=["x"], target="airflow")])
    assert ledger.list_runs() == []


# --- stopping -------------------------------------------------------------------------------


async def test_stop_from_a_second_ledger_sigterm(runner: LocalRunner, ledger: Ledger) -> None:
    changes: list[State] = []
    (run,) = await runner.launch([sample(100_000, 0.05)], on_change=lambda r: changes.append(r.state))
    await until(lambda: "done waiting" in log_text(ledger.get_run(run.id)), what="the sample to start trading")
    pid = ledger.get_run(run.id).pid

    other = Ledger(ledger.path)  # as the headless `opsconsole kill` would open it
    try:
        report = await stop_local_runs(other, grace=20.0)
    finally:
        other.close()
    assert report.ok and report.stopped == [run.id] and report.survivors == [] and report.killed == []
    assert not process_group_alive(pid)

    await runner.wait()
    run = ledger.get_run(run.id)
    assert run.state is State.STOPPED, run.error  # not failed
    assert changes == [State.RUNNING, State.STOPPED]  # the UI hears of it
    assert "received SIGTERM, stopping" in log_text(run)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_stop_sigkills_a_process_that_ignores_sigterm(runner: LocalRunner, ledger: Ledger) -> None:
    stubborn = script(
        """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring SIGTERM", flush=True)
        time.sleep(3600)
        """
    )
    (run,) = await runner.launch([stubborn])
    await until(lambda: "ignoring SIGTERM" in log_text(ledger.get_run(run.id)), what="the handler to be installed")
    pid = ledger.get_run(run.id).pid

    other = Ledger(ledger.path)
    try:
        report = await stop_local_runs(other, grace=0.5)
    finally:
        other.close()
    assert report.ok, report.detail
    assert report.stopped == [run.id] and report.killed == [run.id]
    assert "SIGKILL" in report.detail
    assert not process_group_alive(pid)
    await runner.wait()
    run = ledger.get_run(run.id)
    assert run.state is State.STOPPED
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_stop_all_cancels_queued_runs(runner: LocalRunner, ledger: Ledger) -> None:
    changes: list[tuple[int, State]] = []
    first, second = await runner.launch(
        [sample(100_000, 0.05), sample(3)],
        BatchOptions(parallelism=1),
        on_change=lambda r: changes.append((r.id, r.state)),
    )
    await until(lambda: "done waiting" in log_text(ledger.get_run(first.id)), what="the first run to start")
    report = await runner.stop_all(grace=20.0)
    assert report.ok and report.stopped == [first.id] and report.cancelled == [second.id]
    assert ledger.get_run(first.id).state is State.STOPPED
    never = ledger.get_run(second.id)
    assert never.state is State.SKIPPED and never.attempt == 0 and never.log_path is None
    assert not (Path(never.result_dir) / "attempt-1.log").exists()
    assert ledger.active_runs() == []
    assert changes[-1] == (second.id, State.SKIPPED) and (first.id, State.STOPPED) in changes


async def test_stop_with_nothing_running_is_ok(ledger: Ledger) -> None:
    report = await stop_local_runs(ledger)
    assert report.ok and report.detail == "no active local runs"


async def test_a_run_killed_from_outside_is_stopped_not_retried(runner: LocalRunner, ledger: Ledger) -> None:
    (run,) = await runner.launch([sample(100_000, 0.05)], BatchOptions(retries=3))
    await until(lambda: "done waiting" in log_text(ledger.get_run(run.id)), what="the sample to start")
    os.killpg(ledger.get_run(run.id).pid, signal.SIGTERM)  # an operator's `kill -- -PGID`
    await runner.wait()
    run = ledger.get_run(run.id)
    assert run.state is State.STOPPED and run.attempt == 1
    assert "SIGTERM" in run.error


# The UI stand-in: runs a batch with its own LocalRunner and prints the final states.
UI_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from opsconsole.backends.local.runner import LocalRunner
    from opsconsole.domain.models import BatchOptions, RunSpec
    from opsconsole.services.ledger import Ledger

    async def main():
        ledger = Ledger(Path(sys.argv[1]))
        runner = LocalRunner(ledger, Path(sys.argv[2]))
        cmd = [sys.executable, "-m", "opsconsole.sample.experiment", "--steps", "100000", "--interval", "0.05"]
        records = await runner.launch([RunSpec("sample", cmd, {"n": n}) for n in range(3)], BatchOptions(parallelism=2, retries=2))
        print(json.dumps([r.id for r in records]), flush=True)
        await runner.wait()
        print(json.dumps({r.id: ledger.get_run(r.id).state.value for r in records}), flush=True)

    asyncio.run(main())
    """
)


async def test_stop_local_runs_across_processes(ledger: Ledger, tmp_path: Path) -> None:
    ui = subprocess.Popen(
        [PY, "-c", UI_SCRIPT, str(ledger.path), str(tmp_path / "runs")], stdout=subprocess.PIPE, text=True
    )
    try:
        ids = json.loads(await asyncio.to_thread(ui.stdout.readline))
        await until(
            lambda: all("done waiting" in log_text(ledger.get_run(i)) for i in ids[:2]), what="two runs to start"
        )
        pids = [ledger.get_run(i).pid for i in ids[:2]]
        report = await stop_local_runs(ledger, grace=20.0)
        assert report.ok, report.detail
        assert report.stopped == ids[:2] and report.cancelled == [ids[2]]
        assert not any(process_group_alive(p) for p in pids)
        final = json.loads(await asyncio.to_thread(ui.stdout.readline))
        # The UI's runner saw its children stopped by someone else: stopped, not failed/retried.
        assert final == {str(ids[0]): "stopped", str(ids[1]): "stopped", str(ids[2]): "skipped"}
        assert [ledger.get_run(i).attempt for i in ids] == [1, 1, 0]
        assert await asyncio.to_thread(ui.wait, 30) == 0
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait()


async def test_stop_local_runs_after_the_ui_was_killed(ledger: Ledger, tmp_path: Path) -> None:
    """The UI crashed; its runs live on in their own sessions; `opsconsole kill` still stops them."""
    ui = subprocess.Popen(
        [PY, "-c", UI_SCRIPT, str(ledger.path), str(tmp_path / "runs")], stdout=subprocess.PIPE, text=True
    )
    try:
        ids = json.loads(await asyncio.to_thread(ui.stdout.readline))
        await until(
            lambda: all("done waiting" in log_text(ledger.get_run(i)) for i in ids[:2]), what="two runs to start"
        )
        pids = [ledger.get_run(i).pid for i in ids[:2]]
    finally:
        ui.kill()
        ui.wait()
    assert all(process_group_alive(p) for p in pids)  # orphaned, still trading

    report = await stop_local_runs(ledger, grace=20.0)
    assert report.ok, report.detail
    assert report.stopped == ids[:2]
    assert not any(process_group_alive(p) for p in pids)
    states = [ledger.get_run(i).state for i in ids]
    assert states == [State.STOPPED, State.STOPPED, State.SKIPPED]  # the third never started
    assert ledger.active_runs() == []
