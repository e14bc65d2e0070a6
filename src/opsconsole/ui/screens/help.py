"""`?`: every key of the app, with the user's remappings applied."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsconsole.ui.keymap import KEYS

SCOPES = {"global": "Everywhere", "status": "Status", "pane": "Tables (Status, Runs)", "logs": "Logs",
          "launch": "Launch", "runs": "Runs", "killswitch": "Kill-switch (armed)",
          "airflow": "Airflow pane", "logview": "Log viewer"}


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-width: 95%; height: 90%; border: round $accent;
                                  background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        keymap = getattr(self.app, "user_keymap", {})
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("KEY", style="bold cyan", no_wrap=True)
        table.add_column("ACTION")
        table.add_column("WHERE", style="dim")
        table.add_column("ID", style="dim")
        self.rows = []
        for key in KEYS:
            keys = keymap.get(key.id, key.keys)
            shown = ", ".join(_pretty(k) for k in keys.split(","))
            self.rows.append((shown, key.description, SCOPES.get(key.scope, key.scope), key.id))
            table.add_row(*self.rows[-1])
        from opsconsole.ui.widgets.log_view import LogView

        for binding in LogView.BINDINGS:  # the viewer's own keys, declared with the widget
            keys = keymap.get(binding.id, binding.key)
            shown = ", ".join(_pretty(k) for k in keys.split(","))
            self.rows.append((shown, binding.description, SCOPES["logview"], binding.id or ""))
            table.add_row(*self.rows[-1])
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys — remap any of them in the config's \\[keys] table by id"
            yield Static(table)
            yield Static("\nctrl+p opens the command palette: every screen and action by name.")


def _pretty(key: str) -> str:
    return {"question_mark": "?", "slash": "/", "left_square_bracket": "[",
            "right_square_bracket": "]", "escape": "esc", "colon": ":", "percent_sign": "%",
            "ampersand": "&", "equals_sign": "=", "space": "space"}.get(key.strip(), key.strip())
