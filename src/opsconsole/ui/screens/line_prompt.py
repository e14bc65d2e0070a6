"""A one-line question docked at the bottom (the log viewer's jump, search and save prompts)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from opsconsole.ui.bindings import bindings


class LinePrompt(ModalScreen[str | None]):
    """A one-line question at the bottom of the screen; dismisses with the text or None."""

    DEFAULT_CSS = """
    LinePrompt { align: left bottom; background: $background 30%; }
    LinePrompt > Vertical { height: auto; width: 100%; background: $panel; padding: 0 1; }
    /* one row, focused or not: Textual's focused Input would be a 3-row box hiding the text */
    LinePrompt Input.one-row, LinePrompt Input.one-row:focus { border: none; height: 1; padding: 0; }
    """
    BINDINGS = bindings("line_prompt")

    def __init__(self, label: str, value: str = "") -> None:
        super().__init__()
        self._label = label
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._label)
            yield Input(value=self._value, classes="one-row")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
