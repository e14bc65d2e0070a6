"""Every test gets its own config and data dirs: nothing touches the user's real ones."""

from __future__ import annotations

import pytest

from opsconsole.app import OpsConsole
from opsconsole.config.settings import parse_config
from opsconsole.services.context import Context


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("OPSCONSOLE_DATA_DIR", str(home / "data" / "opsconsole"))
    # where the kill-switch's latch/journal go when the data dir is unusable (services/halt.py)
    monkeypatch.setenv("OPSCONSOLE_FALLBACK_DIR", str(home / "fallback"))
    yield home


@pytest.fixture
def make_app(tmp_path):
    made: list[Context] = []

    def _make(config_text: str = "", profile: str | None = None, clock=None) -> OpsConsole:
        config = parse_config(config_text, str(tmp_path / "config.toml"))
        ctx = Context.create(config, profile, data_dir=tmp_path / "data")
        if clock is not None:
            ctx.clock = clock
        made.append(ctx)
        return OpsConsole(ctx)

    yield _make
    for ctx in made:
        ctx.close()
