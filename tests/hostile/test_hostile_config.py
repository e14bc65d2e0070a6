"""Hostile config, kind and preset files: refused with file:line problems, never a crash or a hang."""

from __future__ import annotations

import os

import pytest

from opsconsole.backends import registry  # noqa: F401 - installs the backend tables
from opsconsole.config.kinds import KindError, load_kinds, parse_kind
from opsconsole.config.presets import PresetError, discover_presets, parse_preset
from opsconsole.config.settings import ConfigError, load_config, parse_config
from opsconsole.config.toml_lines import MAX_TOML_BYTES, MAX_TOML_DEPTH
from opsconsole.domain.kinds import RunKind
from opsconsole.domain.params import Derive, Param

DEEP = "x = " + "[" * 20_000 + "]" * 20_000 + "\n"


def test_a_50_mb_config_is_refused_by_its_size(tmp_path):
    path = tmp_path / "config.toml"
    with open(path, "wb") as out:
        out.write(b"# " + b"x" * (50 << 20) + b"\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)  # how fast: benchmarks/hostile.py
    assert "limit" in str(err.value) and "50" in str(err.value)


@pytest.mark.parametrize("parse", ["config", "kind", "preset"])
def test_20000_deep_arrays_are_a_problem_not_a_recursion_error(parse, tmp_path):
    text = 'kind = "local-sample"\n' + DEEP if parse == "preset" else 'name = "k"\n' + DEEP
    with pytest.raises((ConfigError, KindError, PresetError)) as err:
        if parse == "config":
            parse_config(DEEP, "c.toml")
        elif parse == "kind":
            parse_kind(text, "k.toml")
        else:
            parse_preset(text, tmp_path / "p.toml", {})
    assert f"nested more than {MAX_TOML_DEPTH} deep" in str(err.value)
    assert ":2:" in str(err.value) or ":1:" in str(err.value)


def test_text_over_the_limit_is_refused_even_when_passed_directly():
    with pytest.raises(ConfigError):
        parse_config("#" * (MAX_TOML_BYTES + 1), "c.toml")


def test_a_fifo_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as err:
        load_config(fifo)
    assert "not a regular file" in str(err.value)


def test_a_directory_config_and_non_utf8_are_problems(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError):
        load_config(tmp_path / "dir.toml")
    bad = tmp_path / "latin.toml"
    bad.write_bytes(b'default_profile = "\xe9"\n')
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert "UTF-8" in str(err.value)


def test_oversized_and_fifo_presets_and_kinds_are_listed_as_problems(tmp_path):
    (tmp_path / "huge.toml").write_bytes(b"#" * (MAX_TOML_BYTES + 10))
    os.mkfifo(tmp_path / "pipe.toml")
    presets, problems = discover_presets([tmp_path], {})
    assert presets == [] and len(problems) == 2
    found = load_kinds([tmp_path])
    assert found.kinds == {} and len(found.problems) == 2


_KIND = 'name = "k"\nprogram = ["x"]\n[[params]]\nname = "x"\ndefault = "abc"\n[[params]]\nname = "out"\nderive = {{ template = "{t}" }}\n'


@pytest.mark.parametrize("template", ["{x[5]}", "{0}", "{}", "{x.real}", "{nope}", "{x", "{x:>>>}"])
def test_a_derive_template_that_cannot_render_is_a_file_line_problem(template):
    with pytest.raises(KindError) as err:
        parse_kind(_KIND.format(t=template), "k.toml")
    problems = err.value.problems
    assert [(p.line, p.key) for p in problems] == [(8, "params[1].derive.template")], problems


def test_a_good_template_loads_and_derives():
    kind = parse_kind(_KIND.format(t="runs/{x}"), "k.toml")
    clean, errors = kind.validate({"x": "abc"})
    assert errors == {} and clean["out"] == "runs/abc"


def test_a_template_never_checked_still_fails_as_a_field_error_not_a_crash():
    # a kind built in code (not loaded) with a template that indexes a string
    kind = RunKind("k", ("x",), (Param("x", default="abc", flag="--x"),
                                 Param("out", flag="--out", derive=Derive(template="{x[5]}"))))
    clean, errors = kind.validate({"x": "abc"})
    assert "out" in errors and "IndexError" in errors["out"]


def test_control_characters_in_config_strings_are_problems():
    text = '[profiles.p]\nenvironment = "PROD\\u001b]0;x\\u0007"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    assert [(p.line, p.key) for p in err.value.problems] == [(2, "profiles.p.environment")]
    assert "U+001B" in str(err.value) and "\x1b" not in str(err.value)


def test_a_problem_prints_a_hostile_key_and_file_name_visibly():
    from opsconsole.domain.problems import Problem

    line = str(Problem("conf\x1b]0;x\x07.toml", 3, "keys.\u202eevil", "bad\x9b"))
    assert line == "conf␛]0;x␇.toml:3: keys.\\u202eevil — bad\\x9b"
