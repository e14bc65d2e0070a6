"""Kill-switch dispatch latency: from the confirming key to the start of every step.

Drives the real app (Textual pilot, headless) with a plan of N steps that record when they
start, and the headless engine directly. Budget (PRODUCT.md): every step dispatched within
100 ms of the confirming key.

    python benchmarks/killswitch.py [--steps 12] [--runs 5] [--no-exchanges]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time


async def ui_once(n_steps: int) -> tuple[float, float]:
    from opsconsole.app import OpsConsole
    from opsconsole.config.settings import builtin_config
    from opsconsole.services import killplan
    from opsconsole.services.context import Context
    from opsconsole.services.killswitch import KillStep
    from opsconsole.ui.screens.killswitch import KillResultsScreen, KillSwitchModal

    starts: list[float] = []

    def plan(context):
        async def step_action() -> str:
            starts.append(time.perf_counter())
            await asyncio.sleep(0.2)  # a real step takes a while: dispatch must not wait for it
            return "ok"

        return [KillStep(f"step {i}", "bench", "records its start", step_action, deadline=5) for i in range(n_steps)]

    original = killplan.build_plan
    killplan.build_plan = plan
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = Context.create(builtin_config(), data_dir=__import__("pathlib").Path(tmp))
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
                while not (isinstance(app.screen, KillResultsScreen) and app.screen.report is not None):
                    await pilot.pause(0.02)
            ctx.close()
    finally:
        killplan.build_plan = original
    return first, last


async def engine_once(n_steps: int) -> float:
    from opsconsole.services.killswitch import KillStep, KillSwitch
    from opsconsole.services.ledger import Ledger

    starts: list[float] = []

    async def step_action() -> str:
        starts.append(time.perf_counter())
        await asyncio.sleep(0.2)
        return "ok"

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Ledger.default_path(__import__("pathlib").Path(tmp)))
        ks = KillSwitch(ledger, [KillStep(f"s{i}", "bench", "", step_action, deadline=5) for i in range(n_steps)],
                        __import__("pathlib").Path(tmp) / "lock")
        t0 = time.perf_counter()
        await ks.fire("bench")
        ledger.close()
    return max(starts) - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-exchanges", action="store_true", help="skip the exchange cancel-all plan")
    args = parser.parse_args()
    os.environ.setdefault("OPSCONSOLE_DATA_DIR", tempfile.mkdtemp())
    ui = [asyncio.run(ui_once(args.steps)) for _ in range(args.runs)]
    engine = [asyncio.run(engine_once(args.steps)) for _ in range(args.runs)]
    ms = lambda xs: f"{statistics.median(xs) * 1000:8.1f} {max(xs) * 1000:8.1f}"  # noqa: E731
    print(f"{args.steps} steps, {args.runs} runs      median(ms)  max(ms)   budget")
    print(f"UI: key → first step started     {ms([u[0] for u in ui])}")
    print(f"UI: key → last step started      {ms([u[1] for u in ui])}   < 100")
    print(f"engine: fire() → last step start {ms(engine)}")
    if not args.no_exchanges:  # a plan with exchange steps: 3 accounts × 20 symbols (killswitch_exchanges.py)
        import killswitch_exchanges

        print()
        return killswitch_exchanges.main(["--runs", str(min(args.runs, 3))])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
