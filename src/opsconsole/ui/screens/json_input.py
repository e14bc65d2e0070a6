"""A JSON object typed by the operator (an action's input, e.g. a run's conf when no preset knows it):
validated before it goes; esc cancels."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from opsconsole.ui.bindings import bindings


class JsonInputScreen(ModalScreen[dict | None]):
    BINDINGS = bindings("json_input")
    DEFAULT_CSS = """
    JsonInputScreen { align: center middle; }
    JsonInputScreen > Vertical { width: 90; max-width: 95%; height: auto; max-height: 90%; border: heavy $accent;
                                 background: $surface; padding: 0 1; }
    JsonInputScreen .title { text-style: bold; padding-bottom: 1; }
    JsonInputScreen TextArea { height: 14; }
    JsonInputScreen #error { color: $error; height: auto; }
    JsonInputScreen Horizontal { height: auto; align-horizontal: right; }
    JsonInputScreen Button { margin-left: 2; }
    """

    def __init__(self, title: str, value: dict[str, Any], submit_label: str = "Next…") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.submit_label = submit_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"{self.title_text} (JSON object)   ctrl+s: next   esc: cancel"), classes="title")
            yield TextArea(json.dumps(self.value, indent=2), language="json", id="conf")
            yield Static("", id="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.submit_label, id="submit", variant="warning")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def parsed(self) -> dict | None:
        """The value if the text is a JSON object, else None (and the error is shown)."""
        text = self.query_one(TextArea).text
        try:
            value = json.loads(text or "{}")
        except ValueError as exc:
            self.query_one("#error", Static).update(Text(f"invalid JSON: {exc}"))
            return None
        if not isinstance(value, dict):
            self.query_one("#error", Static).update(Text("expected a JSON object {…}"))
            return None
        return value

    def action_submit(self) -> None:
        value = self.parsed()
        if value is not None:
            self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.dismiss(None)
