"""A non-editable install (`pip install .`, a wheel, pipx) carries its presets and themes: the
package is built from a copy of the source and installed into a fresh venv, then run from
another directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_plain_install_has_the_presets_and_themes(tmp_path):
    src = tmp_path / "src-copy"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    venv = tmp_path / "venv"
    # the dependencies come from this interpreter's site-packages; opsconsole itself from the build
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    build = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(src)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(py), "-c", "import opsconsole, sys; print(opsconsole.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=60)
    assert str(venv) in where.stdout, where.stdout + where.stderr  # the installed copy, not a checkout
    out = subprocess.run([str(venv / "bin" / "opsconsole"), "launch", "local-sample", "--dry-run"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("# 1 run(s)") and "opsconsole.sample.experiment" in out.stdout
    config = tmp_path / "config.toml"
    config.write_text('[profiles.live]\nenvironment = "LIVE"\ntheme = "prod"\n')
    check = subprocess.run([str(venv / "bin" / "opsconsole"), "config", "check", "--config", str(config)],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    themes = subprocess.run([str(py), "-c", "from opsconsole.ui.theming import discover_themes; "
                             "print(sorted(t.name for t in discover_themes()[0]))"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert "'prod'" in themes.stdout and "'light'" in themes.stdout, themes.stdout + themes.stderr
