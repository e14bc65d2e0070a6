"""Run kinds, presets and sweeps: the runbook's commands byte-for-byte, typed validation,
sweep expansion, and presets that keep their comments when saved."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.config import paths
from opsconsole.config.kinds import BUILTIN_DIR, KindError, parse_kind
from opsconsole.config.presets import PresetError, parse_preset, save_preset
from opsconsole.domain.params import Param, ParamError
from opsconsole.domain.sweeps import expand, sweep_size
from opsconsole.services.catalog import load_catalog
from opsconsole.services.launcher import plan_launch

from seed_commands import BROKER, FULL


@pytest.fixture
def catalog():
    cat = load_catalog(paths.search_dirs("presets"))
    assert cat.problems == []
    return cat


@pytest.mark.parametrize("preset,expected", [("broker-only-twap", BROKER), ("full-system-c5b", FULL)])
def test_shipped_presets_render_the_runbook_commands_byte_for_byte(catalog, preset, expected):
    p = catalog.preset(preset)
    plan = plan_launch(p, catalog.kinds[p.kind], p.values)
    assert plan.errors == {}
    (spec,) = plan.specs
    assert spec.shell == expected
    assert spec.conf["cmd"] == expected
    assert p.target == "airflow"


def test_full_system_argv_has_no_shell_redirection_and_conf_is_typed(catalog):
    p = catalog.preset("full-system-c5b")
    (spec,) = plan_launch(p, catalog.kinds[p.kind], p.values).specs
    assert "2>&1" not in spec.command
    assert spec.command[spec.command.index("--strategy") + 1] == "C5b"
    assert spec.conf["run_duration"] == 7200 and spec.conf["end_time"] == "20230822_161500"
    assert spec.conf["set_config_value"][0] == [["params", "style"], "str('longitudinal')"]


def test_derived_paths_follow_their_inputs_and_can_be_overridden(catalog):
    p = catalog.preset("full-system-c5b")
    kind = catalog.kinds[p.kind]
    (spec,) = plan_launch(p, kind, {**p.values, "start_time": "20230904_193000", "run_duration": 43200}).specs
    assert "/C5b/prod/20230904_193000.20230905_072500/system_log_dir.manual" in spec.shell
    (spec,) = plan_launch(p, kind, {**p.values, "dst_dir": "/tmp/x"}).specs
    assert spec.shell.endswith("--dst_dir '/tmp/x'")


INVALID = [
    (Param("n", "int", gt=0), "0", "must be > 0"),
    (Param("n", "int", gt=0), "1.5", "whole number"),
    (Param("n", "int"), True, "whole number"),
    (Param("x", "float", min=0, max=1), 1.5, "must be <= 1"),
    (Param("x", "float", min=0, max=1), "abc", "expected a number"),
    (Param("x", "float"), "nan", "finite"),
    (Param("b", "bool"), "yes", "true or false"),
    (Param("f", "flag"), 1, "true or false"),
    (Param("c", "choice", choices=("DEBUG", "INFO")), "TRACE", "one of DEBUG, INFO"),
    (Param("l", "list", item="float", gt=0), [0.5, -1], "item 2"),
    (Param("l", "list", item="float"), [], "non-empty"),
    (Param("q", "freq"), "1 minute", "frequency"),
    (Param("q", "freq"), "0T", "frequency"),
    (Param("d", "date"), "2023-08-22", "YYYYMMDD"),
    (Param("d", "date"), 20231345, "YYYYMMDD"),
    (Param("t", "datetime"), "20230822_256000", "YYYYMMDD_HHMMSS"),
    (Param("s", "str", required=True), None, "required"),
    (Param("s", "str"), 5, "expected text"),
    (Param("p", "config_pairs"), [{"path": ["a"], "value": "float(("}], "not a Python expression"),
    (Param("p", "config_pairs"), [{"path": [], "value": "1"}], "path"),
]


@pytest.mark.parametrize("param,value,reason", INVALID, ids=[f"{p.type}-{v!r}" for p, v, _ in INVALID])
def test_invalid_values_of_every_type_are_refused_with_a_reason(param, value, reason):
    with pytest.raises(ParamError, match=reason.replace("(", r"\(")):
        param.check(value)


def test_valid_values_are_normalised():
    assert Param("n", "int").parse_text(" 42 ") == 42
    assert Param("x", "float").parse_text("60") == 60 and Param("x", "float").parse_text("0.55") == 0.55
    assert Param("l", "list", item="float").parse_text("0.75 1.0") == [0.75, 1.0]
    assert Param("b", "bool").check("True") is True
    assert Param("q", "freq").check("5min") == "5min"


def test_sweep_expansion_count_and_order():
    sweep = {"seed": [1, 2, 3], "steps": [10, 20]}
    assert sweep_size(sweep) == 6
    assert expand(sweep) == [
        {"seed": 1, "steps": 10}, {"seed": 1, "steps": 20},
        {"seed": 2, "steps": 10}, {"seed": 2, "steps": 20},
        {"seed": 3, "steps": 10}, {"seed": 3, "steps": 20},
    ]
    assert expand({}) == [{}]


def test_the_sweep_preset_plans_one_run_per_point(catalog):
    p = catalog.preset("local-sample-sweep")
    plan = plan_launch(p, catalog.kinds[p.kind], p.values)
    assert len(plan.specs) == 6
    assert [s.sweep_point for s in plan.specs][:2] == [{"seed": 1, "steps": 10}, {"seed": 1, "steps": 20}]
    assert "--steps 20 --interval 0.2 --seed 1" in plan.specs[1].shell
    assert len({s.fingerprint for s in plan.specs}) == 6


def test_tomlkit_roundtrip_keeps_comments_after_an_edit(tmp_path, catalog):
    src = tmp_path / "mine.toml"
    src.write_text((paths.shipped_dir("presets") / "broker-only-twap.toml").read_text())
    preset = parse_preset(src.read_text(), src, catalog.kinds)
    values = {**preset.values, "num_bars": 7, "passivity_factor": 0.6}
    save_preset(preset, values)
    text = src.read_text()
    assert "# Broker-only TWAP experiment, exactly the runbook's example command (seed 000):" in text
    assert "secret_id = 4            # the secrets-store id of the API key, never the key itself" in text
    assert "num_bars = 7" in text and "passivity_factor = 0.6" in text
    assert text.index("num_bars = 7") < text.index("passivity_factor = 0.6")  # order kept
    again = parse_preset(text, src, catalog.kinds)
    assert again.values["num_bars"] == 7
    # save as: a copy elsewhere, the original untouched
    copy = save_preset(again, {**again.values, "num_bars": 9}, tmp_path / "copy.toml")
    assert "num_bars = 9" in copy.read_text() and "num_bars = 7" in src.read_text()


def test_malformed_preset_names_file_line_and_key(tmp_path, catalog):
    path = tmp_path / "bad.toml"
    path.write_text('kind = "broker-only"\ntarget = "airflow"\n[airflow]\ndag_id = "d"\n'
                    '[values]\nnum_bars = 0\npassivity_factor = 2\nnmu_bars = 3\n[sweep]\nlog_level = ["TRACE"]\n')
    with pytest.raises(PresetError) as err:
        parse_preset(path.read_text(), path, catalog.kinds)
    got = {(p.line, p.key) for p in err.value.problems}
    assert got == {(6, "values.num_bars"), (7, "values.passivity_factor"), (8, "values.nmu_bars"),
                   (10, "sweep.log_level")}
    assert all(p.file == str(path) for p in err.value.problems)
    assert "must be > 0" in str(err.value)


def test_malformed_kind_names_file_line_and_key():
    text = 'name = "k"\nprogram = ["x"]\n[[params]]\nname = "a"\ntype = "integer"\n[[params]]\nname = "b"\ntype = "int"\ndefault = "x"\n'
    with pytest.raises(KindError) as err:
        parse_kind(text, "k.toml")
    assert [(p.line, p.key) for p in err.value.problems] == [(5, "params[0].type"), (9, "params[1].default")]


def test_every_shipped_kind_parses():
    names = {parse_kind(p.read_text(), str(p)).name for p in BUILTIN_DIR.glob("*.toml")}
    assert names == {"broker-only", "full-system", "local-sample"}


@pytest.mark.parametrize("text,where", [
    ('name = "k"\n[[params]]\nname = "a"\nmin = "0"\n', (4, "params[0].min")),
    ('name = "k"\nconf = "x"\n', (2, "conf")),
    ('name = "k"\nparams = "x"\n', (2, "params")),
    ('name = 3\n', (1, "name")),
    ('name = "k"\n[[params]]\nname = "a"\nderive = { nope = 1 }\n', (4, "params[0].derive.nope")),
    ('name = "k"\n[[params]]\nname = "a"\n[[params]]\nname = "a"\n', (5, "params[1].name")),
])
def test_kind_files_of_the_wrong_shape_are_problems_not_crashes(text, where):
    with pytest.raises(KindError) as err:
        parse_kind(text, "k.toml")
    assert where in [(p.line, p.key) for p in err.value.problems]


@pytest.mark.parametrize("text,where", [
    ('kind = "local-sample"\nairflow = "x"\n', (2, "airflow")),
    ('kind = "local-sample"\n[local]\nparallelism = "4"\n', (3, "local.parallelism")),
    ('kind = "local-sample"\n[local]\nparallelism = 0\n', (3, "local.parallelism")),
    ('kind = "local-sample"\n[sweep]\nseed = 3\n', (3, "sweep.seed")),
    ('kind = "local-sample"\ntarget = "ecs"\n', (2, "target")),
    ('kind = "local-sample"\ntarget = "airflow"\n', (2, "target")),
])
def test_presets_of_the_wrong_shape_are_problems_not_crashes(catalog, tmp_path, text, where):
    with pytest.raises(PresetError) as err:
        parse_preset(text, tmp_path / "p.toml", catalog.kinds)
    assert where in [(p.line, p.key) for p in err.value.problems]


def test_a_broken_kind_file_does_not_hide_the_others(tmp_path):
    from opsconsole.config.kinds import load_kinds

    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe not utf-8")
    (tmp_path / "good.toml").write_text('name = "g"\nprogram = ["x"]\n')
    found = load_kinds([tmp_path])
    assert list(found.kinds) == ["g"] and found.problems[0].file.endswith("bad.toml")


def test_saving_config_pairs_keeps_them_inline_and_in_place(tmp_path, catalog):
    src = tmp_path / "full.toml"
    src.write_text((paths.shipped_dir("presets") / "full-system-c5b.toml").read_text())
    preset = parse_preset(src.read_text(), src, catalog.kinds)
    pairs = [{"path": ["params", "style"], "value": "str('cross_sectional')"}]
    save_preset(preset, {**preset.values, "set_config_value": pairs})
    text = src.read_text()
    assert "[[values.set_config_value]]" not in text
    assert text.index("set_config_value") < text.index("trade_date")  # still where it was
    assert parse_preset(text, src, catalog.kinds).values["set_config_value"] == pairs


def test_every_preset_problem_is_reported_in_one_pass(tmp_path, catalog):
    """A wrong shape in one table does not hide the wrong values of another (no three runs to
    see everything)."""
    path = tmp_path / "many.toml"
    path.write_text('kind = "local-sample"\n[local]\nparallelism = "4"\n'
                    '[values]\nsteps = 0\nnope = 1\n[sweep]\nseed = ["a"]\n')
    with pytest.raises(PresetError) as err:
        parse_preset(path.read_text(), path, catalog.kinds)
    keys = {p.key for p in err.value.problems}
    assert {"local.parallelism", "values.nope", "sweep.seed"} <= keys, keys
    assert any(k.startswith("values.steps") for k in keys), keys
