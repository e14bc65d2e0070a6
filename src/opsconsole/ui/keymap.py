"""Every key of the app in one table: id → default keys and description.

Plain data (no Textual import) so `opsconsole config check` can validate a user's `[keys]`
remapping without starting the UI. Screens build their Bindings from here, and `?` lists it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    id: str
    keys: str
    action: str
    description: str
    scope: str  # "global" or the screen/widget it belongs to
    show: bool = True
    priority: bool = False


KEYS: tuple[Key, ...] = (
    # global
    Key("app.status", "s", "show_screen('status')", "Status", "global"),
    Key("app.logs", "v", "show_screen('logs')", "Logs", "global"),
    Key("app.launch", "n", "show_screen('launch')", "Launch", "global"),
    Key("app.runs", "r", "show_screen('runs')", "Runs", "global"),
    Key("app.balances", "b", "show_screen('balances')", "Balances", "global"),
    Key("app.killswitch", "ctrl+k", "arm_killswitch", "KILL", "global", priority=True),
    Key("app.help", "question_mark", "help", "Help", "global"),
    Key("app.palette", "ctrl+p", "command_palette", "Commands", "global", show=False),
    Key("app.quit", "q", "quit", "Quit", "global"),
    # status panes
    Key("status.next_pane", "tab", "focus_next_pane", "Next pane", "status", show=False),
    Key("status.prev_pane", "shift+tab", "focus_prev_pane", "Prev pane", "status", show=False),
    Key("status.maximise", "z", "toggle_maximise", "Maximise", "status"),
    *(Key(f"status.pane{n}", str(n), f"focus_pane({n})", f"Pane {n}", "status", show=False) for n in range(1, 10)),
    Key("pane.filter", "slash", "filter", "Filter", "pane"),
    Key("pane.sort", "o", "cycle_sort", "Sort", "pane"),
    Key("pane.reverse", "O", "reverse_sort", "Reverse", "pane", show=False),
    Key("pane.open_log", "enter,l", "open_log", "Log", "pane"),
    Key("pane.describe", "d", "describe", "Describe", "pane"),
    Key("pane.back", "escape", "back", "Back / clear filter", "pane", show=False),
    # Airflow pane: act on the selected item of the current level (DAG, run or task instance)
    Key("airflow.trigger", "t", "trigger", "Trigger", "airflow"),
    Key("airflow.clear", "c", "clear", "Clear ↓", "airflow"),
    Key("airflow.clear_failed", "C", "clear_failed", "Clear failed", "airflow"),
    Key("airflow.mark_failed", "F", "mark_failed", "Mark failed", "airflow"),
    Key("airflow.pause", "p", "toggle_pause", "Pause/unpause", "airflow"),
    # logs screen
    Key("logs.close_tab", "x", "close_tab", "Close tab", "logs"),
    Key("logs.next_tab", "right_square_bracket", "next_tab", "Next tab", "logs"),
    Key("logs.prev_tab", "left_square_bracket", "prev_tab", "Prev tab", "logs"),
    # launch screen
    Key("launch.launch", "ctrl+l,f5", "launch", "Launch", "launch", priority=True),
    Key("launch.copy", "ctrl+y", "copy", "Copy command", "launch"),
    Key("launch.save", "ctrl+s", "save", "Save preset", "launch", priority=True),
    Key("launch.save_as", "f2", "save_as", "Save as", "launch"),
    # runs screen
    Key("runs.open_log", "enter,l", "open_log", "Log", "runs"),
    Key("runs.filter", "slash", "filter", "Filter", "runs"),
    Key("runs.clone", "c", "clone", "Clone to form", "runs"),
    Key("runs.rerun", "e", "rerun", "Re-run", "runs"),
    Key("runs.mark", "space", "mark", "Mark", "runs"),
    Key("runs.compare", "equals_sign", "compare", "Compare marked", "runs"),
    Key("runs.release", "R", "release_latch", "Release HALT", "runs"),
    # kill-switch modal
    Key("kill.fire", "enter", "fire", "FIRE", "killswitch", priority=True),
    Key("kill.cancel", "escape", "cancel", "Cancel", "killswitch", priority=True),
)

BY_ID = {k.id: k for k in KEYS}
BINDING_IDS = tuple(BY_ID)


def for_scope(scope: str) -> list[Key]:
    return [k for k in KEYS if k.scope == scope]
