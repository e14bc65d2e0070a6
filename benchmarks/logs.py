"""Benchmark of the log engine and viewer on a generated ~1 GB log.

    python benchmarks/logs.py [--size-gb 1] [--runs 3] [--keep]

Generates a realistic log (timestamps, levels, ~160 B average lines, some multi-KB JSON
lines, a few rare tokens) in a temp dir, then measures with a warm page cache, median of
`--runs` runs:

- tail on screen: process start -> last line rendered, running the real tail app headless
  in a subprocess (which also measures follow latency and RSS, see `_child`);
- full index, whole-file search of a rare token (case-sensitive and -insensitive) with
  ripgrep and with the Python fallback;
- `wc -l` and `rg -c` on the same file as baselines.
The generated file is deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RARE = "ZX_RARE_7f3a"
LEVELS = ["INFO"] * 12 + ["DEBUG"] * 4 + ["WARNING"] * 2 + ["ERROR"]
MODULES = ["hwcc.py", "ccxt_broker.py", "order_processor.py", "process_forecasts.py", "dag_runner.py"]


def generate(path: Path, size: int, seed: int = 1) -> int:
    """Write ~`size` bytes of log; returns the number of lines."""
    rng = random.Random(seed)
    t0 = 1696491600.0  # 2023-10-05 07:40:00 UTC
    n = 0
    written = 0
    rare_at = sorted(rng.randrange(size) for _ in range(5))
    with open(path, "wb", buffering=8 << 20) as f:
        while written < size:
            batch = []
            for _ in range(20000):
                t = t0 + n * 0.0065
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f",{int(t * 1000) % 1000:03d}"
                r = n % 97
                if r == 0:
                    line = f"{stamp} INFO {rng.choice(MODULES)}:{n % 800} # wall_clock_time={stamp}-04:00: done waiting"
                elif r == 1:
                    line = (f"{stamp} INFO balance {{'BNB': 0.0, 'BTC': 0.0, 'BUSD': 0.0, 'ETH': 0.0, "
                            f"'USDT': {6090.5617341 + n / 1e6:.7f}, 'XRP': 0.0}}")
                elif n % 4003 == 5:
                    payload = {"event": "fills", "orders": [
                        {"id": rng.randrange(10**12), "px": rng.random() * 3e4, "qty": rng.random(),
                         "side": rng.choice("BS"), "ts": t} for _ in range(rng.randrange(20, 90))]}
                    line = f"{stamp} DEBUG {rng.choice(MODULES)}:{n % 800} " + json.dumps(payload)
                else:
                    line = (f"{stamp} {rng.choice(LEVELS):<7} {rng.choice(MODULES)}:{n % 800} "
                            f"order_id={rng.randrange(10**10)} symbol=BTC/USDT fill qty={rng.random():.6f} "
                            f"px={rng.random() * 3e4:.2f} status=ok latency_ms={rng.random() * 40:.3f}")
                if rare_at and written >= rare_at[0]:
                    rare_at.pop(0)
                    line += f" {RARE}"
                batch.append(line)
                n += 1
            data = ("\n".join(batch) + "\n").encode()
            f.write(data)
            written += len(data)
    return n


# -- the headless app in a subprocess -----------------------------------------------------

CHILD = r"""
import os, sys, threading, time
T0 = float(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from opsconsole.ui.tail_app import TailApp
from opsconsole.ui.widgets import log_view
path = sys.argv[1]
size = os.path.getsize(path)
out = sys.stdout
results = {}
state = {"want": None, "t": None}
peak = {"anon": 0}
rss = {}

def status():
    d = {}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        if k in ("RssAnon", "RssFile", "VmHWM"):
            d[k] = int(v.split()[0]) * 1024
    return d

def sampler():
    while True:
        peak["anon"] = max(peak["anon"], status()["RssAnon"])
        time.sleep(0.01)
threading.Thread(target=sampler, daemon=True).start()

orig = log_view.LogView.render_line
def render_line(self, y):
    strip = orig(self, y)
    want = state["want"]
    if want is not None and want in strip.text:
        state["want"] = None
        state["hit_wall"] = time.time()  # recorded where the line is drawn, not when noticed
        state["hit"] = time.perf_counter()
    return strip
log_view.LogView.render_line = render_line

with open(path, "rb") as f:
    f.seek(max(0, size - 4096))
    last = f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
state["want"] = last[:60]

def wait(cond, timeout=120):
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            out.write("TIMEOUT " + repr(state) + repr(results) + "\n"); out.flush()
            os._exit(3)
        time.sleep(0.002)  # a tight loop would steal the GIL from the app it measures

def script(app):
    wait(lambda: "hit" in state)
    results["tail"] = state["hit_wall"] - T0
    app.call_from_thread(app.set_interval, 0.002, tick)  # after the paint: not to slow it
    view = app.query_one(log_view.LogView)
    state["phase"] = "index"
    wait(lambda: view.document.indexed)
    state["phase"] = "after index"
    results["index_in_app"] = time.time() - T0  # from process start, includes the tail paint
    rss["indexed"] = status()["RssAnon"]
    time.sleep(0.3)
    # follow: one line
    state["phase"] = "follow 1"
    state.pop("hit", None)
    state["want"] = "FOLLOW_ONE_LINE_MARK"
    t = time.perf_counter()
    with open(path, "ab") as f:
        f.write(b"2023-10-05 20:00:00,000 INFO FOLLOW_ONE_LINE_MARK\n")
    wait(lambda: "hit" in state)
    results["follow_1"] = state["hit"] - t
    time.sleep(0.3)
    # follow: a burst of 200k lines in one write
    # The burst was written to a file by the parent; sendfile appends it in one call without
    # passing through this process's memory (which we are measuring).
    burst_path = sys.argv[4]
    state["phase"] = "burst"
    state.pop("hit", None)
    state["want"] = "BURST_END_MARK"
    rss["before_burst"] = status()["RssAnon"]
    t = time.perf_counter()
    with open(path, "r+b") as f, open(burst_path, "rb") as b:  # not "ab": sendfile refuses O_APPEND
        f.seek(0, os.SEEK_END)
        os.sendfile(f.fileno(), b.fileno(), 0, os.path.getsize(burst_path))
    wait(lambda: "hit" in state)
    results["follow_burst"] = state["hit"] - t
    # a rare-token search through the UI path keeps RSS honest
    state["phase"] = "search"
    app.call_from_thread(view.search, log_view.Query("ZX_RARE_7f3a"))
    wait(lambda: view.document.search is not None and view.document.search.done)
    st = status()
    results.update(rss_anon_peak=peak["anon"], rss_file=st["RssFile"], vm_hwm=st["VmHWM"],
                   loop_gap=gaps["max"])
    sys.stderr.write(f"RSS anon: {rss} end={st} longest loop gap {gaps}\n")
    out.write("RESULT " + repr(results) + "\n")
    out.flush()
    app.call_from_thread(app.exit)

def guarded(app):
    try:
        script(app)
    except BaseException as exc:  # a dead script thread would leave the app running forever
        out.write(f"FAILED {exc!r}\n"); out.flush()
        os._exit(4)

gaps = {"last": None, "max": 0.0}

def tick():
    # The event loop's longest silence while indexing, following and searching: what a key
    # press would wait for (includes the app's own rendering of each frame).
    now = time.perf_counter()
    if gaps["last"] is not None:
        gap = now - gaps["last"]
        if gap > gaps["max"]:
            gaps["max"] = gap
            gaps["phase"] = state.get("phase")
    gaps["last"] = now

class Bench(TailApp):
    def on_ready(self):
        threading.Thread(target=guarded, args=(self,), daemon=True).start()

Bench([path]).run(headless=True, size=(160, 50))
"""


def write_burst(path: Path) -> None:
    """200k short lines and an end mark, appended by the child in one sendfile."""
    with open(path, "wb") as f:
        f.write(b"".join(b"2023-10-05 20:00:01,000 INFO burst line %d of the storm\n" % i for i in range(200_000)))
        f.write(b"2023-10-05 20:00:02,000 INFO BURST_END_MARK\n")


def run_child(path: Path) -> dict:
    burst = path.with_name("burst.log")
    write_burst(burst)
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), repr(t0), str(ROOT / "src"), str(burst)],
                          capture_output=True, text=True, timeout=300)
    if os.environ.get("BENCH_VERBOSE"):
        sys.stderr.write(proc.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return eval(line[7:])  # our own repr of a dict of numbers
    raise RuntimeError(f"child failed: {proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


# -- in-process engine timings ------------------------------------------------------------

def time_index(path: Path) -> float:
    from opsconsole.logs.index import LineIndex
    from opsconsole.logs.source import LocalFileSource

    source = LocalFileSource(path)
    t = time.perf_counter()
    LineIndex(source).extend(source.size())
    elapsed = time.perf_counter() - t
    source.close()
    return elapsed


def time_search(path: Path, case_sensitive: bool, use_rg: bool) -> tuple[float, int]:
    from opsconsole.logs.index import LineIndex
    from opsconsole.logs.search import Query, Search
    from opsconsole.logs.source import LocalFileSource

    source = LocalFileSource(path)
    index = LineIndex(source)
    index.extend(source.size())
    t = time.perf_counter()
    search = Search(index, Query(RARE.lower() if not case_sensitive else RARE, case_sensitive=case_sensitive),
                    use_rg=use_rg).start(index.indexed_bytes)
    search.wait()
    elapsed = time.perf_counter() - t
    source.close()
    return elapsed, search.count


def time_cmd(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def median(fn, runs: int):
    values = [fn() for _ in range(runs)]
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="opsconsole-bench-"))
    path = tmp / "run.log"
    t = time.perf_counter()
    lines = generate(path, int(args.size_gb * (1 << 30)))
    size = path.stat().st_size
    gb = size / (1 << 30)
    print(f"generated {size / 1e6:,.0f} MB, {lines:,} lines ({size / lines:.0f} B/line) "
          f"in {time.perf_counter() - t:.1f} s: {path}", flush=True)
    try:
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm cache
        rows = []

        # One discarded start first: it brings Python's and textual's own files into the page
        # cache too ("page cache warm" for the program, not only for the log).
        run_child(path)
        os.truncate(path, size)
        children = []
        for _ in range(args.runs):
            children.append(run_child(path))
            os.truncate(path, size)  # drop the follow test's appended lines
        med = {k: statistics.median(c[k] for c in children) for k in children[0]}

        wc = median(lambda: time_cmd(["wc", "-l", str(path)]), args.runs)
        rg = median(lambda: time_cmd(["rg", "-c", RARE, str(path)]), args.runs)
        rgi = median(lambda: time_cmd(["rg", "-c", "-i", RARE.lower(), str(path)]), args.runs)
        index = median(lambda: time_index(path), args.runs)
        s_rg = median(lambda: time_search(path, True, True)[0], args.runs)
        s_rgi = median(lambda: time_search(path, False, True)[0], args.runs)
        s_py = median(lambda: time_search(path, True, False)[0], args.runs)
        s_pyi = median(lambda: time_search(path, False, False)[0], args.runs)
        hits = time_search(path, True, True)[1]

        def row(name, value, unit, budget=None, baseline=None, per_gb=False):
            shown = value / gb if per_gb else value
            ok = "" if budget is None else ("ok" if shown <= budget else "OVER")
            ratio = f"{value / baseline:.2f}x" if baseline else ""
            rows.append((name, f"{shown:.3f} {unit}", "" if budget is None else f"<= {budget} {unit}", ok, ratio))

        row("tail on screen (process start)", med["tail"], "s", 0.25)
        row("full index (engine)", index, "s/GB", 0.6, baseline=wc, per_gb=True)
        row("full index (app, from start)", med["index_in_app"], "s")
        row(f"search rare token, rg ({hits} hits)", s_rg, "s/GB", 0.3, baseline=rg, per_gb=True)
        row("search rare token -i, rg", s_rgi, "s/GB", 0.3, baseline=rgi, per_gb=True)
        row("search rare token, python", s_py, "s/GB", 0.6, baseline=rg, per_gb=True)
        row("search rare token -i, python", s_pyi, "s/GB", 0.6, baseline=rgi, per_gb=True)
        row("peak RSS anonymous", med["rss_anon_peak"] / 2**20, "MB", 80)
        row("RSS file-backed (end)", med["rss_file"] / 2**20, "MB")
        row("VmHWM (peak total)", med["vm_hwm"] / 2**20, "MB")
        row("follow latency, 1 line", med["follow_1"], "s", 0.1)
        row("follow latency, 200k-line burst", med["follow_burst"], "s", 0.3)
        row("longest UI event-loop gap (index, follow, search)", med["loop_gap"], "s")
        row("baseline wc -l", wc, "s/GB", per_gb=True)
        row("baseline rg -c", rg, "s/GB", per_gb=True)
        row("baseline rg -c -i", rgi, "s/GB", per_gb=True)

        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nmedian of {args.runs} runs, page cache warm, {os.cpu_count()} cores, file {gb:.2f} GB, "
              f"load average at the end {load}\n")
        header = ("measure", "value", "budget", "", "vs baseline")
        widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(5)]
        for r in [header, tuple("-" * w for w in widths)] + rows:
            print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
            path.with_name("burst.log").unlink(missing_ok=True)
            tmp.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
