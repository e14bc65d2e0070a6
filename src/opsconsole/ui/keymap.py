"""Every key of the app in one table: id → default keys, action and description.

Plain data (no Textual import) so `opsconsole config check` can validate a user's `[keys]`
remapping without starting the UI. Every Screen, Widget and App builds its BINDINGS from here
(`ui/bindings.py`), `?` lists it, and tests/ui/test_keymap.py fails on a Binding declared
anywhere else. Backends add their pane actions at start-up with `register()`.

Scopes. A key's scope is the screen, widget or app that declares it. Two scopes are *live
together* when one can have the focus while the other still hears keys: the same scope;
"global" with every scope (the app's keys work everywhere); and a scope with those listed for
it in INSIDE (a widget with the screens that host it); a backend's pane scope, made by
`register()`, with the table it extends and Status. Sibling scopes (a table and the log preview
beside it, two backends' panes) never are.

Remaps (`remap_problems`) are refused when
- the id is unknown, or a key is empty;
- any binding other than the kill-switch's (app.killswitch) would use the kill-switch's key,
  as remapped: nothing may shadow or share the one key that stops everything;
- one key would reach two ids live together *and the defaults did not already pair those two
  ids on that key*. The default overlaps are by design — the focused widget wins, as in less:
  while a log has the focus `n` is its next match, not Launch; `esc` closes a modal. A remap
  may keep them but never add one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

GLOBAL = "global"
KILLSWITCH = "app.killswitch"


@dataclass(frozen=True)
class Key:
    id: str
    keys: str  # comma-separated Textual key names
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
    Key("status.related", "J", "related", "Related", "status", show=False),
    *(Key(f"status.pane{n}", str(n), f"focus_pane({n})", f"Pane {n}", "status", show=False) for n in range(1, 10)),
    Key("pane.filter", "slash", "filter", "Filter", "pane"),
    Key("pane.sort", "o", "cycle_sort", "Sort", "pane"),
    Key("pane.reverse", "O", "reverse_sort", "Reverse", "pane", show=False),
    Key("pane.open_log", "enter,l", "open_log", "Log", "pane"),
    Key("pane.describe", "d", "describe", "Describe", "pane"),
    Key("pane.back", "escape", "back", "Back / clear filter", "pane", show=False),
    # every table (k9s/less habits; pgup/pgdn and the arrows are the table's own)
    Key("table.down", "j", "cursor_down", "Down", "table", show=False),
    Key("table.up", "k", "cursor_up", "Up", "table", show=False),
    Key("table.top", "g,home", "scroll_top", "First row", "table", show=False),
    Key("table.bottom", "G,end", "scroll_bottom", "Last row", "table", show=False),
    # logs screen
    Key("logs.close_tab", "x", "close_tab", "Close tab", "logs"),
    Key("logs.next_tab", "right_square_bracket", "next_tab", "Next tab", "logs"),
    Key("logs.prev_tab", "left_square_bracket", "prev_tab", "Prev tab", "logs"),
    # launch screen
    Key("launch.launch", "ctrl+l,f5", "launch", "Launch", "launch", priority=True),
    Key("launch.copy", "ctrl+y", "copy", "Copy command", "launch"),
    Key("launch.save", "ctrl+s", "save", "Save preset", "launch", priority=True),
    Key("launch.save_as", "f2", "save_as", "Save as", "launch"),
    Key("launch.leave_field", "escape", "leave_field", "Leave the field", "launch", show=False),
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
    # a JSON object typed by the operator (an action's input, e.g. a run's conf)
    Key("json_input.cancel", "escape", "cancel", "Cancel", "json_input"),
    Key("json_input.submit", "ctrl+s", "submit", "Next", "json_input", priority=True),
    # kill-switch results
    Key("killresults.close", "escape,q", "close", "Close", "killresults"),
    # log viewer (while a log has the focus; it wins over the screen's and the app's keys)
    Key("logview.follow", "f", "toggle_follow", "Follow", "logview"),
    Key("logview.top", "g,home", "top", "Top", "logview", show=False),
    Key("logview.bottom", "G,end", "bottom", "Bottom", "logview", show=False),
    Key("logview.up", "up,k", "cursor(-1)", "Up", "logview", show=False),
    Key("logview.down", "down,j", "cursor(1)", "Down", "logview", show=False),
    Key("logview.page_up", "pageup,ctrl+b", "page(-1)", "Page up", "logview", show=False),
    Key("logview.page_down", "pagedown,space", "page(1)", "Page down", "logview", show=False),
    Key("logview.left", "left", "pan(-8)", "Left", "logview", show=False),
    Key("logview.right", "right", "pan(8)", "Right", "logview", show=False),
    Key("logview.goto_line", "colon", "prompt('line')", "Go to line", "logview"),
    Key("logview.goto_percent", "percent_sign", "prompt('percent')", "Go to %", "logview", show=False),
    Key("logview.goto_time", "t", "prompt('time')", "Go to time", "logview", show=False),
    Key("logview.search", "slash", "prompt('search')", "Search", "logview"),
    Key("logview.next", "n", "next_match(1)", "Next", "logview", show=False),
    Key("logview.previous", "N", "next_match(-1)", "Previous", "logview", show=False),
    Key("logview.case", "I", "toggle_case", "Case", "logview", show=False),
    Key("logview.regex", "R", "toggle_regex", "Regex", "logview", show=False),
    Key("logview.filter", "ampersand", "prompt('filter')", "Filter", "logview"),
    Key("logview.toggle_filter", "F", "toggle_filter", "Filter on/off", "logview", show=False),
    Key("logview.close", "q", "close_log", "Close log", "logview", show=False),
    Key("logview.clear", "escape", "clear_search", "Clear", "logview", show=False),
    Key("logview.wrap", "w", "toggle_wrap", "Wrap", "logview"),
    Key("logview.mark", "m", "mark", "Mark", "logview", show=False),
    Key("logview.save", "S", "prompt('save')", "Save", "logview", show=False),
    Key("logview.copy", "c", "copy_line", "Copy", "logview", show=False),
    Key("logview.open_line", "enter", "open_line", "Open line", "logview", show=False),
    # the log viewer's prompt and its whole-line view
    Key("logview.prompt.cancel", "escape", "cancel", "Cancel", "line_prompt"),
    Key("logview.line.close", "escape,q", "close", "Close", "whole_line"),
    # `opsconsole tail` (the viewer alone)
    Key("tail.quit", "q", "quit", "Quit", "tail"),
    Key("tail.next_tab", "right_square_bracket", "next_tab", "Next tab", "tail"),
    Key("tail.prev_tab", "left_square_bracket", "prev_tab", "Prev tab", "tail"),
    # other modals
    Key("help.close", "escape,q,question_mark", "dismiss", "Close", "help"),
    Key("confirm.cancel", "escape", "cancel", "Cancel", "confirm"),
    Key("describe.close", "escape,q,d", "dismiss", "Close", "describe"),
    Key("compare.close", "escape,q", "dismiss", "Close", "compare"),
    # Balances: runs' P&L, snapshot history, chart; the execution report and its notes
    Key("balances.detail", "enter", "detail", "Assets", "balances"),
    Key("balances.report", "e", "report", "Report", "balances"),
    Key("balances.runs", "1", "view('runs')", "Runs", "balances"),
    Key("balances.history", "2", "view('history')", "History", "balances"),
    Key("balances.chart", "3", "view('chart')", "Chart", "balances"),
    Key("balances.refresh", "ctrl+r", "refresh_balances", "Refresh", "balances", show=False),
    Key("report.notes", "e", "edit_notes", "Edit notes", "report"),
    Key("report.export", "x", "export", "Export", "report"),
    Key("report.close", "escape", "dismiss", "Close", "report"),
    Key("notes.save", "ctrl+s", "save", "Save", "notes", priority=True),
    Key("notes.cancel", "escape", "cancel", "Cancel", "notes", priority=True),
    Key("assets.close", "escape,q,enter", "dismiss", "Close", "assets"),
)

# Scopes whose keys are live together with a scope besides its own and "global" (see above).
INSIDE: dict[str, tuple[str, ...]] = {
    "pane": ("status", "runs"),
    "table": ("pane", "status", "runs", "balances", "killswitch", "killresults"),
    "logview": ("status", "logs", "tail", "whole_line"),
}
# A registered scope is a backend's pane: a SourcePane (the table's keys) on Status.
BACKEND_PANE = ("pane", "status")

BINDING_IDS = tuple(k.id for k in KEYS)  # the static table only; binding_ids() adds registered keys

_registered: dict[str, Key] = {}  # keys backends declared at start-up, by id


def register(keys: Iterable[Key]) -> None:
    """Add keys (a backend's pane actions) to the table, all or none.

    Idempotent: registering an identical Key again does nothing. Raises ValueError when an id is
    already defined differently, when a key string is empty, when a key is the kill-switch's, or
    when it is already bound to another id live together with it: the overlaps accepted by
    `remap_problems` are the static table's alone. Register before the class whose BINDINGS
    come from the scope is made."""
    table = by_id()
    kill = set(_split(table[KILLSWITCH].keys))
    new: dict[str, Key] = {}
    for key in keys:
        known = new.get(key.id) or table.get(key.id)
        if known == key:
            continue
        if known is not None:
            raise ValueError(f"key binding {key.id!r} is already defined as {known}")
        names = set(_split(key.keys))
        if "" in names:
            raise ValueError(f"key binding {key.id!r}: empty key in {key.keys!r}")
        if kill & names:
            raise ValueError(f"key binding {key.id!r}: {', '.join(sorted(kill & names))} "
                             f"is the kill-switch's key ({KILLSWITCH})")
        pending = (*new.values(), key)
        for other in (*table.values(), *new.values()):
            shared = names & set(_split(other.keys))
            if shared and _live(key.scope, other.scope, _hosts(key.scope, pending), _hosts(other.scope, pending)):
                raise ValueError(f"key binding {key.id!r}: {', '.join(sorted(shared))} "
                                 f"is already bound to {other.id}")
        new[key.id] = key
    _registered.update(new)


def all_keys() -> tuple[Key, ...]:
    """The static table, then the registered keys in the order they came."""
    return KEYS + tuple(_registered.values())


def by_id() -> dict[str, Key]:
    return {k.id: k for k in all_keys()}


def binding_ids() -> tuple[str, ...]:
    return tuple(k.id for k in all_keys())


def for_scope(scope: str) -> list[Key]:
    return [k for k in all_keys() if k.scope == scope]


def live_together(a: str, b: str) -> bool:
    """Whether keys of scopes `a` and `b` can both be heard at one moment (see the docstring)."""
    return _live(a, b, _hosts(a), _hosts(b))


def _hosts(scope: str, pending: Iterable[Key] = ()) -> tuple[str, ...]:
    """The scopes hosting `scope` (INSIDE, or a backend pane's for a registered scope)."""
    if scope in INSIDE:
        return INSIDE[scope]
    static = any(k.scope == scope for k in KEYS)
    registered = any(k.scope == scope for k in (*_registered.values(), *pending))
    return BACKEND_PANE if registered and not static else ()


def _live(a: str, b: str, a_hosts: tuple[str, ...], b_hosts: tuple[str, ...]) -> bool:
    return a == b or GLOBAL in (a, b) or b in a_hosts or a in b_hosts


def remap_problems(remaps: Mapping[str, str]) -> list[tuple[str, str]]:
    """(binding id, reason) for each remap of the config's `[keys]` table that is refused.

    `remaps` maps a binding id to comma-separated Textual key names. The rules are in the
    module docstring; an empty list means the keymap is safe to apply."""
    table = by_id()
    problems: list[tuple[str, str]] = []
    valid: dict[str, list[str]] = {}
    for id_, keys in remaps.items():
        names = _split(keys)
        if id_ not in table:
            problems.append((id_, "no key binding with this id (see `?` in the app)"))
        elif not all(names):
            problems.append((id_, "empty key: give one or more key names separated by commas"))
        else:
            valid[id_] = names
    default = {k.id: _split(k.keys) for k in table.values()}
    after = {**default, **valid}

    # the kill-switch's key does nothing else, anywhere
    kill = after[KILLSWITCH]
    for other, names in after.items():
        for name in (n for n in dict.fromkeys(names) if n in kill and other != KILLSWITCH):
            if other in valid:
                problems.append((other, f"{name} is the kill-switch's key ({KILLSWITCH}); it must do nothing else"))
            else:
                problems.append((KILLSWITCH, f"{name} is already bound to {other}; "
                                             "the kill-switch's key must do nothing else"))

    # no new pair of live-together ids on one key
    known = _clashes(table, default)
    for name, a, b in _clashes(table, after):
        if (name, a, b) in known:
            continue
        for id_, other in ((a, b), (b, a)):
            if id_ in valid:
                scope = table[other].scope
                where = "which works everywhere" if scope == GLOBAL else f"live at the same time ({scope})"
                problems.append((id_, f"{name} is already bound to {other}, {where}"))
    return problems


def _clashes(table: Mapping[str, Key], keys: Mapping[str, list[str]]) -> set[tuple[str, str, str]]:
    """(key, id a, id b) for two ids of live-together scopes on one key, the kill-switch aside."""
    on_key: dict[str, list[str]] = {}
    for id_, names in keys.items():
        if id_ != KILLSWITCH:
            for name in dict.fromkeys(names):
                on_key.setdefault(name, []).append(id_)
    return {(name, a, b) for name, ids in on_key.items() for a, b in combinations(sorted(ids), 2)
            if live_together(table[a].scope, table[b].scope)}


def _split(keys: str) -> list[str]:
    return [name.strip() for name in keys.split(",")]
