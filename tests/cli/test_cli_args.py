"""The command line as operators type it: options after the subcommand, --set on swept keys and
empty values, config check of themes and profiles, a LIVE launch checked before it is confirmed,
`tail` with a missing file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opsconsole", *args], capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL, cwd=cwd)


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def test_options_are_accepted_after_the_subcommand(tmp_path):
    config = _config(tmp_path, '[profiles.preprod]\nenvironment = "PREPROD"\n')
    after = cli("kill", "--dry-run", "--config", config, "--profile", "preprod")
    assert after.returncode == 0, after.stderr
    assert "kill-switch plan for preprod [PREPROD]" in after.stdout
    before = cli("--config", config, "--profile", "preprod", "kill", "--dry-run")
    assert before.stdout == after.stdout
    # given after the subcommand it wins; not given there, the one before stays
    unknown = cli("--profile", "preprod", "kill", "--dry-run", "--config", config, "--profile", "nope")
    assert unknown.returncode != 0 and "nope" in unknown.stderr
    assert cli("launch", "local-sample", "--dry-run", "--profile", "local").returncode == 0


def test_set_on_a_swept_key_replaces_the_sweep_and_an_empty_value_is_refused():
    out = cli("launch", "local-sample-sweep", "--dry-run", "--set", "seed=5")
    assert out.returncode == 0, out.stderr
    assert "replaces the preset's sweep of seed" in out.stderr
    assert out.stdout.startswith("# 2 run(s)")  # steps still swept (10, 20); seed one value
    commands = [line for line in out.stdout.splitlines() if not line.startswith("#") and "--seed" in line]
    assert len(commands) == 2 and all("--seed 5" in c for c in commands), commands
    empty = cli("launch", "local-sample", "--dry-run", "--set", "seed=")
    assert empty.returncode == 1 and "--set seed=: empty value" in empty.stderr


def test_config_check_refuses_an_unknown_theme_and_an_unknown_profile(tmp_path):
    bad = _config(tmp_path, '[profiles.ops]\nenvironment = "PREPROD"\ntheme = "neon"\n')
    out = cli("config", "check", "--config", bad)
    assert out.returncode == 1 and "profile 'ops': theme = 'neon': no such theme" in out.stdout
    good = _config(tmp_path, '[profiles.ops]\nenvironment = "PREPROD"\ntheme = "prod"\n')
    assert cli("config", "check", "--config", good).returncode == 0
    out = cli("config", "check", "--config", good, "--profile", "opz")
    assert out.returncode == 1 and "--profile opz" in out.stdout and "ops" in out.stdout
    assert cli("--profile", "ops", "config", "check", "--config", good).returncode == 0


def test_a_live_launch_that_cannot_succeed_is_refused_before_the_confirmation(tmp_path):
    live = _config(tmp_path, '[profiles.live]\nenvironment = "LIVE"\nproduction = true\n')
    out = cli("launch", "broker-only-twap", "--config", live, "--profile", "live")
    assert out.returncode == 2
    assert "has no 'airflow' launch target" in out.stderr
    assert "confirm" not in out.stderr  # never asked


def test_tail_opens_the_files_that_exist_and_says_which_is_missing(tmp_path, monkeypatch, capsys):
    from opsconsole.ui import tail_app

    there = tmp_path / "a.log"
    there.write_text("hello\n")
    opened = {}

    def fake_run(self):
        opened.update(paths=[str(p) for p in self.paths], missing=self.missing)

    monkeypatch.setattr(tail_app.TailApp, "run", fake_run)
    assert tail_app.run_tail([str(there), str(tmp_path / "b.log")]) == 0
    assert opened == {"paths": [str(there)], "missing": [str(tmp_path / "b.log")]}
    assert "no such file: " + str(tmp_path / "b.log") in capsys.readouterr().err
    assert tail_app.run_tail([str(tmp_path / "b.log")]) == 2  # nothing to open at all


async def test_tail_says_what_is_missing_and_brackets_switch_tabs(tmp_path):
    from textual.widgets import TabbedContent
    from ui_helpers import wait_for

    from opsconsole.ui.tail_app import TailApp

    for name in ("a.log", "b.log"):
        (tmp_path / name).write_text(f"{name}\n")
    app = TailApp([str(tmp_path / "a.log"), str(tmp_path / "b.log")], missing=["c.log"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: any("no such file: c.log" in str(n.message) for n in app._notifications))
        tabs = app.query_one(TabbedContent)
        assert tabs.active == "tab-0"
        await pilot.press("right_square_bracket")
        assert tabs.active == "tab-1"
        await pilot.press("right_square_bracket")
        assert tabs.active == "tab-0"
        await pilot.press("left_square_bracket")
        assert tabs.active == "tab-1"
