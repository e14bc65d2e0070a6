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


# --- issue 9: a kill nothing can talk out of stopping --------------------------------------------

def _group_alive(pgid: int) -> bool:
    from opsconsole.backends.local.procs import process_group_alive

    return process_group_alive(pgid)


async def _started(runner: LocalRunner, ledger: Ledger, steps: int = 100000):
    (record,) = await runner.launch([_sample(steps)])
    for _ in range(600):
        run = ledger.get_run(record.id)
        if run.state == State.RUNNING and run.pid:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not start")


async def test_kill_yes_with_a_corrupt_ledger_stops_everything_sets_the_latch_and_says_what_failed():
    data = paths.profile_dir("local")
    ledger = _ledger()
    runner = LocalRunner(ledger, data / "runs", grace=2.0)
    run = await _started(runner, ledger)
    ledger.close()
    for extra in ("", "-wal", "-shm"):
        (data / f"ledger.sqlite3{extra}").unlink(missing_ok=True)
    (data / "ledger.sqlite3").write_text("garbage, not a database\n")  # reproduces the traceback of issue 9
    out = await asyncio.to_thread(cli, "kill", "--yes", "--json")
    assert out.returncode == 3, out.stdout + out.stderr  # all stopped, but recording failed
    assert "Traceback" not in out.stderr
    report = json.loads(out.stdout)
    assert report["fired"] and report["latch"]["set"] and report["latch"]["where"] == [str(data / "HALTED")]
    assert report["ok"] and not report["recorded"] and any("ledger unusable" in e for e in report["errors"])
    (step,) = report["steps"]
    assert step["outcome"] == "ok" and step["objects"] == [
        {"kind": "local run", "id": f"#{run.id}", "state": "confirmed", "reason": step["objects"][0]["reason"]}]
    assert not _group_alive(run.pid)
    assert report["journal"] == str(data / "kill-journal.jsonl")
    # the latch holds for every process even with the ledger broken; --status says all of it
    status = cli("kill", "--status")
    assert status.returncode == 1
    assert "HALTED since" in status.stdout and "ledger: unusable" in status.stdout and "journal" in status.stdout
    # release refuses while the ledger cannot audit it: the latch stays
    rel = cli("release", "--yes")
    assert rel.returncode == 2 and "HALTED stays set" in rel.stderr
    await runner.wait()


def test_kill_json_without_a_terminal_prints_json():
    out = cli("kill", "--json")
    assert out.returncode == 1 and "--yes" in out.stderr
    body = json.loads(out.stdout)
    assert body["fired"] is False and "--yes" in body["refused"] and body["steps"][0]["name"] == "stop local runs"


def test_kill_status_reports_an_interrupted_kill_and_offers_to_fire_again():
    data = paths.profile_dir("local")
    data.mkdir(parents=True, exist_ok=True)
    script = ("import asyncio, sys\n"
              "from pathlib import Path\n"
              "from opsconsole.services.killswitch import KillStep, KillSwitch\n"
              "d = Path(sys.argv[1])\n"
              "async def hang(log):\n"
              "    (d / 'started').write_text('x')\n"
              "    await asyncio.sleep(3600)\n"
              "asyncio.run(KillSwitch(None, [KillStep('hang', 't', 'hangs', hang, deadline=3600)], "
              "d / 'killswitch.lock', state_dir=d).fire('victim', kill_id='cut-short'))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(data)])
    try:
        import time

        t_end = time.monotonic() + 120  # a loaded CI box starts Python slowly
        # mid-kill: its step runs and its marker is written (beside the steps, never before them)
        while not ((data / "started").exists() and (data / "kill-inprogress.json").exists()):
            assert time.monotonic() < t_end and proc.poll() is None, "the kill did not start"
            time.sleep(0.05)
    finally:
        proc.kill()  # kill -9 mid-kill
        proc.wait()
    out = cli("kill", "--status")
    assert out.returncode == 1
    assert "HALTED since" in out.stdout
    assert "INTERRUPTED: the kill cut-short" in out.stdout and "kill --yes" in out.stdout
    body = json.loads(cli("kill", "--status", "--json").stdout)
    assert [m["kill_id"] for m in body["interrupted"]] == ["cut-short"] and body["halted"]
    again = json.loads(cli("kill", "--yes", "--json").stdout)
    assert [m["kill_id"] for m in again["interrupted_before"]] == ["cut-short"]
    assert cli("kill", "--status").returncode == 0


def test_kill_exits_non_zero_when_the_breaker_fails(tmp_path):
    import http.server
    import threading

    class Fail(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fail)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "c.toml"
        config.write_text('[profiles.local.killswitch]\ncircuit_breaker = { url = "http://127.0.0.1:%d/cb" }\n'
                          % server.server_address[1])
        out = cli("kill", "--yes", config=str(config))
        assert out.returncode == 1, out.stdout + out.stderr
        assert "circuit breaker" in out.stdout and "HTTP 500" in out.stdout and "NOT all steps ended ok" in out.stdout
        assert "HALTED is set" in out.stdout
    finally:
        server.shutdown()
        server.server_close()
