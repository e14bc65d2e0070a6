"""A problem in a file the user wrote (config, preset, run kind): where, which key, why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from opsconsole.domain.text import visible


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        """One line, printable on any terminal (file names, keys and quoted values are the
        user's: their control characters are shown, never sent)."""
        return visible(f"{self.file}:{self.line}: {self.key} — {self.message}")


def key_name(path: Iterable[object]) -> str:
    """("profiles", "p", "hosts", 0, "name") → "profiles.p.hosts[0].name"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
