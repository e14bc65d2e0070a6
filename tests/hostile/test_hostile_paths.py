"""Paths from outside stay inside their directory: spool names hashed, save-as names checked
and overwrites confirmed, read-only profiles save nothing; typed values cannot smuggle shell
metacharacters into an unquoted parameter, nor NUL bytes into a run."""

from __future__ import annotations

import pytest
from hostile_corpus import NAMES
from ui_helpers import open_preset, wait_for, write_fast_preset

from opsconsole.config.presets import preset_file
from opsconsole.domain.params import Param, ParamError
from opsconsole.logs.spool import spool_name
from opsconsole.ui.screens.confirm import ConfirmScreen


@pytest.mark.parametrize("key", NAMES)
def test_spool_names_stay_inside_and_are_bounded(key, tmp_path):
    name = spool_name(key)
    assert "/" not in name and not name.startswith(".") and len(name.encode()) <= 255
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    (tmp_path / name).write_text("x")  # a real, creatable file name


def test_spool_names_never_collide_on_cut_or_replaced_characters():
    long_a, long_b = "d" * 130 + "a", "d" * 130 + "b"  # alike for their first 120 characters
    assert spool_name(long_a) != spool_name(long_b)
    assert spool_name("run:1") != spool_name("run_1")
    assert len({spool_name(k) for k in NAMES}) == len(NAMES)


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".hidden", "", "x" * 101, "evil\x1b]0;t\x07", "/abs"])
def test_save_as_refuses_names_that_are_not_a_plain_file_name(name, tmp_path):
    with pytest.raises(ValueError):
        preset_file(tmp_path, name)


def test_save_as_accepts_a_plain_name(tmp_path):
    assert preset_file(tmp_path, "my-preset_2.toml") == tmp_path / "my-preset_2.toml"


def test_save_as_refuses_a_symlink_planted_in_the_presets_dir(tmp_path):
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "trap.toml").symlink_to(tmp_path / "elsewhere.toml")
    with pytest.raises(ValueError):
        preset_file(tmp_path / "presets", "trap")


@pytest.mark.parametrize("value", ["a;rm -rf ~", "$(id)", "a b", "`x`", "a|b", "a>b", "*"])
def test_an_unquoted_parameter_refuses_shell_metacharacters(value):
    with pytest.raises(ParamError, match="not allowed"):
        Param("p", flag="--p", quote="none").check(value)
    assert Param("p", flag="--p").check(value) == value  # quoted ones may hold them


@pytest.mark.parametrize("param", [Param("s", flag="--s"), Param("c", type="choice", choices=("a",)),
                                   Param("l", type="list", flag="--l")])
def test_nul_and_escapes_are_refused_by_validation(param):
    for value in ("a\x00b", "a\x1b[31m", "\u202e"):
        with pytest.raises(ParamError, match="control character"):
            param.check([value] if param.type == "list" else value)


_open = open_preset


async def _save_as(pilot, app, name):
    await pilot.press("f2")
    await wait_for(pilot, lambda: app.screen.__class__.__name__ == "LinePrompt")
    app.screen.query_one("Input").value = name
    await pilot.press("enter")


async def test_save_as_refuses_escaping_names_and_confirms_an_overwrite(make_app):
    path = write_fast_preset(steps=2, interval=0.01, name="mine")
    other = write_fast_preset(steps=3, interval=0.01, name="other")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _open(pilot, app, "mine")
        await _save_as(pilot, app, "../escaped")
        await wait_for(pilot, lambda: any("not a preset name" in n.message for n in app._notifications))
        assert not (path.parent.parent / "escaped.toml").exists()
        before = other.read_text()
        await _save_as(pilot, app, "other")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # cancel: nothing overwritten
        await pilot.pause(0.3)
        assert other.read_text() == before
        await _save_as(pilot, app, "other")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        app.screen.dismiss(True)
        await wait_for(pilot, lambda: "steps = 2" in other.read_text())


async def test_a_read_only_profile_saves_no_preset(make_app):
    path = write_fast_preset(steps=2, interval=0.01, name="mine")
    before = path.read_text()
    app = make_app('[profiles.ro]\nreadonly = true\n', profile="ro")
    async with app.run_test(size=(120, 40)) as pilot:
        await _open(pilot, app, "mine")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("read-only" in n.message for n in app._notifications))
        await pilot.press("f2")
        await pilot.pause(0.3)
        assert app.screen.__class__.__name__ != "LinePrompt"
        assert path.read_text() == before
        assert [p.name for p in path.parent.iterdir()] == ["mine.toml"]
