"""Helpers for the UI tests: a fast preset, and polling instead of fixed sleeps."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

FIXED = datetime(2026, 11, 22, 9, 30, 0, tzinfo=timezone.utc)


def write_fast_preset(steps: int = 4, interval: float = 0.05, fail: bool = False, name: str = "fast-sample") -> Path:
    presets = Path(os.environ["XDG_CONFIG_HOME"]) / "opsconsole" / "presets"
    presets.mkdir(parents=True, exist_ok=True)
    path = presets / f"{name}.toml"
    path.write_text(f'kind = "local-sample"\ntarget = "local"\ndescription = "fast"\n'
                    f'[values]\nsteps = {steps}\ninterval = {interval}\nfail = {str(fail).lower()}\n')
    return path


async def wait_for(pilot, predicate, timeout: float = 30.0, step: float = 0.05) -> None:
    """Poll the app until `predicate()` holds (no fixed sleeps: CI machines are slow)."""
    loops = int(timeout / step)
    for _ in range(loops):
        if predicate():
            return
        await pilot.pause(step)
    assert predicate(), "condition not reached in time"


async def open_preset(pilot, app, name):
    """Go to the Launch screen (`n`) and select preset `name`; returns the screen once its form is up."""
    from opsconsole.ui.screens.launch import LaunchScreen

    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.catalog.presets)
    screen = app.screen
    screen.query_one("#presets").highlighted = [p.name for p in screen.catalog.presets].index(name)
    await wait_for(pilot, lambda: screen.preset is not None and screen.preset.name == name and screen.fields)
    return screen
