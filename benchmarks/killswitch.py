"""Kill-switch dispatch latency: from the confirming key to the start of every step, with a
healthy ledger and with broken ones (corrupt file, a directory in its place, a data dir that is
a file, a ledger held locked by another writer).

Drives the real app (Textual pilot, headless) with a plan of N steps that record when they
start, and the headless engine directly. Budget (PRODUCT.md): every step dispatched within
100 ms of the confirming key, with a healthy or a broken ledger.

    python benchmarks/killswitch.py [--steps 12] [--runs 5] [--no-exchanges]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

LEDGERS = ("healthy", "corrupt", "directory", "data dir is a file", "locked by a writer")


@contextmanager
def ledger_state(data: Path, how: str):
    """A data dir whose ledger is `how`; yields the data dir the kill-switch is given."""
    from opsconsole.services.ledger import Ledger

    data.mkdir(parents=True, exist_ok=True)
    db = Ledger.default_path(data)
    holder = None
    if how == "healthy":
        Ledger(db).close()
    elif how == "corrupt":
        db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    elif how == "directory":
        db.mkdir()
    elif how == "data dir is a file":
        data.rmdir()
        data.write_text("not a directory\n")
    elif how == "locked by a writer":
        Ledger(db).close()
        holder = sqlite3.connect(str(db), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # every other writer waits (busy timeout: 30 s)
    try:
        yield data
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()


def _plan(n_steps: int, starts: list[float]):
    from opsconsole.domain.kill import KillStep

    async def step_action(log) -> str:
        starts.append(time.perf_counter())
        await asyncio.sleep(0.2)  # a real step takes a while: dispatch must not wait for it
        return "ok"

    return [KillStep(f"step {i}", "bench", "records its start", step_action, deadline=5) for i in range(n_steps)]


async def ui_once(n_steps: int, how: str) -> tuple[float, float]:
    from opsconsole.app import OpsConsole
    from opsconsole.config.settings import builtin_config
    from opsconsole.services import killplan
    from opsconsole.services.context import Context
    from opsconsole.ui.screens.killswitch import KillResultsScreen, KillSwitchModal

    starts: list[float] = []
    original = killplan.build_plan
    killplan.build_plan = lambda context: _plan(n_steps, starts)
    try:
        with tempfile.TemporaryDirectory() as tmp, ledger_state(Path(tmp) / "data", how) as data:
            ctx = Context.create(builtin_config(), data_dir=data)
            app = OpsConsole(ctx)
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause(0.3)
                await pilot.press("ctrl+k")
                while not isinstance(app.screen, KillSwitchModal):
                    await pilot.pause(0.01)
                t_key = time.perf_counter()
                await pilot.press("ctrl+k")
                while len(starts) < n_steps:
                    await asyncio.sleep(0.001)
                first, last = min(starts) - t_key, max(starts) - t_key
                t_end = time.monotonic() + 60
                while not (isinstance(app.screen, KillResultsScreen) and app.screen.report is not None):
                    if time.monotonic() > t_end:
                        break
                    await pilot.pause(0.02)
            ctx.close()
    finally:
        killplan.build_plan = original
    return first, last


async def engine_once(n_steps: int, how: str) -> float:
    from opsconsole.services.killswitch import KillSwitch
    from opsconsole.services.ledger import Ledger

    starts: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, ledger_state(Path(tmp) / "data", how) as data:
        ks = KillSwitch(lambda: Ledger(Ledger.default_path(data)), _plan(n_steps, starts), data / "killswitch.lock",
                        state_dir=data)
        t0 = time.perf_counter()
        task = asyncio.create_task(ks.fire("bench"))
        while len(starts) < n_steps:
            await asyncio.sleep(0.001)
        last = max(starts) - t0
        await task
    return last


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-exchanges", action="store_true", help="skip the exchange cancel-all plan")
    args = parser.parse_args()
    fallback = tempfile.mkdtemp()
    os.environ.setdefault("OPSCONSOLE_DATA_DIR", tempfile.mkdtemp())
    os.environ["OPSCONSOLE_FALLBACK_DIR"] = fallback  # the latch of a broken data dir lands here
    ms = lambda xs: f"{statistics.median(xs) * 1000:9.1f} {max(xs) * 1000:8.1f}"  # noqa: E731
    print(f"{args.steps} steps, {args.runs} runs each; times from the confirming key (UI) or fire() (engine)")
    print(f"{'ledger':<20} {'measure':<28} {'median(ms)':>10} {'max(ms)':>8}  budget  verdict")
    misses = 0
    for how in LEDGERS:
        ui = [asyncio.run(ui_once(args.steps, how)) for _ in range(args.runs)]
        engine = [asyncio.run(engine_once(args.steps, how)) for _ in range(args.runs)]
        rows = [("UI: key → first step started", [u[0] for u in ui], None),
                ("UI: key → last step started", [u[1] for u in ui], 0.100),
                ("engine: fire() → last start", engine, 0.100)]
        for label, xs, budget in rows:
            verdict = "" if budget is None else ("ok" if max(xs) <= budget else "MISS")
            misses += verdict == "MISS"
            print(f"{how:<20} {label:<28} {ms(xs)}  {'' if budget is None else '< 100':>6}  {verdict}")
    print("all within budget" if not misses else f"{misses} measure(s) over budget")
    if not args.no_exchanges:  # a plan with exchange steps: 3 accounts × 20 symbols (killswitch_exchanges.py)
        import killswitch_exchanges

        print()
        return killswitch_exchanges.main(["--runs", str(min(args.runs, 3))])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
