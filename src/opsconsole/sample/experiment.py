"""A sample experiment that logs like a broker-only trading run (seed 000), for the local runner.

    python -m opsconsole.sample.experiment --steps 20 --interval 0.5 [--fail] [--seed K]

It prints timestamped, levelled log lines to stdout (line-buffered), a ``# wall_clock_time=...:
done waiting`` line near the start, order / fill lines while it "trades", and the account
balance before and after the run as the pretty-printed dict that ``flatten_account`` prints.
Exits 0; with ``--fail`` 1 after an ERROR line; on SIGTERM 143 after a WARNING line.
"""

from __future__ import annotations

import argparse
import logging
import os
import pprint
import random
import signal
import sys
import time
from datetime import datetime, timezone
from types import FrameType

SYMBOLS = ["BTC/USDT", "ETH/USDT", "BNB/USDT", "XRP/USDT"]
ASSETS = ["BNB", "BTC", "BUSD", "ETH", "TUSD", "USDC", "USDP", "USDT", "XRP"]
PRICES = {"BTC/USDT": 37250.0, "ETH/USDT": 2050.0, "BNB/USDT": 228.0, "XRP/USDT": 0.61}

log = logging.getLogger("broker")


def _setup_logging() -> None:
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except AttributeError:
        pass
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter("%(asctime)s %(levelname)-5s %(name)s %(funcName)s: %(message)s")
    formatter.converter = time.gmtime  # log in UTC, like the ECS runs
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    log.warning("received SIGTERM, stopping")
    sys.stdout.flush()
    os._exit(143)


def flatten_account(balance: dict[str, float], when: str) -> None:
    log.info("balance %s run:", when)
    print(pprint.pformat(balance), flush=True)


def run(steps: int, interval: float, fail: bool, seed: int | None) -> int:
    rng = random.Random(seed)
    run_id = os.environ.get("OPSCONSOLE_RUN_ID", "-")
    log.info("starting run_ccxt_broker run_id=%s steps=%d interval=%.3fs seed=%s", run_id, steps, interval, seed)
    log.debug("result dir: %s", os.environ.get("OPSCONSOLE_RESULT_DIR", "."))
    balance = {asset: 0.0 for asset in ASSETS}
    balance["USDT"] = round(6000 + rng.uniform(0, 200), 7)
    flatten_account(balance, "before")
    log.info("waiting for the next bar")
    print(f"# wall_clock_time={datetime.now(timezone.utc)}: done waiting", flush=True)

    order_id = 1000
    for step in range(1, steps + 1):
        time.sleep(interval)
        symbol = rng.choice(SYMBOLS)
        side = rng.choice(["buy", "sell"])
        price = PRICES[symbol] * (1 + rng.gauss(0, 0.001))
        notional = rng.uniform(5, 12)
        order_id += 1
        log.debug(
            "submitting child order id=%d symbol=%s side=%s price=%.4f notional=%.2f step=%d/%d",
            order_id, symbol, side, price, notional, step, steps,
        )  # fmt: skip
        if rng.random() < 0.15:
            log.warning("order id=%d not filled within the bar, cancelling (passivity_factor=0.55)", order_id)
            continue
        fill_price = price * (1 + rng.gauss(0, 0.0005))
        fee = notional * 0.001
        balance["USDT"] = round(balance["USDT"] + (price - fill_price) / price * notional * (1 if side == "buy" else -1) - fee, 7)
        log.info("order id=%d filled symbol=%s side=%s fill_price=%.4f fee=%.6f", order_id, symbol, side, fill_price, fee)

    if fail:
        log.error("run_ccxt_broker failed: exchange returned 'Insufficient balance' for order id=%d", order_id)
        return 1
    flatten_account(balance, "after")
    log.info("run finished: %d steps", steps)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opsconsole.sample.experiment", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="number of order steps")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between steps")
    parser.add_argument("--fail", action="store_true", help="log an ERROR and exit 1 at the end")
    parser.add_argument("--seed", type=int, default=None, help="random seed for repeatable logs")
    args = parser.parse_args(argv)
    _setup_logging()
    signal.signal(signal.SIGTERM, _on_sigterm)
    return run(args.steps, args.interval, args.fail, args.seed)


if __name__ == "__main__":
    sys.exit(main())
