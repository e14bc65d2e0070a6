"""Themes are TOML files in themes/ (shipped) or ~/.config/opsconsole/themes/ (the user's)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.theme import Theme

from opsconsole.config import paths

_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
           "background", "surface", "panel", "boost", "dark", "luminosity_spread", "text_alpha")

BUILTIN = Theme(name="opsconsole", primary="#3b82c4", secondary="#5f87af", accent="#00afaf",
                warning="#d7af00", error="#ff5f5f", success="#5faf5f", foreground="#d0d0d0",
                background="#121417", surface="#1b1e23", panel="#23272e", dark=True,
                variables={"env-label-background": "#3b82c4"})


def load_theme(path: Path) -> Theme:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(raw) - set(_FIELDS) - {"name", "variables"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    if "primary" not in raw:
        raise ValueError(f"{path}: missing key 'primary'")
    variables = {"env-label-background": raw.get("primary"), **raw.get("variables", {})}
    return Theme(name=raw.get("name", path.stem), variables=variables,
                 **{k: raw[k] for k in _FIELDS if k in raw})


def discover_themes(dirs: list[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Themes from the theme dirs (the user's first), plus load errors to show."""
    themes: dict[str, Theme] = {BUILTIN.name: BUILTIN}
    errors: list[str] = []
    for directory in reversed(dirs if dirs is not None else paths.search_dirs("themes")):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme(path)
            except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
                errors.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), errors
