"""The backend contract: a toy backend (tests/toy_backend/, registered here and nowhere else)
appears in Status, the kill plan, the Launch targets and `config check` with no change outside
its own package; and the one action path refuses, confirms, runs and audits every action."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from opsconsole.backends import registry
from opsconsole.cli import main
from opsconsole.config.settings import ConfigError, parse_config
from opsconsole.domain import policy
from opsconsole.domain.actions import Action, ActionCall
from opsconsole.services.actions import ActionRunner
from opsconsole.services.context import Context
from opsconsole.ui.screens.confirm import ConfirmScreen
from opsconsole.ui.widgets.source_pane import SourcePane
from ui_helpers import wait_for

TOY = """
default_profile = "t"
[profiles.t]
environment = "TEST"
[[profiles.t.toy]]
name = "box-1"
items = ["a", "b"]
[[profiles.t.toy]]
name = "box-2"
"""


@pytest.fixture
def toy():
    registry.register("toy", "toy_backend")
    yield
    registry.unregister("toy")


def _context(tmp_path: Path, text: str = TOY) -> Context:
    return Context.create(parse_config(text, str(tmp_path / "config.toml")), None, data_dir=tmp_path / "data")


def test_a_backend_is_imported_only_when_a_profile_enables_it(toy, tmp_path):
    plain = Context.create(parse_config("[profiles.p]\n", str(tmp_path / "c.toml")), "p", data_dir=tmp_path / "p")
    assert [s.backend.name for s in plain.sessions] == ["local"]
    ctx = _context(tmp_path)
    assert [s.backend.name for s in ctx.sessions] == ["local", "toy"]
    assert ctx.session("toy").env.settings[0]["items"] == ["a", "b"]


async def test_toy_backend_in_status_with_its_action_through_the_action_path(toy, tmp_path):
    from opsconsole.app import OpsConsole

    ctx = _context(tmp_path)
    app = OpsConsole(ctx)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            pane = app.screen.query_one("#pane-toy", SourcePane)
            await wait_for(pilot, lambda: [it.key for it in pane._shown] == ["box-1/a", "box-1/b"])
            # the pane's keys come from the backend's declared actions (and `?` lists them)
            assert "toy.poke" in {b.id for b in type(pane).BINDINGS}
            pane.table.focus()
            pane.table.move_cursor(row=1)
            await pilot.press("ctrl+o")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.click("#confirm")
            await wait_for(pilot, lambda: ctx.ledger.list_action_audit() != [])
            (row,) = ctx.ledger.list_action_audit()
            assert (row["action"], row["outcome"], row["objects"], row["profile"]) == ("toy.poke", "ok", ["box-1/b"], "t")
            assert json.loads((tmp_path / "data" / "toy.json").read_text())["pokes"] == ["box-1/b"]
            # the palette offers the selected item's actions by name
            names = [c.title for c in app.get_system_commands(app.screen)]
            assert "Toys: Poke" in names
        assert ctx.session("toy").closed  # sessions are closed on quit
    finally:
        ctx.close()


async def test_toy_backend_in_the_kill_plan(toy, tmp_path):
    ctx = _context(tmp_path)
    try:
        ks = ctx.killswitch()
        assert [s.name for s in ks.plan()] == ["stop local runs", "stop toys"]
        report = await ks.fire(by="test")
        assert report.ok
        state = json.loads((tmp_path / "data" / "toy.json").read_text())
        assert state["items"] == {"box-1/a": "stopped", "box-1/b": "stopped"}
    finally:
        ctx.close()


async def test_toy_backend_is_a_launch_target(toy, tmp_path):
    from opsconsole.config.kinds import load_kinds
    from opsconsole.config.presets import PresetError, parse_preset
    from opsconsole.services.launcher import launch, plan_launch

    kinds = load_kinds().kinds
    text = 'kind = "local-sample"\ntarget = "toy"\n[toy]\nbox = "box-1"\n[values]\nsteps = 2\n[sweep]\ninterval = [0.1, 0.2]\n'
    preset = parse_preset(text, tmp_path / "toy-preset.toml", kinds)
    assert preset.table("toy") == {"box": "box-1"}
    # the target's own preset checks run too
    with pytest.raises(PresetError) as err:
        parse_preset('kind = "local-sample"\ntarget = "toy"\n', tmp_path / "bad.toml", kinds)
    assert "needs [toy] box" in str(err.value)
    ctx = _context(tmp_path)
    try:
        plan = plan_launch(preset, kinds[preset.kind], dict(preset.values))
        assert plan.ok and plan.target_label == "toy box box-1"
        assert [p.caption for p in plan.previews(plan.specs[0])] == ["toy payload:"]
        records = await launch(ctx, plan)
        assert [(r.target, r.state.value) for r in records] == [("toy:box-1", "success")] * 2
        assert [r.external_id for r in ctx.ledger.list_runs()] == [f"toy-{records[1].id}", f"toy-{records[0].id}"]
    finally:
        ctx.close()


def test_toy_backend_in_config_check(toy, tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text(TOY)
    assert main(["--config", str(path), "config", "check"]) == 0
    bad = TOY.replace('name = "box-2"', 'name = "box-2"\ncolour = "red"')
    path.write_text(bad)
    assert main(["--config", str(path), "config", "check"]) == 1
    out = capsys.readouterr().out
    line = bad.splitlines().index('colour = "red"') + 1
    assert f"{path}:{line}: profiles.t.toy[1].colour — unknown key" in out
    # duplicate names in the array of tables
    with pytest.raises(ConfigError) as err:
        parse_config(TOY.replace("box-2", "box-1"), "c.toml")
    assert [p.key for p in err.value.problems] == ["profiles.t.toy[1].name"]


def test_a_backend_unknown_to_the_registry_is_an_unknown_key(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_config(TOY, "c.toml")  # the toy is not registered here
    assert {p.key for p in err.value.problems} == {"profiles.t.toy"}
    assert "unknown key" in err.value.problems[0].message


# --- the action path --------------------------------------------------------------------------


def _call(policy_class: str, run=None) -> ActionCall:
    async def ok(_):
        return "did it"

    return ActionCall(Action("toy.thing", "Thing", "x", policy_class), "Thing?", "does a thing", ["obj-1"],
                      run or ok)


async def _yes(call) -> bool:
    return True


async def _no(call) -> bool:
    return False


@pytest.mark.parametrize("cls", ["teleport", policy.CHANGE, policy.LAUNCH, policy.KILL])
async def test_read_only_refuses_every_action_not_plainly_view(tmp_path, cls):
    ctx = _context(tmp_path, "[profiles.ro]\nreadonly = true\n")
    ctx.profile = ctx.config.profile("ro")
    try:
        ran = []

        async def run(_):
            ran.append(1)
            return "ran"

        outcome = await ActionRunner(ctx, "tester").run(_call(cls, run), confirm=_yes)
        assert outcome.outcome == "refused" and "read-only" in outcome.detail and not ran
        (row,) = ctx.ledger.list_action_audit()
        assert (row["outcome"], row["policy"], row["who"]) == ("refused", cls, "tester")
        view = await ActionRunner(ctx, "tester").run(_call(policy.VIEW), confirm=_yes)
        assert view.ok and len(ctx.ledger.list_action_audit()) == 1  # viewing is not audited
    finally:
        ctx.close()


async def test_an_unknown_policy_class_is_refused_even_when_writable(tmp_path):
    ctx = _context(tmp_path, "[profiles.rw]\n")
    try:
        outcome = await ActionRunner(ctx, "tester").run(_call("teleport"), confirm=_yes)
        assert outcome.outcome == "refused" and "unknown policy class" in outcome.detail
    finally:
        ctx.close()


async def test_halted_refuses_what_starts_work_but_not_what_stops_it(tmp_path):
    ctx = _context(tmp_path, "[profiles.rw]\n")
    try:
        ctx.ledger.set_halt("kill", "tester")
        runner = ActionRunner(ctx, "tester")
        launch = await runner.run(_call(policy.LAUNCH), confirm=_yes)
        assert launch.outcome == "refused" and "HALTED" in launch.detail
        change = await runner.run(_call(policy.CHANGE), confirm=_yes)
        assert change.ok
    finally:
        ctx.close()


async def test_a_latch_that_cannot_be_read_refuses_launches(tmp_path, monkeypatch):
    ctx = _context(tmp_path, "[profiles.rw]\n")
    try:
        def broken():
            raise OSError("disk I/O error")

        monkeypatch.setattr(ctx.ledger, "halt_latch", broken)
        outcome = await ActionRunner(ctx, "tester").run(_call(policy.LAUNCH), confirm=_yes)
        assert outcome.outcome == "refused" and "cannot be read" in outcome.detail
    finally:
        ctx.close()


async def test_every_outcome_is_audited(tmp_path):
    ctx = _context(tmp_path, "[profiles.rw]\n")
    try:
        runner = ActionRunner(ctx, "tester")

        async def boom(_):
            raise RuntimeError("server said no")

        assert (await runner.run(_call(policy.CHANGE), confirm=_yes)).ok
        assert (await runner.run(_call(policy.CHANGE), confirm=_no)).outcome == "cancelled"
        failed = await runner.run(_call(policy.CHANGE, boom), confirm=_yes)
        assert failed.outcome == "failed" and failed.detail == "RuntimeError: server said no"
        rows = ctx.ledger.list_action_audit()
        assert [(r["outcome"], r["detail"]) for r in rows] == [
            ("ok", "did it"), ("cancelled", "cancelled by the operator"), ("failed", "RuntimeError: server said no")]
        assert all(r["objects"] == ["obj-1"] and r["action"] == "toy.thing" and r["ts"] for r in rows)
    finally:
        ctx.close()


async def test_an_audit_that_cannot_be_written_is_shown_not_hidden(tmp_path, monkeypatch):
    ctx = _context(tmp_path, "[profiles.rw]\n")
    try:
        def full(*a, **k):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(ctx.ledger, "audit_action", full)
        outcome = await ActionRunner(ctx, "tester").run(_call(policy.CHANGE), confirm=_yes)
        assert outcome.ok and "NOT AUDITED" in outcome.detail and "No space left" in outcome.detail
    finally:
        ctx.close()


def test_cli_launch_goes_through_the_action_path(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-m", "opsconsole", "launch", "local-sample", "--set", "steps=1",
                          "--set", "interval=0.01"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    from opsconsole.config import paths
    from opsconsole.services.ledger import Ledger

    with Ledger(Ledger.default_path(paths.profile_dir("local"))) as ledger:
        (row,) = ledger.list_action_audit()
        assert (row["action"], row["outcome"]) == ("launch.launch", "ok") and row["who"].endswith("@opsconsole-cli")
