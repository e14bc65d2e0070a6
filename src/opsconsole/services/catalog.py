"""The run kinds and presets this session can launch (read in a worker thread by the UI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from opsconsole.config.kinds import load_kinds
from opsconsole.config.presets import Preset, discover_presets
from opsconsole.domain.kinds import RunKind
from opsconsole.domain.problems import Problem


@dataclass
class Catalog:
    kinds: dict[str, RunKind] = field(default_factory=dict)
    presets: list[Preset] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def preset(self, name: str) -> Preset:
        for preset in self.presets:
            if preset.name == name or str(preset.path) == name:
                return preset
        known = ", ".join(p.name for p in self.presets)
        raise KeyError(f"no preset {name!r} (known: {known})")


def load_catalog(preset_dirs: list[Path], kind_dirs: list[Path] | None = None) -> Catalog:
    kinds = load_kinds(kind_dirs)
    presets, problems = discover_presets(preset_dirs, kinds.kinds)
    return Catalog(kinds=kinds.kinds, presets=presets, problems=kinds.problems + problems)
