"""`opsconsole launch PRESET [--set k=v] [--dry-run]`, headless."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from opsconsole.backends.local.recovery import reconcile
from opsconsole.config import paths
from opsconsole.domain.states import State
from opsconsole.services.ledger import Ledger

from seed_commands import BROKER


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opsconsole", *args], capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)


def _user_preset(name: str, body: str) -> Path:
    d = Path(os.environ["XDG_CONFIG_HOME"]) / "opsconsole" / "presets"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.toml").write_text(body)
    return d / f"{name}.toml"


def test_dry_run_prints_the_command_and_conf():
    out = cli("launch", "broker-only-twap", "--dry-run")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "# 1 run(s) → airflow DAG test.one_shot_twap_experiment_juraj"
    assert lines[1] == BROKER
    assert '"passivity_factor": 0.55' in lines[2]


def test_set_overrides_and_refuses_invalid_values():
    out = cli("launch", "broker-only-twap", "--dry-run", "--set", "num_bars=7", "--set", "volatility_multiple=1 2")
    assert out.returncode == 0
    assert "--num_bars 7 " in out.stdout and "--volatility_multiple 1 2 " in out.stdout
    out = cli("launch", "broker-only-twap", "--dry-run", "--set", "passivity_factor=1.5")
    assert out.returncode == 1 and "passivity_factor: must be <= 1" in out.stderr
    out = cli("launch", "broker-only-twap", "--set", "nope=1")
    assert out.returncode == 1 and "unknown parameter" in out.stderr
    out = cli("launch", "no-such-preset")
    assert out.returncode == 1 and "no preset 'no-such-preset'" in out.stderr


def test_local_sweep_launches_prints_ids_and_incremental_skips_what_succeeded():
    _user_preset("tiny-sweep", 'kind = "local-sample"\ntarget = "local"\n[local]\nincremental = true\n'
                               'parallelism = 2\n[values]\ninterval = 0.01\nsteps = 2\n[sweep]\nseed = [1, 2, 3]\n')
    out = cli("launch", "tiny-sweep")
    assert out.returncode == 0, out.stderr
    ids = [int(x) for x in out.stdout.split()]
    assert len(ids) == 3
    ledger = Ledger(Ledger.default_path(paths.profile_dir("local")))
    runs = {r.id: r for r in ledger.list_runs()}
    assert [runs[i].state for i in ids] == [State.SUCCESS] * 3
    assert [runs[i].sweep_point for i in ids] == [{"seed": 1}, {"seed": 2}, {"seed": 3}]
    # a fourth point: only it runs; the three that succeeded are skipped
    _user_preset("tiny-sweep", 'kind = "local-sample"\ntarget = "local"\n[local]\nincremental = true\n'
                               '[values]\ninterval = 0.01\nsteps = 2\n[sweep]\nseed = [1, 2, 3, 4]\n')
    out = cli("launch", "tiny-sweep")
    assert out.returncode == 0, out.stderr
    again = {r.id: r for r in ledger.list_runs()}
    new_ids = [int(x) for x in out.stdout.split()]
    states = [again[i].state for i in new_ids]
    assert states == [State.SKIPPED, State.SKIPPED, State.SKIPPED, State.SUCCESS]
    assert "already succeeded" in again[new_ids[0]].error
    ledger.close()


def test_launch_refused_while_halted():
    ledger = Ledger(Ledger.default_path(paths.profile_dir("local")))
    ledger.set_halt("test", "pytest")
    out = cli("launch", "local-sample", "--set", "steps=1")
    assert out.returncode == 2 and "HALTED" in out.stderr
    assert ledger.list_runs() == []
    ledger.close()


def test_no_wait_returns_once_the_run_has_started_and_it_goes_on_alone():
    out = cli("launch", "local-sample", "--no-wait", "--set", "steps=20", "--set", "interval=0.05")
    assert out.returncode == 0, out.stderr
    (run_id,) = [int(x) for x in out.stdout.split()]
    ledger = Ledger(Ledger.default_path(paths.profile_dir("local")))
    run = ledger.get_run(run_id)
    assert run.state == State.RUNNING and run.pid
    for _ in range(600):  # the run outlives the CLI; a later reconcile settles it from its exit code
        reconcile(ledger)
        if ledger.get_run(run_id).state.final:
            break
        time.sleep(0.05)
    assert ledger.get_run(run_id).state == State.SUCCESS
    ledger.close()
