"""Benchmark of the untrusted-input budgets (issue 11): what a hostile input costs now.

    python benchmarks/hostile.py

Measures, each in a fresh subprocess or thread, and prints a table:
- `launch --dry-run` of a 1,000,000-point sweep (raised with --max-runs) into /dev/null:
  time to the first point, total time, peak RSS (it streams: memory stays flat);
- the same sweep without --max-runs: time to the refusal;
- a 50 MB config: time to the refusal (the size limit, checked before reading);
- a 20,000-deep TOML array: time to the problem (the depth limit, no RecursionError);
- a catastrophic regex `(a|aa)+$` over 2 MB with the Python engine: time until the search
  gives up, and the longest stall another thread saw meanwhile (the GIL is released).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _sweep_preset(home: Path) -> None:
    presets = home / "config" / "opsconsole" / "presets"
    presets.mkdir(parents=True, exist_ok=True)
    numbers = ", ".join(str(i) for i in range(1, 1001))
    (presets / "huge.toml").write_text('kind = "local-sample"\ntarget = "local"\n[values]\ninterval = 0.01\n'
                                       f"[sweep]\nseed = [{numbers}]\nsteps = [{numbers}]\n")


def dry_run(home: Path, raise_cap: bool) -> tuple[float, float, float, int]:
    env = {**ENV, "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}
    args = [sys.executable, "-m", "opsconsole", "launch", "huge", "--dry-run"]
    if raise_cap:
        args += ["--max-runs", "1000000"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    first = None
    lines = 0
    for _ in proc.stdout:
        lines += 1
        if first is None:
            first = time.monotonic() - started
    proc.wait()
    total = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return first or total, total, max(peak, before) / 1024, lines


def config_refusal(path: Path) -> float:
    code = ("import time,sys; from opsconsole.config.settings import load_config, ConfigError\n"
            "t=time.monotonic()\ntry: load_config(__import__('pathlib').Path(sys.argv[1]))\n"
            "except ConfigError as e: print(time.monotonic()-t)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=ENV)
    return float(out.stdout.strip() or "nan")


def catastrophic_search(tmp: Path) -> tuple[float, float, str]:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ["OPSCONSOLE_NO_RG"] = "1"
    from opsconsole.logs.follow import LogDocument
    from opsconsole.logs.query import Query
    from opsconsole.logs.ref import as_ref

    path = tmp / "slow.log"
    path.write_text(("a" * 4000 + "!\n") * 500)
    doc = LogDocument(as_ref(path), on_change=lambda: None)
    doc.start()
    while not doc.indexed:
        time.sleep(0.01)
    ticks: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    started = time.monotonic()
    search = doc.start_search(Query(r"(a|aa)+$", regex=True))
    search.wait(60)
    elapsed = time.monotonic() - started
    stop.set()
    t.join()
    doc.close()
    stall = max(b - a for a, b in zip(ticks, ticks[1:]))
    return elapsed, stall, (search.error or "finished")[:40]


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        home = Path(d)
        _sweep_preset(home)
        first, total, rss, lines = dry_run(home, raise_cap=True)
        rows.append(("dry-run 1M points (--max-runs)", f"first point {first:.2f}s", f"total {total:.1f}s",
                     f"peak RSS {rss:.0f} MB, {lines:,} lines"))
        _, total, _, _ = dry_run(home, raise_cap=False)
        rows.append(("dry-run 1M points (default cap)", f"refused in {total:.2f}s", "", "exit 1"))
        big = home / "big.toml"
        with open(big, "wb") as out:
            out.truncate(50 << 20)
        rows.append(("50 MB config", f"refused in {config_refusal(big) * 1000:.1f} ms", "", "size limit"))
        deep = home / "deep.toml"
        deep.write_text("x = " + "[" * 20000 + "]" * 20000 + "\n")
        rows.append(("20,000-deep array config", f"refused in {config_refusal(deep) * 1000:.1f} ms", "",
                     "depth limit"))
        elapsed, stall, outcome = catastrophic_search(home)
        rows.append(("(a|aa)+$ over 2 MB, Python engine", f"ended in {elapsed:.2f}s",
                     f"longest stall {stall * 1000:.0f} ms", outcome))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(("case", "result", "", "note"), width)))
    print("-+-".join("-" * w for w in width))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, width)))


if __name__ == "__main__":
    main()
