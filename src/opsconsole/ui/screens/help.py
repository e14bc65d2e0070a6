"""`?`: every key of the app, with the user's remappings applied."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsconsole.ui.bindings import bindings
from opsconsole.ui.keymap import all_keys

# a scope not named here is a backend's pane (its actions, registered by the backend)
SCOPES = {"global": "Everywhere", "status": "Status", "pane": "Tables (Status, Runs)", "table": "Every table", "logs": "Logs",
          "launch": "Launch", "runs": "Runs", "killswitch": "Kill-switch (armed)",
          "killresults": "Kill-switch results", "json_input": "JSON input", "logview": "Log viewer",
          "line_prompt": "Log viewer prompt", "whole_line": "Whole line", "tail": "opsconsole tail",
          "help": "This help", "confirm": "Confirmation", "describe": "Describe", "compare": "Compare runs",
          "balances": "Balances", "report": "Execution report", "notes": "Report notes", "assets": "Assets"}


class HelpScreen(ModalScreen[None]):
    BINDINGS = bindings("help")
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-width: 95%; height: 90%; border: round $accent;
                                  background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        from opsconsole.ui.keymap_actions import register_backends

        register_backends()  # every backend's actions can be remapped, used by this profile or not
        keymap = getattr(self.app, "user_keymap", {})
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("KEY", style="bold cyan", no_wrap=True)
        table.add_column("ACTION")
        table.add_column("WHERE", style="dim")
        table.add_column("ID", style="dim")
        self.rows = []
        for key in all_keys():
            keys = keymap.get(key.id, key.keys)
            shown = ", ".join(_pretty(k) for k in keys.split(","))
            self.rows.append((shown, key.description, SCOPES.get(key.scope, f"{key.scope} pane"), key.id))
            table.add_row(*self.rows[-1])
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys — remap any of them in the config's \\[keys] table by id"
            yield Static(table)
            yield Static("\nctrl+p opens the command palette: every screen and action by name.")


def _pretty(key: str) -> str:
    return {"question_mark": "?", "slash": "/", "left_square_bracket": "[",
            "right_square_bracket": "]", "escape": "esc", "colon": ":", "percent_sign": "%",
            "ampersand": "&", "equals_sign": "=", "space": "space"}.get(key.strip(), key.strip())
