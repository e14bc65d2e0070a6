"""Helpers for the exchanges tests: a profile whose accounts point at the fake, a context's
exchanges session."""

from __future__ import annotations

from binance_fake import BinanceFake


def profile_toml(fake: BinanceFake, accounts: list[str], *, symbols=("BTC/USDT", "ETH/USDT", "XRP/USDT"),
                 environment: str = "TEST", flatten: bool = False, readonly: bool = False, sandbox: bool = True,
                 deadline: float = 20.0) -> str:
    lines = ["[profiles.x]", f'environment = "{environment}"', f"readonly = {str(readonly).lower()}",
             "[profiles.x.killswitch]", f"flatten_positions = {str(flatten).lower()}", f"deadline = {deadline}"]
    for name in accounts:
        lines += ["[[profiles.x.exchanges]]", f'name = "{name}"', 'exchange = "binance"',
                  f'key_env = "T_{name.upper()}_KEY"', f'secret_env = "T_{name.upper()}_SECRET"',
                  f'base_url = "{fake.url}"', f"sandbox = {str(sandbox).lower()}",
                  "symbols = [" + ", ".join(f'"{s}"' for s in symbols) + "]", "timeout = 10", "poll_interval = 5"]
    return "\n".join(lines) + "\n"


def exchanges(context):
    return context.session("exchanges")
