"""Time from `opsconsole` process start to its first frame, and peak RSS (median of 5).

Runs the real app (local profile, empty data dir) headless in a fresh interpreter per run;
the child exits right after its first frame is painted.

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, resource, sys, time
t_import = time.perf_counter()
from opsconsole.config.settings import load_config
from opsconsole.services.context import Context
from opsconsole.app import OpsConsole

class FirstFrame(OpsConsole):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(self._first_frame)

    def _first_frame(self):
        # the Status screen is composed and painted once: that is the first frame
        global first_frame
        first_frame = time.time()
        self.call_after_refresh(self.exit)

first_frame = None

ctx = Context.create(load_config(None))
FirstFrame(ctx).run(headless=True, size=(120, 40))
heavy = sorted(m for m in ("boto3", "kubernetes", "ccxt", "asyncssh") if m in sys.modules)
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "heavy": heavy,
                  "first_frame": first_frame}))
"""


def one_run(env: dict[str, str]) -> tuple[float, float, list[str]]:
    t0 = time.time()  # wall clock: the child stamps its first frame with the same clock
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["first_frame"] - t0, data["maxrss_kb"] / 1024, data["heavy"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OPSCONSOLE_DATA_DIR": tmp, "XDG_CONFIG_HOME": os.path.join(tmp, "cfg")}
        one_run(env)  # warm the page cache and .pyc files
        times, rss, heavy = [], [], set()
        for _ in range(args.runs):
            t, r, h = one_run(env)
            times.append(t)
            rss.append(r)
            heavy.update(h)
    print(f"{'metric':<42} {'median':>10} {'min':>10} {'max':>10}  budget")
    print(f"{'process start → first frame (s)':<42} {statistics.median(times):>10.3f} {min(times):>10.3f} "
          f"{max(times):>10.3f}  < 0.5")
    print(f"{'peak RSS (MB)':<42} {statistics.median(rss):>10.1f} {min(rss):>10.1f} {max(rss):>10.1f}")
    print(f"{'heavy modules imported by the first frame':<42} {', '.join(sorted(heavy)) or 'none':>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
