"""`d`: the full object as JSON, scrollable, escape to close."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import safe_content, visible


class DescribeScreen(ModalScreen[None]):
    BINDINGS = bindings("describe")
    DEFAULT_CSS = """
    DescribeScreen { align: center middle; }
    DescribeScreen > VerticalScroll { width: 90%; height: 90%; border: round $accent; background: $surface; }
    """

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = safe_content(self._title)
            from rich.syntax import Syntax

            yield Static(Syntax(visible(self._body, keep="\n"), "json", theme="ansi_dark", word_wrap=True))
