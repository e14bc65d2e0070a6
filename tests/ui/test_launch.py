"""The Launch screen: presets → typed form → preview → launch; Runs: clone, re-run, compare."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Switch

from opsconsole.domain.states import State
from opsconsole.ui.screens.launch import LaunchScreen
from opsconsole.ui.widgets.param_field import ParamField
from ui_helpers import FIXED, open_preset, wait_for, write_fast_preset


_open = open_preset


def _preview(screen) -> str:
    from rich.console import Console

    console = Console(width=400, record=True)
    console.print(screen.preview)
    return console.export_text()


async def _type(pilot, screen, name, text):
    field = screen.query_one(f"#field-{name}", ParamField)
    widget = field.query_one(Input)
    widget.focus()
    widget.value = ""
    await pilot.press(*text) if text else None
    await pilot.pause()
    return field


async def test_edit_fields_valid_and_invalid_and_the_preview_follows(make_app):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await _open(pilot, app, "broker-only-twap")
        assert "--num_bars 3 " in _preview(screen)
        field = await _type(pilot, screen, "num_bars", "12")
        assert field.value == 12 and field.error is None
        await wait_for(pilot, lambda: "--num_bars 12 " in _preview(screen))
        assert "●" in field._label().plain  # changed from the preset
        field = await _type(pilot, screen, "passivity_factor", "1.7")
        assert field.error == "must be <= 1"
        assert field.has_class("invalid")
        await wait_for(pilot, lambda: "✗ passivity_factor: must be <= 1" in _preview(screen))
        runs_before = app.context.ledger.list_runs()
        await pilot.press("ctrl+l")
        await pilot.pause(0.3)
        assert app.context.ledger.list_runs() == runs_before  # refused, nothing launched
        field = await _type(pilot, screen, "child_order_execution_freq", "5min")
        assert field.error is None
        field = await _type(pilot, screen, "passivity_factor", "0.3")
        await wait_for(pilot, lambda: "--passivity_factor 0.3 " in _preview(screen)
                       and "--child_order_execution_freq 5min " in _preview(screen))
        switch = screen.query_one("#field-randomize_orders", ParamField).query_one(Switch)
        switch.value = False
        await wait_for(pilot, lambda: "--randomize_orders" not in _preview(screen))
        assert '"passivity_factor": 0.3' in _preview(screen)  # the Airflow conf too


async def test_launch_a_local_sweep_all_points_succeed_in_runs(make_app):
    write_fast_preset(steps=3, interval=0.01, name="fast-sweep")
    path = write_fast_preset(steps=3, interval=0.01, name="fast-sweep")
    path.write_text(path.read_text() + "[sweep]\nseed = [1, 2, 3, 4]\n")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app, "fast-sweep")
        await wait_for(pilot, lambda: "4 runs" in _preview(screen))
        assert "4. seed=4" in _preview(screen)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: len(app.context.ledger.list_runs()) == 4)
        await wait_for(pilot, lambda: all(r.state == State.SUCCESS for r in app.context.ledger.list_runs()),
                       timeout=90)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs")
        pane = app.screen.pane
        await wait_for(pilot, lambda: len(pane.items) == 4 and all(i.state == State.SUCCESS for i in pane.items))
        assert sorted(i.detail["sweep_point"]["seed"] for i in pane.items) == [1, 2, 3, 4]


async def test_runs_clone_rerun_and_compare(make_app):
    write_fast_preset(steps=2, interval=0.01)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app, "fast-sample")
        await _type(pilot, screen, "seed", "11")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: len(app.context.ledger.list_runs()) == 1
                       and app.context.ledger.list_runs()[0].state.final, timeout=60)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs" and app.screen.pane.items)
        await pilot.press("e")  # re-run: same parameters
        await wait_for(pilot, lambda: len(app.context.ledger.list_runs()) == 2, timeout=60)
        first, second = reversed(app.context.ledger.list_runs())
        assert second.parameters == first.parameters and second.parameters["seed"] == 11
        await wait_for(pilot, lambda: all(r.state.final for r in app.context.ledger.list_runs()), timeout=60)
        # clone the run into the form: seed 11 comes back, marked as changed
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs" and len(app.screen.pane.items) == 2)
        await pilot.press("c")
        await wait_for(pilot, lambda: app.current_mode == "launch")
        launch = app.screen
        await wait_for(pilot, lambda: launch.fields and launch.query_one("#field-seed", ParamField).value == 11)
        # compare two runs of different parameters
        await _type(pilot, launch, "seed", "12")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: len(app.context.ledger.list_runs()) == 3, timeout=60)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs" and len(app.screen.pane.items) == 3)
        app.screen.pane.table.move_cursor(row=0)  # the newest run (seed 12)
        await pilot.press("space", "down", "down", "space")  # and the first (seed 11)
        await pilot.press("equals_sign")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "CompareScreen")
        diffs = {row[0]: (row[1], row[2]) for row in app.screen.rows if row[3]}
        assert diffs == {"seed": ("12", "11")}


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_launch_screen_snapshot(snap_compare, tmp_path, size):
    from opsconsole.app import OpsConsole
    from opsconsole.config.settings import parse_config
    from opsconsole.services.context import Context

    ctx = Context.create(parse_config("", str(tmp_path / "c.toml")), data_dir=tmp_path / "data")
    ctx.clock = lambda: FIXED

    async def open_broker(pilot):
        await _open(pilot, pilot.app, "broker-only-twap")
        await pilot.pause(0.3)

    assert snap_compare(OpsConsole(ctx), terminal_size=size, run_before=open_broker)


async def test_save_keeps_comments_and_save_as_makes_a_copy(make_app):
    path = write_fast_preset(steps=2, interval=0.01, name="mine")
    path.write_text("# my own notes\n" + path.read_text())
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app, "mine")
        await _type(pilot, screen, "seed", "99")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "seed = 99" in path.read_text())
        assert path.read_text().startswith("# my own notes\n")
        await pilot.press("f2")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "LinePrompt")
        app.screen.query_one("Input").value = ""
        await pilot.press(*"mine-b", "enter")
        copy = path.with_name("mine-b.toml")
        await wait_for(pilot, lambda: copy.exists() and "seed = 99" in copy.read_text())
        # a shipped preset is saved as the user's own copy, never edited in place
        shipped = await _open(pilot, app, "local-sample")
        await _type(pilot, shipped, "steps", "5")
        await pilot.press("ctrl+s")
        own = path.with_name("local-sample.toml")
        await wait_for(pilot, lambda: own.exists() and "steps = 5" in own.read_text())
        from opsconsole.config import paths

        assert "steps = 30" in (paths.shipped_dir("presets") / "local-sample.toml").read_text()
        assert "# The sample experiment shipped with opsconsole" in own.read_text()


async def test_launch_opens_on_a_preset_this_profile_can_launch(make_app):
    app = make_app()  # the local profile: no Airflow, so not broker-only-twap (first by name)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.preset is not None)
        assert app.screen.preset.target == "local"


async def test_rerun_of_an_incremental_run_says_it_was_skipped_and_a_sweep_point_clones_alone(make_app):
    path = write_fast_preset(steps=2, interval=0.01, name="inc")
    path.write_text(path.read_text().replace("[values]", "[local]\nincremental = true\n\n[values]")
                    + "\n[sweep]\nseed = [1, 2]\n")
    app = make_app()
    notes: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        original = app.notify
        app.notify = lambda message, *a, **k: (notes.append(str(message)), original(message, *a, **k))[1]
        await _open(pilot, app, "inc")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: len(app.context.ledger.list_runs()) == 2
                       and all(r.state is State.SUCCESS for r in app.context.ledger.list_runs()), timeout=60)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs" and len(app.screen.pane.items) == 2)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.context.ledger.list_runs()) == 3, timeout=60)
        skipped = app.context.ledger.list_runs()[0]
        assert skipped.state is State.SKIPPED
        await wait_for(pilot, lambda: any(f"run {skipped.id} SKIPPED: already succeeded" in n for n in notes))
        # clone one point of the sweep: the form holds that point, not the whole sweep
        await pilot.press("r")
        await wait_for(pilot, lambda: app.current_mode == "runs" and len(app.screen.pane.items) == 3)
        app.screen.pane.table.move_cursor(row=2)  # the first run (seed 1)
        await pilot.pause()
        point = app.screen.pane.selected.detail["parameters"]["seed"]
        await pilot.press("c")
        await wait_for(pilot, lambda: app.current_mode == "launch")
        launch = app.screen
        await wait_for(pilot, lambda: launch.fields and launch.query_one("#field-seed", ParamField).swept is None)
        seed = launch.query_one("#field-seed", ParamField)
        assert seed.value == point and launch.form_values()[1] == {}


async def test_every_preset_problem_is_shown(make_app):
    import os
    from pathlib import Path

    d = Path(os.environ["XDG_CONFIG_HOME"]) / "opsconsole" / "presets"
    d.mkdir(parents=True, exist_ok=True)
    for n in range(9):
        (d / f"bad{n}.toml").write_text(f'kind = "no-such-kind-{n}"\ntarget = "local"\n')
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.catalog.presets)
        text = str(app.screen.query_one("#problem-list").render())
        assert "9 problems in the presets" in text
        assert all(f"bad{n}.toml" in text for n in range(9)), text
