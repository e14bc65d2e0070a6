"""The Binance-spot fake (tests/exchanges/binance_fake.py) and profiles whose exchange accounts
point at it, talked to by the real ccxt."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
for path in (str(SRC), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

from binance_fake import default_fake  # noqa: E402
from exchange_helpers import profile_toml  # noqa: E402


@pytest.fixture
def fake():
    server = default_fake().start()
    yield server
    server.stop()


@pytest.fixture
async def make_context(tmp_path, monkeypatch):
    """make_context(fake, {"a1": (key, secret)}, **profile options) → a Context on profile x."""
    made = []

    def make(fake: BinanceFake, creds: dict[str, tuple[str, str]], **options):
        import opsconsole.backends.registry  # noqa: F401 - installs the backends' tables
        from opsconsole.config.settings import parse_config
        from opsconsole.services.context import Context

        for name, (key, secret) in creds.items():
            monkeypatch.setenv(f"T_{name.upper()}_KEY", key)
            monkeypatch.setenv(f"T_{name.upper()}_SECRET", secret)
        config = parse_config(profile_toml(fake, list(creds), **options), str(tmp_path / "config.toml"))
        context = Context.create(config, "x", data_dir=tmp_path / f"data{len(made)}")
        made.append(context)
        return context

    yield make
    for context in made:
        await context.aclose()
        context.close()
