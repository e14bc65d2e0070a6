"""`opsconsole kill` and `opsconsole release`, headless, as separate processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from opsconsole.backends.local.runner import LocalRunner
from opsconsole.config import paths
from opsconsole.domain.models import RunSpec
from opsconsole.domain.states import State
from opsconsole.services.ledger import Ledger


def cli(*args: str, config: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "opsconsole", *(["--config", config] if config else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _ledger() -> Ledger:
    d = paths.profile_dir("local")
    d.mkdir(parents=True, exist_ok=True)
    return Ledger(Ledger.default_path(d))


def _sample(steps: int = 5000) -> RunSpec:
    return RunSpec(kind="local-sample", preset="t",
                   command=[sys.executable, "-m", "opsconsole.sample.experiment", "--steps", str(steps),
                            "--interval", "0.05"])


def test_dry_run_prints_the_plan_and_does_nothing():
    out = cli("kill", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "stop local runs" in out.stdout
    ledger = _ledger()
    assert ledger.halt_latch() is None and ledger.list_audit() == []
    out = cli("kill", "--dry-run", "--json")
    plan = json.loads(out.stdout)
    assert plan["dry_run"] and [s["name"] for s in plan["steps"]] == ["stop local runs"]
    assert _ledger().halt_latch() is None


def test_without_yes_and_without_a_terminal_it_refuses():
    out = cli("kill")
    assert out.returncode == 1
    assert "--yes" in out.stderr
    assert _ledger().halt_latch() is None


def test_readonly_profile_refuses(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[profiles.prod]\nenvironment = "PROD"\nreadonly = true\n')
    out = cli("--profile", "prod", "kill", "--yes", config=str(config))
    assert out.returncode == 2
    assert "read-only" in out.stderr


async def test_kill_stops_runs_started_by_another_process_then_release():
    ledger = _ledger()
    runner = LocalRunner(ledger, paths.profile_dir("local") / "runs", grace=2.0)
    (record,) = await runner.launch([_sample()])
    for _ in range(600):
        run = ledger.get_run(record.id)
        if run.state == State.RUNNING and run.pid:
            break
        await asyncio.sleep(0.05)
    pid = ledger.get_run(record.id).pid
    assert pid
    out = await asyncio.to_thread(cli, "kill", "--yes", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] and report["steps"][0]["outcome"] == "ok"
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    await runner.wait([record.id])
    assert ledger.get_run(record.id).state == State.STOPPED
    assert ledger.halt_latch() is not None
    # the latch refuses launches, across processes, until released
    from opsconsole.backends.base import LaunchRefused

    try:
        await runner.launch([_sample(1)])
        refused = False
    except LaunchRefused:
        refused = True
    assert refused
    out = cli("release", "--yes")
    assert out.returncode == 0 and "released" in out.stdout
    assert ledger.halt_latch() is None
    ledger.close()


def test_two_concurrent_kills_serialise():
    procs = [subprocess.Popen([sys.executable, "-m", "opsconsole", "kill", "--yes", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    audit = _ledger().list_audit()
    kill_ids = []
    for row in audit:
        if row["kill_id"] not in kill_ids:
            kill_ids.append(row["kill_id"])
    assert len(kill_ids) == 2
    # all rows of the first firing come before any row of the second: no interleaving
    order = [kill_ids.index(row["kill_id"]) for row in audit]
    assert order == sorted(order)
