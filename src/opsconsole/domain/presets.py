"""Presets: a TOML file naming a run kind, a target and parameter values.

This is the foundation's slice: the `local-sample` kind is rendered here. The typed parameter
schemas (run kinds as data) replace `_RENDERERS` when the Launch issue lands."""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from opsconsole.domain.models import RunSpec


class PresetError(ValueError):
    """A preset that cannot be used; the message names file, line and key."""


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    kind: str
    target: str
    values: dict[str, Any]
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def _render_local_sample(values: dict[str, Any]) -> list[str]:
    cmd = [sys.executable, "-m", "opsconsole.sample.experiment",
           "--steps", str(int(values.get("steps", 20))),
           "--interval", str(float(values.get("interval", 0.5)))]
    if values.get("seed") is not None:
        cmd += ["--seed", str(int(values["seed"]))]
    if values.get("fail"):
        cmd.append("--fail")
    return cmd


_RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "local-sample": _render_local_sample,
}


def load_preset(path: Path) -> Preset:
    """Read one preset file."""
    from opsconsole.config.toml_lines import LineMap

    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: {exc}") from None
    lines = LineMap(text)
    for key in ("kind",):
        if key not in raw:
            raise PresetError(f"{path}:1: {key} — missing")
    if raw["kind"] not in _RENDERERS:
        raise PresetError(f"{path}:{lines.line(('kind',))}: kind — unknown run kind {raw['kind']!r} "
                          f"(known: {', '.join(sorted(_RENDERERS))})")
    values = raw.get("values", {})
    if not isinstance(values, dict):
        raise PresetError(f"{path}:{lines.line(('values',))}: values — expected a table")
    return Preset(
        name=path.stem, path=path, kind=raw["kind"], target=raw.get("target", "local"),
        values=values, description=raw.get("description", ""), options=raw.get("options", {}),
    )


def discover_presets(dirs: Iterable[Path]) -> tuple[list[Preset], list[str]]:
    """Presets from the given directories (the first wins on a name clash), plus errors."""
    found: dict[str, Preset] = {}
    errors: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            if path.stem in found:
                continue
            try:
                found[path.stem] = load_preset(path)
            except PresetError as exc:
                errors.append(str(exc))
            except OSError as exc:
                errors.append(f"{path}: {exc}")
    return list(found.values()), errors


def render(preset: Preset, overrides: dict[str, Any] | None = None) -> RunSpec:
    """The run a preset launches, with optional value overrides."""
    values = {**preset.values, **(overrides or {})}
    command = _RENDERERS[preset.kind](values)
    return RunSpec(kind=preset.kind, command=command, parameters=values, preset=preset.name,
                   target=preset.target)
