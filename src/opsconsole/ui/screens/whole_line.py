"""One very long log line, opened whole in its own viewer."""

from __future__ import annotations

import os

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen

from opsconsole.logs.text import DISPLAY_CAP
from opsconsole.ui.bindings import bindings


class WholeLine(ModalScreen[None]):
    """One very long line, folded into rows, in its own LogView (search works there too)."""

    DEFAULT_CSS = """
    WholeLine { align: center middle; }
    WholeLine > Vertical { width: 95%; height: 90%; border: round $accent; }
    """
    BINDINGS = bindings("whole_line")

    def __init__(self, path: str, line: int) -> None:
        super().__init__()
        self._file = path
        self._line = line

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"line {self._line:,} (folded every {DISPLAY_CAP} bytes)"
            from opsconsole.ui.widgets.log_view import LogView

            view = LogView(self._file, follow=False)
            view.wrap = True
            view._open_at_top = True
            yield view

    def action_close(self) -> None:
        self.dismiss(None)

    def on_unmount(self) -> None:
        try:
            os.unlink(self._file)
        except OSError:
            pass
