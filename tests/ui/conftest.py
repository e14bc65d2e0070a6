from __future__ import annotations

import pytest

from opsconsole.app import OpsConsole
from opsconsole.config.settings import parse_config
from opsconsole.services.context import Context


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
