"""The CLI under hostile input: huge sweeps stream or are refused, a closed pipe is quiet, a
target that is down/erroring/hanging is a non-zero exit with a reason, a crash is a report
file, never a traceback."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest


def cli(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opsconsole", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def _preset(name: str, body: str) -> Path:
    d = Path(os.environ["XDG_CONFIG_HOME"]) / "opsconsole" / "presets"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.toml").write_text(body)
    return d / f"{name}.toml"


def _sweep(n_a: int, n_b: int) -> str:
    return (f"seed = [{', '.join(str(i) for i in range(1, n_a + 1))}]\n"
            f"steps = [{', '.join(str(i) for i in range(1, n_b + 1))}]\n")


MILLION = 'kind = "local-sample"\ntarget = "local"\n[values]\ninterval = 0.01\n[sweep]\n' + _sweep(1000, 1000)


def test_a_sweep_over_the_cap_is_refused_counted_not_expanded():
    _preset("huge", MILLION)
    out = cli("launch", "huge", "--dry-run")
    assert out.returncode == 1
    assert "1,000,000 runs is over the cap of 1,000" in out.stderr and "Traceback" not in out.stderr
    out = cli("launch", "huge")
    assert out.returncode == 1 and "over the cap" in out.stderr


def test_dry_run_of_a_million_point_sweep_streams_and_head_closes_it_quietly():
    _preset("huge", MILLION)
    proc = subprocess.Popen(f"{sys.executable} -m opsconsole launch huge --dry-run --max-runs 1000000 | head -5",
                            shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=120)
    assert out.splitlines()[0] == "# 1000000 run(s) → local (this machine)" or out.startswith("# 1000000 run(s)")
    assert len(out.splitlines()) == 5
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_dry_run_streams_its_first_points_at_once(tmp_path):
    _preset("huge", MILLION)
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "launch", "huge", "--dry-run", "--max-runs",
                             "1000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        first = [proc.stdout.readline() for _ in range(3)]
        assert first[0].startswith(b"# 1000000 run(s)") and b"seed=1 steps=1" in first[1]
    finally:
        proc.kill()
        proc.wait()


def test_a_preset_raises_its_own_cap():
    _preset("big-ok", 'kind = "local-sample"\ntarget = "local"\nmax_runs = 2000\n[values]\ninterval = 0.01\n'
                      '[sweep]\n' + _sweep(40, 40))
    out = cli("launch", "big-ok", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("# 1600 run(s)")


def _airflow_profile(url: str) -> str:
    return (f'default_profile = "af"\n[profiles.af]\nenvironment = "TEST"\n[profiles.af.airflow]\n'
            f'url = "{url}"\nusername_env = "AF_U"\npassword_env = "AF_P"\ntimeout = 1\n')


class _Erroring(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self._fail()

    def do_POST(self):  # noqa: N802
        self._fail()

    def _fail(self):
        body = b'{"detail": "database is locked"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def airflow_like(request):
    """A port where an 'Airflow' is down (nothing listens), erroring (HTTP 500) or hanging
    (accepts and never answers)."""
    mode = request.param
    if mode == "down":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        yield mode, f"http://127.0.0.1:{port}"
        return
    if mode == "erroring":
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Erroring)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield mode, f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        server.server_close()
        return
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield mode, f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


@pytest.mark.parametrize("airflow_like", ["down", "erroring", "hanging"], indirect=True)
def test_a_headless_launch_to_an_airflow_that_fails_exits_non_zero_with_the_reason(airflow_like, tmp_path):
    mode, url = airflow_like
    config = tmp_path / "config.toml"
    config.write_text(_airflow_profile(url))
    _preset("af-one", 'kind = "local-sample"\ntarget = "airflow"\n[airflow]\ndag_id = "opsconsole_demo"\n'
                      '[values]\ninterval = 0.01\n')
    out = cli("--config", str(config), "launch", "af-one", "--yes", env={"AF_U": "u", "AF_P": "p"}, timeout=120)
    assert out.returncode != 0, (out.stdout, out.stderr)
    # refused by the check before launching (the server cannot be asked), or failed to start
    marker = "failed to start:" if "failed to start:" in out.stderr else "cannot check the launch:"
    assert marker in out.stderr, out.stderr
    reason = out.stderr.split(marker, 1)[1].strip()
    assert reason and reason != "no reason given"
    if mode == "erroring":
        assert "500" in reason and "refused" not in reason  # a server error is not a refused login
    assert "Traceback" not in out.stderr


def test_an_unexpected_crash_writes_a_report_and_exits_non_zero(tmp_path):
    # a preset whose kind file is fine but whose config dir is a file: an OSError nobody expects
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", ""), "OPSCONSOLE_DATA_DIR": str(tmp_path / "state")}
    code = ("import opsconsole.cli as c\n"
            "def boom(a): raise RuntimeError('kaboom \\x1b]0;x\\x07')\n"
            "c._config_check = boom\n"
            "raise SystemExit(c.main(['config', 'check']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env})
    assert out.returncode == 70
    assert "Traceback" not in out.stderr and "\x1b" not in out.stderr
    assert "kaboom" in out.stderr and "crash report" in out.stderr
    reports = list((tmp_path / "state" / "crash").glob("crash-*.txt"))
    assert len(reports) == 1 and "RuntimeError" in reports[0].read_text()
    assert oct(reports[0].stat().st_mode & 0o777) == "0o600"


def test_tail_of_a_missing_file_exits_non_zero():
    out = cli("tail", "/nonexistent/x.log")
    assert out.returncode == 2 and "no such file" in out.stderr
