"""Textual Bindings built from the one key table in keymap.py."""

from __future__ import annotations

from textual.binding import Binding

from opsconsole.ui.keymap import for_scope


def bindings(scope: str) -> list[Binding]:
    return [Binding(k.keys, k.action, k.description, show=k.show, priority=k.priority, id=k.id)
            for k in for_scope(scope)]
