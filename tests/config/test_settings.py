from pathlib import Path

import pytest

from opsconsole.cli import main
from opsconsole.config.settings import ConfigError, builtin_config, load_config, parse_config
from opsconsole.ui.keymap import BINDING_IDS

GOOD = """\
default_profile = "preprod"

[profiles.preprod]
environment = "PREPROD"
theme = "prod"
readonly = false

[profiles.preprod.airflow]
url = "http://airflow.internal:8090"
username_env = "AIRFLOW_USER"
password_env = "AIRFLOW_PASSWORD"
dags = ["test.*"]

[profiles.preprod.killswitch]
confirm = true
circuit_breaker = { method = "POST", url = "http://exec-1:8080/api/v1/circuit-breaker/activate" }

[profiles.prod]
environment = "PROD"
readonly = true

[keys]
"app.killswitch" = "ctrl+x"
"""


def test_good_config_parses_into_profiles():
    config = parse_config(GOOD, "c.toml", BINDING_IDS)
    assert config.default_profile == "preprod"
    pre = config.profile()
    assert pre.environment == "PREPROD" and pre.theme == "prod" and not pre.readonly
    assert pre.table("airflow")["password_env"] == "AIRFLOW_PASSWORD"
    assert pre.killswitch.circuit_breaker["method"] == "POST"
    prod = config.profile("prod")
    assert prod.readonly and prod.production
    assert not pre.production
    assert set(config.profiles) == {"local", "preprod", "prod"}
    assert config.keys == {"app.killswitch": "ctrl+x"}


def test_every_problem_named_with_file_line_and_key():
    bad = GOOD.replace('readonly = false', 'readonly = "no"') \
              .replace('dags = ["test.*"]', 'dags = ["test.*"]\npassword = "hunter2"') \
              .replace('dags = ["test.*"]', 'dags = ["test.*"]\ndagz = ["x"]') \
              .replace('"app.killswitch" = "ctrl+x"', '"app.nope" = "x"')
    with pytest.raises(ConfigError) as err:
        parse_config(bad, "/etc/ops.toml", BINDING_IDS)
    text = [str(p) for p in err.value.problems]
    lines = bad.splitlines()

    def line_of(fragment):
        return next(i for i, line in enumerate(lines, 1) if fragment in line)

    ro = line_of('readonly = "no"')
    assert f"/etc/ops.toml:{ro}: profiles.preprod.readonly — expected true or false, got 'no'" in text
    secret = next(p for p in err.value.problems if p.key == "profiles.preprod.airflow.password")
    assert secret.line == line_of("hunter2") and "environment variable" in secret.message
    typo = next(p for p in err.value.problems if p.key == "profiles.preprod.airflow.dagz")
    assert typo.line == line_of("dagz") and "unknown key" in typo.message
    key = next(p for p in err.value.problems if p.key == "keys.app.nope")
    assert key.line == line_of("app.nope")
    assert len(err.value.problems) == 4


def test_unknown_safety_key_in_killswitch_is_an_error_not_ignored():
    text = "[profiles.p]\n[profiles.p.killswitch]\nconfrim = false\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    (problem,) = err.value.problems
    assert (problem.line, problem.key) == (3, "profiles.p.killswitch.confrim")


def test_env_references_must_be_names_not_values():
    text = '[profiles.p.airflow]\nurl = "http://x"\npassword_env = "s3cr3t pass!"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    assert err.value.problems[0].line == 3
    assert "environment variable" in err.value.problems[0].message


def test_syntax_error_has_a_line():
    with pytest.raises(ConfigError) as err:
        parse_config("[profiles.p]\nenvironment = \n", "c.toml")
    assert err.value.problems[0].line == 2


def test_tables_of_backends_not_landed_yet_are_refused_not_ignored(monkeypatch):
    from opsconsole.backends import registry

    # announced names that no package serves (the real ones land one by one)
    for name in ("someday", "later"):
        monkeypatch.setitem(registry.NOT_YET, name, registry.NOT_YET.get("ecs") or
                            "not supported yet: this backend has not landed (see docs/architecture.md); remove the table")
    text = '[profiles.p]\n[[profiles.p.someday]]\nname = "a"\n[profiles.p.later]\ncluster = "c"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    assert {(p.line, p.key) for p in err.value.problems} == {(2, "profiles.p.someday"), (4, "profiles.p.later")}
    assert all("not supported yet" in p.message for p in err.value.problems)


def test_missing_default_profile_and_unknown_profile():
    with pytest.raises(ConfigError) as err:
        parse_config('default_profile = "nope"\n', "c.toml")
    assert err.value.problems[0].line == 1
    config = parse_config("", "c.toml")
    with pytest.raises(ConfigError, match="no profile 'x'"):
        config.profile("x")


def test_no_config_means_the_builtin_local_profile():
    config = load_config(None)
    assert config == builtin_config()
    local = config.profile()
    assert local.name == "local" and not local.readonly and local.environment == "LOCAL"


def test_config_check_cli(tmp_path: Path, capsys):
    path = tmp_path / "config.toml"
    path.write_text("[profiles.p]\nreadonly = 1\n")
    assert main(["--config", str(path), "config", "check"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:2: profiles.p.readonly — expected true or false, got 1" in out
    path.write_text(GOOD)
    assert main(["--config", str(path), "config", "check"]) == 0
    assert "profiles: local, preprod, prod" in capsys.readouterr().out


def test_urls_must_not_carry_credentials():
    text = '[profiles.p.airflow]\nurl = "http://admin:hunter2@airflow:8080"\n[profiles.p.killswitch]\nalert_webhook = "ftp://x"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.toml")
    problems = {(p.line, p.key): p.message for p in err.value.problems}
    assert "credentials" in problems[(2, "profiles.p.airflow.url")]
    assert "http" in problems[(4, "profiles.p.killswitch.alert_webhook")]
    assert "hunter2" not in "".join(problems.values())


def test_config_check_refuses_a_remap_onto_the_kill_switch_key_or_a_clash(tmp_path: Path, capsys):
    path = tmp_path / "config.toml"
    path.write_text('[profiles.p]\n[keys]\n"logview.follow" = "ctrl+k"\n"airflow.clear" = "t"\n')
    assert main(["--config", str(path), "config", "check"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:3: keys.logview.follow — " in out and "app.killswitch" in out
    # a backend's action key is in the registry too: "t" is already the Airflow pane's trigger
    assert f"{path}:4: keys.airflow.clear — " in out and "airflow.trigger" in out
    # the same remaps the other way round are fine
    path.write_text('[profiles.p]\n[keys]\n"app.killswitch" = "ctrl+x"\n"airflow.clear" = "ctrl+r"\n')
    assert main(["--config", str(path), "config", "check"]) == 0


def test_parsing_a_config_imports_only_the_backends_it_names():
    import subprocess
    import sys

    code = ("import sys; from opsconsole.backends import registry; from opsconsole.config.settings import parse_config;"
            "parse_config('[profiles.p]\\nenvironment = \"X\"\\n', 'c.toml');"
            "print('opsconsole.backends.airflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
