"""Time from process start to the first frame in a real pseudo-terminal: `opsconsole` against a
minimal Textual app (a header, a footer, a static) measured the same way in the same run, and
their ratio (target ≤ 1.25×: a miss is flagged). Also opsconsole's peak RSS and the heavy
modules its first frame imported (headless, as before).

Each run starts a fresh interpreter on a new pty (120x40) and reads what it draws; the first
frame is the moment the screen's last part (the footer's keys) has been written. Runs of the two
apps alternate, so both see the same machine load.

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

TARGET_RATIO = 1.25
SIZE = (120, 40)

MINIMAL = r"""
from textual.app import App
from textual.binding import Binding
from textual.widgets import Footer, Header, Static

class Minimal(App):
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("x", "bell", "XMARKERX")]

    def compose(self):
        yield Header()
        yield Static("a minimal Textual app")
        yield Footer()

Minimal().run()
"""

OPSCONSOLE = "import sys; from opsconsole.cli import main; sys.exit(main([]))"
# the last thing each app paints: a footer key's label
MARKERS = {"minimal": "XMARKERX", "opsconsole": "KILL"}

CHILD_RSS = r"""
import json, resource, sys, time
from opsconsole.config.settings import load_config
from opsconsole.services.context import Context
from opsconsole.app import OpsConsole

class FirstFrame(OpsConsole):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(lambda: self.call_after_refresh(self.exit))

ctx = Context.create(load_config(None))
FirstFrame(ctx).run(headless=True, size=(120, 40))
heavy = sorted(m for m in ("boto3", "kubernetes", "ccxt", "asyncssh") if m in sys.modules)
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "heavy": heavy}))
"""

_ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>NOPc78]")


def first_frame(code: str, marker: str, env: dict[str, str], timeout: float = 60.0) -> float:
    """Seconds from starting `python -c code` on a new pty until `marker` is on its screen."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        while time.perf_counter() - t0 < timeout:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                break
            seen += data
            if marker.encode() in _ANSI.sub(b"", seen[-65536:]):
                return time.perf_counter() - t0
        raise RuntimeError(f"no first frame with {marker!r} in {timeout:.0f}s: {_ANSI.sub(b'', seen)[-400:]!r}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)


def rss_and_heavy(env: dict[str, str]) -> tuple[float, list[str]]:
    out = subprocess.run([sys.executable, "-c", CHILD_RSS], env=env, capture_output=True, text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["maxrss_kb"] / 1024, data["heavy"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OPSCONSOLE_DATA_DIR": tmp, "XDG_CONFIG_HOME": os.path.join(tmp, "cfg"),
               "TERM": "xterm-256color", "COLUMNS": str(SIZE[0]), "LINES": str(SIZE[1])}
        for name, code in (("minimal", MINIMAL), ("opsconsole", OPSCONSOLE)):  # warm .pyc and page cache
            first_frame(code, MARKERS[name], env)
        times: dict[str, list[float]] = {"minimal": [], "opsconsole": []}
        for _ in range(args.runs):
            for name, code in (("minimal", MINIMAL), ("opsconsole", OPSCONSOLE)):
                times[name].append(first_frame(code, MARKERS[name], env))
        rss, heavy = rss_and_heavy(env)
    mine, base = statistics.median(times["opsconsole"]), statistics.median(times["minimal"])
    ratio = mine / base
    print(f"{'metric (pty ' + 'x'.join(map(str, SIZE)) + f', {args.runs} runs)':<46} {'median':>8} {'min':>8} {'max':>8}")
    for name, label in (("minimal", "minimal Textual app: start → first frame (s)"),
                        ("opsconsole", "opsconsole: start → first frame (s)")):
        values = times[name]
        print(f"{label:<46} {statistics.median(values):>8.3f} {min(values):>8.3f} {max(values):>8.3f}")
    verdict = "ok" if ratio <= TARGET_RATIO else f"MISS (target ≤ {TARGET_RATIO:.2f}×)"
    print(f"{'ratio opsconsole / minimal (median)':<46} {ratio:>8.2f}×  {verdict}")
    print(f"{'opsconsole peak RSS, headless (MB)':<46} {rss:>8.1f}")
    print(f"{'heavy modules imported by the first frame':<46} {', '.join(heavy) or 'none':>8}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
