"""Backends' declared actions in the key registry: one Key per action (id = the action's id,
scope = the backend's name), so `?`, the footer, the palette and `[keys]` remaps treat them like
every other binding. Registered when a pane of that backend is built, and by `config check`
for every registered backend."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding

from opsconsole.backends import registry
from opsconsole.backends.base import Backend
from opsconsole.domain.text import visible
from opsconsole.ui import keymap
from opsconsole.ui.bindings import bindings


def backend_keys(backend: Backend) -> list[keymap.Key]:
    # a label is a backend's text: shown (footer, help, palette) with its controls visible
    return [keymap.Key(a.id, a.keys, f"pane_action('{a.id}')", visible(a.label), backend.name, show=a.show)
            for a in backend.actions]


def register_backends(names: Iterable[str] | None = None) -> None:
    """Put the actions of these backends (every registered one by default) in the key registry."""
    for name in registry.names() if names is None else names:
        keymap.register(backend_keys(registry.load(name)))


def action_bindings(scope: str) -> list[Binding]:
    """The Bindings of backend `scope`'s actions (registered first if they were not)."""
    register_backends([scope])
    return bindings(scope)
