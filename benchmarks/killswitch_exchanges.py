"""Kill-switch exchange steps at size: cancel every open order of 3 accounts × 20 symbols
(the real ccxt against the Binance-spot fake of tests/exchanges, signatures verified), fired
through the real engine, dispatched and verified by a second listing.

    python benchmarks/killswitch_exchanges.py [--accounts 3] [--symbols 20] [--orders 3] [--runs 3]

Prints, per run: fire → the step started, fire → the step ended (every order listed, cancelled
per symbol, listed again), orders confirmed, requests the exchange answered."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "exchanges"))
sys.path.insert(0, str(ROOT / "src"))


def _fake(n_symbols: int):
    from binance_fake import BinanceFake, Symbol

    return BinanceFake([Symbol(f"C{i:02d}", "USDT", Decimal("10.00"), tick=Decimal("0.01"), step=Decimal("0.01"),
                               min_qty=Decimal("0.01"), min_notional=Decimal("5")) for i in range(n_symbols)]).start()


def _config(fake, n_accounts: int, n_symbols: int) -> str:
    lines = ["[profiles.bench]", 'environment = "BENCH"', "[profiles.bench.killswitch]", "deadline = 60"]
    symbols = ", ".join(f'"C{i:02d}/USDT"' for i in range(n_symbols))
    for a in range(n_accounts):
        lines += ["[[profiles.bench.exchanges]]", f'name = "acct{a}"', 'exchange = "binance"',
                  f'key_env = "BENCH_KEY_{a}"', f'secret_env = "BENCH_SECRET_{a}"', f'base_url = "{fake.url}"',
                  "sandbox = true", f"symbols = [{symbols}]"]
    return "\n".join(lines) + "\n"


async def once(n_accounts: int, n_symbols: int, n_orders: int) -> dict[str, float]:
    import opsconsole.backends.registry  # noqa: F401
    from opsconsole.config.settings import parse_config
    from opsconsole.services.context import Context

    fake = _fake(n_symbols)
    try:
        for a in range(n_accounts):
            os.environ[f"BENCH_KEY_{a}"], os.environ[f"BENCH_SECRET_{a}"] = f"key{a}", f"secret{a}"
            acct = fake.account(f"key{a}", f"secret{a}", USDT="1000000",
                                **{f"C{i:02d}": "100000" for i in range(n_symbols)})
            for i in range(n_symbols):
                for k in range(n_orders):
                    fake.limit(acct, f"C{i:02d}USDT", "SELL", "1", f"{11 + k}.00")
        placed = fake.total_open()
        with tempfile.TemporaryDirectory() as tmp:
            config = parse_config(_config(fake, n_accounts, n_symbols), str(Path(tmp) / "config.toml"))
            context = Context.create(config, "bench", data_dir=Path(tmp) / "data")
            try:
                ks = context.killswitch()
                marks: dict[str, float] = {}
                t0 = time.perf_counter()

                def update(result) -> None:
                    if result.kind == "exchanges":
                        marks.setdefault(result.outcome, time.perf_counter())

                report = await ks.fire(by="bench", on_update=update)
                t1 = time.perf_counter()
                step = next(r for r in report.results if r.kind == "exchanges")
                confirmed = step.log.counts().get("confirmed", 0)
            finally:
                await context.aclose()
                context.close()
        started = min((v for k, v in marks.items() if k in ("running", "stopping")), default=t0)
        return {"dispatch_ms": (started - t0) * 1000, "done_s": t1 - t0, "placed": placed, "confirmed": confirmed,
                "left": fake.total_open(), "requests": len(fake.requests), "outcome": step.outcome}
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--orders", type=int, default=3, help="open orders per account and symbol")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = [asyncio.run(once(args.accounts, args.symbols, args.orders)) for _ in range(args.runs)]
    r0 = results[0]
    print(f"exchange kill step: {args.accounts} accounts × {args.symbols} symbols, {r0['placed']} open orders, "
          f"{args.runs} runs")
    print(f"{'':34} {'median':>10} {'max':>10}")
    for label, key, unit in (("fire → step started (ms)", "dispatch_ms", ""), ("fire → cancelled + verified (s)",
                                                                              "done_s", "")):
        values = [r[key] for r in results]
        print(f"{label:34} {statistics.median(values):10.2f} {max(values):10.2f}{unit}")
    print(f"{'orders confirmed / left open':34} {r0['confirmed']:>10} {r0['left']:>10}")
    print(f"{'exchange requests per fire':34} {r0['requests']:>10}")
    print(f"{'step outcome':34} {r0['outcome']:>10}")
    ok = all(r["left"] == 0 and r["confirmed"] == r["placed"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
