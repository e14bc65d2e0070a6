"""Pinned looks of the Status and kill-switch screens at 80x24 and 160x48."""

from __future__ import annotations

import pytest

from opsconsole.app import OpsConsole
from opsconsole.config.settings import parse_config
from opsconsole.services.context import Context
from ui_helpers import FIXED

CONFIG = '[profiles.preprod]\nenvironment = "PREPROD"\n'


@pytest.fixture(autouse=True)
def _same_python_everywhere(monkeypatch):
    """Previews show the command line, whose `{python}` is this interpreter's path: pinned, so
    a snapshot looks the same in a venv, pyenv or CI."""
    import sys

    monkeypatch.setattr(sys, "executable", "/usr/bin/python3")


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


# --- every focused text box shows what is typed (one row, text visible) at 80x24 -------------

LOG_PROMPTS = {"search": "slash", "line": "colon", "percent": "percent_sign", "time": "t", "save": "S"}


def _log_file(tmp_path):
    path = tmp_path / "run.log"
    path.write_text("".join(f"2026-11-22 09:{i // 60:02d}:{i % 60:02d},000 INFO step {i}\n" for i in range(400)))
    return path


async def _wait(pilot, predicate, what):
    for _ in range(600):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _type_into_focused(pilot, text: str):
    from textual.widgets import Input

    await _wait(pilot, lambda: isinstance(pilot.app.focused, Input), "a focused input")
    inp = pilot.app.focused
    inp.value = ""
    await pilot.press(*text)
    await pilot.pause(0.2)
    inp.cursor_blink = False
    await pilot.pause()
    return inp


def _assert_visible(inp, text: str) -> None:
    """The focused input is one row and that row shows what was typed (the defect: a focused
    Input became an empty two-row box)."""
    assert inp.has_focus
    assert inp.size.height == 1 and inp.outer_size.height == 1, inp.outer_size
    shown = inp.render_line(0).text
    assert text in shown, shown


async def _status_filter(pilot, text):
    await _settle(pilot)
    await pilot.press("slash")
    return await _type_into_focused(pilot, text)


async def _runs_filter(pilot, text):
    await _settle(pilot)
    await pilot.press("r")
    await _wait(pilot, lambda: pilot.app.current_mode == "runs", "Runs")
    await pilot.pause(0.2)
    await pilot.press("slash")
    return await _type_into_focused(pilot, text)


async def _launch_field(pilot, text, field="seed"):
    from opsconsole.ui.screens.launch import LaunchScreen

    app = pilot.app
    await _settle(pilot)
    await pilot.press("n")
    await _wait(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.catalog.presets, "Launch")
    screen = app.screen
    names = [p.name for p in screen.catalog.presets]
    screen.query_one("#presets").highlighted = names.index("local-sample-sweep")
    await _wait(pilot, lambda: screen.preset is not None and screen.preset.name == "local-sample-sweep"
                and screen.fields, "the preset's form")
    await pilot.pause(0.2)
    screen.query_one(f"#field-{field} Input").focus()
    return await _type_into_focused(pilot, text)


async def _save_as(pilot, text):
    await _launch_field(pilot, "12", "steps")
    await pilot.press("f2")
    return await _type_into_focused(pilot, text)


def _log_prompt(kind):
    async def run(pilot, text):
        app = pilot.app
        await _settle(pilot)
        app.open_log(str(app.log_path))
        await _wait(pilot, lambda: app.current_mode == "logs" and app.screen.query("LogView")
                    and app.focused is not None and type(app.focused).__name__ == "LogView", "the log")
        await pilot.pause(0.3)
        await pilot.press(LOG_PROMPTS[kind])
        return await _type_into_focused(pilot, text)

    return run


FOCUSED = {
    "status-filter": (_status_filter, "needle"),
    "runs-filter": (_runs_filter, "sweep-3"),
    "launch-int": (lambda p, t: _launch_field(p, t, "steps"), "123"),
    "launch-sweep": (lambda p, t: _launch_field(p, t, "seed"), "1, 2, 5"),
    "launch-float": (lambda p, t: _launch_field(p, t, "interval"), "0.25"),
    "save-as": (_save_as, "my-preset"),
    **{f"log-{kind}": (_log_prompt(kind), {"line": "42", "percent": "50", "time": "09:03"}.get(kind, "step 9"))
       for kind in LOG_PROMPTS},
}


@pytest.mark.parametrize("case", sorted(FOCUSED))
def test_focused_input_shows_typed_text(snap_compare, tmp_path, case):
    fill, text = FOCUSED[case]
    app = _app(tmp_path)
    app.log_path = _log_file(tmp_path)

    async def run(pilot):
        inp = await fill(pilot, text)
        _assert_visible(inp, text)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run)


def test_log_viewer(snap_compare, tmp_path):
    """The log viewer at 160x48 following a log, with a search: the README's screenshot."""
    app = _app(tmp_path)
    path = tmp_path / "broker.log"
    levels = ["INFO", "INFO", "WARNING", "INFO", "ERROR"]
    path.write_text("".join(f"2026-11-22 09:{i // 60:02d}:{i % 60:02d},{i * 7 % 1000:03d} {levels[i % 5]} "
                            f"hwcc.py:{100 + i % 40} order {i} BTC/USDT qty={i * 3 % 17 + 1} fill ok\n"
                            for i in range(400)))

    async def run(pilot):
        await _settle(pilot)
        pilot.app.open_log(str(path), "broker.log")
        await _wait(pilot, lambda: pilot.app.current_mode == "logs" and type(pilot.app.focused).__name__ == "LogView",
                    "the log")
        await pilot.press("slash")
        inp = await _type_into_focused(pilot, "order 39")
        await pilot.press("enter")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(160, 48), run_before=run)


def test_readme_screenshots_are_the_snapshots():
    """README's screenshots are the pinned snapshots themselves (refreshed with them)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    snaps = Path(__file__).parent / "__snapshots__" / "test_snapshots"
    readme = (root / "README.md").read_text()
    for shot, snap in (("status.svg", "test_status_screen[size1].svg"), ("log-viewer.svg", "test_log_viewer.svg")):
        assert f"docs/screenshots/{shot}" in readme
        assert (root / "docs" / "screenshots" / shot).read_bytes() == (snaps / snap).read_bytes(), \
            f"copy {snap} to docs/screenshots/{shot}"
