"""One registry for every key: each Binding in the package comes from ui/keymap.py, `?` lists
every id, and a `[keys]` remap that shadows the kill-switch or pairs two live keys is refused."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode

import opsconsole.ui
from opsconsole.ui import keymap
from opsconsole.ui.keymap import KEYS, Key, by_id, remap_problems
from opsconsole.ui.screens.help import SCOPES, HelpScreen


def _declared_bindings() -> list[tuple[str, Binding]]:
    """(class name, Binding) for every BINDINGS declared by a class of opsconsole.ui or the app."""
    names = [m.name for m in pkgutil.walk_packages(opsconsole.ui.__path__, "opsconsole.ui.")]
    found = []
    for name in [*names, "opsconsole.app"]:
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if isinstance(cls, type) and issubclass(cls, DOMNode) and cls.__module__ == name:
                for binding in cls.__dict__.get("BINDINGS", []):
                    found.append((cls.__qualname__, binding))
    return found


DECLARED = _declared_bindings()


def test_the_walk_finds_the_known_declarers():
    classes = {cls for cls, _ in DECLARED}
    assert {"OpsConsole", "LogView", "TailApp", "HelpScreen", "ConfirmScreen", "KillResultsScreen",
            "LinePrompt", "WholeLine", "CompareScreen", "DescribeScreen", "JsonInputScreen"} <= classes


@pytest.mark.parametrize("cls, binding", DECLARED, ids=[f"{c}:{getattr(b, 'id', b)}" for c, b in DECLARED])
def test_every_binding_is_in_the_registry(cls, binding):
    assert isinstance(binding, Binding), f"{cls}: BINDINGS must be Bindings with ids, from keymap.py"
    assert binding.id in by_id(), f"{cls}: binding {binding.id!r} ({binding.key}) is not in ui/keymap.py"
    key = by_id()[binding.id]
    assert (binding.key, binding.action, binding.description, binding.show, binding.priority) == \
        (key.keys, key.action, key.description, key.show, key.priority), f"{cls}: differs from keymap.py"


def test_every_registry_key_is_bound_somewhere():
    declared = {b.id for _, b in DECLARED}
    assert [k.id for k in KEYS if k.id not in declared] == []


def test_ids_are_unique_and_every_scope_has_a_help_label():
    assert len({k.id for k in KEYS}) == len(KEYS)
    assert {k.scope for k in KEYS} <= set(SCOPES)


def test_the_defaults_pass():
    assert remap_problems({}) == []
    assert remap_problems({k.id: k.keys for k in KEYS}) == []


def test_shadowing_the_killswitch_is_refused():
    problems = remap_problems({"logview.follow": "ctrl+k"})
    assert len(problems) == 1 and problems[0][0] == "logview.follow" and "app.killswitch" in problems[0][1]


def test_moving_the_killswitch_onto_a_bound_key_is_refused():
    problems = remap_problems({"app.killswitch": "ctrl+x,q"})
    assert ("app.killswitch", "q is already bound to app.quit; the kill-switch's key must do nothing else") in problems
    # the old kill key is free once the kill-switch moved
    assert remap_problems({"app.killswitch": "f12", "logview.follow": "ctrl+k"}) == []


def test_two_ids_of_one_scope_on_one_key_are_refused():
    problems = remap_problems({"logview.wrap": "m"})
    assert problems == [("logview.wrap", "m is already bound to logview.mark, live at the same time (logview)")]
    both = remap_problems({"runs.clone": "x", "runs.rerun": "x"})
    assert {p[0] for p in both} == {"runs.clone", "runs.rerun"}


def test_a_scope_key_that_newly_shadows_a_global_key_is_refused():
    assert remap_problems({"runs.rerun": "s"}) == [("runs.rerun", "s is already bound to app.status, which works everywhere")]
    # the log viewer's `n` over Launch is by design (README: next match while a log has the focus)
    assert remap_problems({"logview.next": "n"}) == []


def test_nested_scopes_are_live_together_but_siblings_are_not():
    # the log viewer sits on Logs: closing a tab with `f` would be hidden by Follow
    assert remap_problems({"logs.close_tab": "f"})[0][1].startswith("f is already bound to logview.follow")
    # Runs and Logs are never on screen together
    assert remap_problems({"logs.close_tab": "e"}) == []


def test_a_backend_pane_extends_the_table_and_sits_on_status(clean_registry):
    keymap.register([Key("demo.poke", "ctrl+o", "pane_action('demo.poke')", "Poke", "demo")])
    assert remap_problems({}) == []
    assert remap_problems({"demo.poke": "d"})[0][1].startswith("d is already bound to pane.describe")
    assert remap_problems({"demo.poke": "z"})[0][1].startswith("z is already bound to status.maximise")
    # the log preview beside the panes on Status is a sibling: `f` there is no clash
    assert remap_problems({"demo.poke": "f"}) == []


def test_unknown_id_and_empty_key_are_refused():
    assert remap_problems({"logview.nope": "x"}) == [("logview.nope", "no key binding with this id (see `?` in the app)")]
    assert [p[0] for p in remap_problems({"logview.follow": "", "logview.wrap": "w,"})] == ["logview.follow", "logview.wrap"]


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(keymap, "_registered", {})


def test_register_adds_keys_idempotently(clean_registry):
    key = Key("demo.poke", "ctrl+o", "poke", "Poke", "demo")
    keymap.register([key])
    keymap.register([key])
    assert keymap.for_scope("demo") == [key] and "demo.poke" in keymap.binding_ids()
    assert keymap.all_keys()[-1] == key and keymap.by_id()["demo.poke"] == key
    assert remap_problems({"demo.poke": "ctrl+k"})[0][0] == "demo.poke"
    with pytest.raises(ValueError, match="already defined"):
        keymap.register([Key("demo.poke", "ctrl+o", "poke", "Poke harder", "demo")])
    with pytest.raises(ValueError, match="already defined"):
        keymap.register([Key("app.quit", "q", "quit", "Bye", "global")])
    with pytest.raises(ValueError, match="kill-switch"):
        keymap.register([Key("demo.halt", "h", "halt", "Halt", "demo"), Key("demo.stop", "ctrl+k", "stop", "Stop", "demo")])
    assert "demo.halt" not in keymap.binding_ids()  # all or none
    keymap.register([key, Key("demo.nudge", "ctrl+n", "nudge", "Nudge", "demo")])  # again, with a new one
    assert [k.id for k in keymap.for_scope("demo")] == ["demo.poke", "demo.nudge"]
    assert "demo.stop" not in keymap.binding_ids()


def test_register_refuses_a_key_that_clashes(clean_registry):
    with pytest.raises(ValueError, match="d is already bound to pane.describe"):
        keymap.register([Key("demo.drop", "d", "drop", "Drop", "demo")])
    with pytest.raises(ValueError, match="x is already bound to demo.a"):
        keymap.register([Key("demo.a", "x", "a", "A", "demo"), Key("demo.b", "x", "b", "B", "demo")])
    keymap.register([Key("demo.a", "x", "a", "A", "demo")])
    keymap.register([Key("other.b", "x", "b", "B", "other")])  # two backends' panes are siblings


async def test_help_lists_every_id_of_the_registry(clean_registry):
    keymap.register([Key("demo.poke", "ctrl+o", "poke", "Poke", "demo")])

    class Host(App):
        user_keymap = {"logview.follow": "F"}

    app = Host()
    async with app.run_test() as pilot:
        app.push_screen(HelpScreen())
        await pilot.pause()
        rows = {row[3]: row for row in app.screen.rows}
        assert list(rows) == list(keymap.binding_ids())
        assert {"airflow.trigger", "local.stop"} <= set(rows)  # every backend's, in this profile or not
        assert rows["logview.follow"][0] == "F" and rows["help.close"][0] == "esc, q, ?"
        assert rows["demo.poke"][2] == "demo pane"
