"""Two runs' parameters side by side, differences highlighted."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import safe_text


def compare_rows(a: dict, b: dict) -> list[tuple[str, str, str, bool]]:
    """(parameter, value in a, value in b, differs) for the union of both runs' parameters."""
    pa, pb = a.get("parameters") or {}, b.get("parameters") or {}
    rows = []
    for key in list(pa) + [k for k in pb if k not in pa]:
        va, vb = pa.get(key), pb.get(key)
        rows.append((key, "" if va is None else str(va), "" if vb is None else str(vb), va != vb))
    return rows


class CompareScreen(ModalScreen[None]):
    BINDINGS = bindings("compare")
    DEFAULT_CSS = """
    CompareScreen { align: center middle; }
    CompareScreen > VerticalScroll { width: 95%; height: 90%; border: round $accent; background: $surface; }
    """

    def __init__(self, a: dict, b: dict) -> None:
        super().__init__()
        self.a, self.b = a, b
        self.rows = compare_rows(a, b)

    def compose(self) -> ComposeResult:
        table = Table(expand=True, header_style="bold")
        table.add_column("PARAMETER", no_wrap=True)
        table.add_column(f"run {self.a['id']} ({self.a['state']})", ratio=1)
        table.add_column(f"run {self.b['id']} ({self.b['state']})", ratio=1)
        for key, va, vb, differs in self.rows:
            style = "bold yellow" if differs else "dim"
            table.add_row(safe_text(key, style=style), safe_text(va, style=style), safe_text(vb, style=style))
        with VerticalScroll() as scroll:
            scroll.border_title = f"Compare runs {self.a['id']} and {self.b['id']} — differences in yellow"
            yield Static(table)
