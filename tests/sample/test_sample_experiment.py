"""The sample experiment: log lines shaped like seed 000's broker runs, exit codes, SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

from opsconsole.sample.experiment import ASSETS

CMD = [sys.executable, "-m", "opsconsole.sample.experiment"]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO |WARNING|ERROR) broker \w+: ")
DONE_WAITING = re.compile(
    r"^# wall_clock_time=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00: done waiting$", re.MULTILINE
)
BALANCE = re.compile(
    r"^\{'BNB': 0\.0,\n 'BTC': 0\.0,\n 'BUSD': 0\.0,\n 'ETH': 0\.0,\n 'TUSD': 0\.0,\n 'USDC': 0\.0,\n"
    r" 'USDP': 0\.0,\n 'USDT': \d+\.\d+,\n 'XRP': 0\.0\}$",
    re.MULTILINE,
)


def run(child_env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CMD, *args], env=child_env, capture_output=True, text=True, timeout=120)


def test_a_run_logs_like_a_broker_run_and_exits_0(child_env) -> None:
    done = run(child_env, "--steps", "30", "--interval", "0.001", "--seed", "7")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert len(DONE_WAITING.findall(out)) == 1
    balances = BALANCE.findall(out)
    assert len(balances) == 2  # before and after the run
    assert "INFO  broker flatten_account: balance before run:\n{'BNB'" in out
    assert "INFO  broker flatten_account: balance after run:\n{'BNB'" in out
    assert out.index("balance before run:") < out.index("done waiting") < out.index("balance after run:")
    log_lines = [line for line in out.splitlines() if LOG_LINE.match(line)]
    levels = {LOG_LINE.match(line).group(1).strip() for line in log_lines}
    assert {"DEBUG", "INFO", "WARNING"} <= levels and "ERROR" not in levels
    assert sum("filled" in line for line in log_lines) >= 10
    # Every line is either a log line, the wall-clock line or part of a balance dict.
    for line in out.splitlines():
        assert LOG_LINE.match(line) or line.startswith("# wall_clock_time=") or line.lstrip(" {").startswith("'")
    assert ASSETS == sorted(ASSETS)


def test_the_same_seed_gives_the_same_orders(child_env) -> None:
    def orders(out: str) -> list[str]:
        return [line.split(": ", 1)[1] for line in out.splitlines() if "order id=" in line]

    a = run(child_env, "--steps", "10", "--interval", "0", "--seed", "3").stdout
    b = run(child_env, "--steps", "10", "--interval", "0", "--seed", "3").stdout
    assert orders(a) == orders(b) and orders(a)


def test_fail_exits_1_after_an_error_line(child_env) -> None:
    done = run(child_env, "--steps", "3", "--interval", "0.001", "--fail")
    assert done.returncode == 1
    last = done.stdout.splitlines()[-1]
    assert LOG_LINE.match(last) and " ERROR " in last


def test_sigterm_exits_143_with_a_warning(child_env) -> None:
    proc = subprocess.Popen(
        [*CMD, "--steps", "100000", "--interval", "0.05"], env=child_env, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in proc.stdout:  # wait until it is trading
            if "done waiting" in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()
        assert proc.wait(timeout=60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert re.search(r"WARNING broker \w+: received SIGTERM, stopping", rest)
