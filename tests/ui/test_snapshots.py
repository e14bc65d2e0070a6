"""Pinned looks of the Status and kill-switch screens at 80x24 and 160x48."""

from __future__ import annotations

import pytest

from opsconsole.app import OpsConsole
from opsconsole.config.settings import parse_config
from opsconsole.services.context import Context
from ui_helpers import FIXED

CONFIG = '[profiles.preprod]\nenvironment = "PREPROD"\n'


def _app(tmp_path) -> OpsConsole:
    config = parse_config(CONFIG, str(tmp_path / "config.toml"))
    ctx = Context.create(config, "preprod", data_dir=tmp_path / "data")
    ctx.clock = lambda: FIXED
    return OpsConsole(ctx)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_status_screen(snap_compare, tmp_path, size):
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_killswitch_armed(snap_compare, tmp_path, size):
    async def arm(pilot):
        await _settle(pilot)
        await pilot.press("ctrl+k")
        await pilot.pause(0.3)

    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=arm)


async def _settle(pilot):
    pane = pilot.app.screen.query_one("SourcePane")
    for _ in range(200):
        if pane.status.last_ok is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)
