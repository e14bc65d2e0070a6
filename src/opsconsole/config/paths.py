"""Where opsconsole keeps things (XDG base directories, overridable for tests and CI)."""

from __future__ import annotations

import os
from pathlib import Path

APP = "opsconsole"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / APP


def default_config_path() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    """The user's data dir: ledgers and run result dirs live below it.
    OPSCONSOLE_DATA_DIR overrides it (tests, or a shared team dir)."""
    override = os.environ.get("OPSCONSOLE_DATA_DIR")
    return Path(override) if override else _xdg("XDG_DATA_HOME", ".local/share") / APP


def profile_dir(profile: str) -> Path:
    """Each profile has its own ledger, HALTED latch and runs, so stopping PREPROD never
    latches PROD and vice versa."""
    return data_dir() / "profiles" / profile


def project_dir() -> Path | None:
    """The checkout this package runs from (editable install), if it is one."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").exists() else None


def shipped_dir(sub: str) -> Path:
    """The `themes` or `presets` shipped inside the package (any install: wheel, pipx, editable)."""
    return Path(__file__).resolve().parents[1] / sub


def search_dirs(sub: str) -> list[Path]:
    """Directories searched for `themes` or `presets`: the user's config dir first, then the
    ones shipped in the package (and, in a checkout, a top-level `themes/` or `presets/` if one
    exists: files not moved into the package yet)."""
    dirs = [config_dir() / sub, shipped_dir(sub)]
    proj = project_dir()
    # the checkout's top-level `presets/` and `themes/` are links to the shipped ones: once
    if proj is not None and (proj / sub).is_dir() and (proj / sub).resolve() != shipped_dir(sub).resolve():
        dirs.append(proj / sub)
    return dirs
