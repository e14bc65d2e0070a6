"""A live table of one source (local runs, DAG runs, pods...), k9s-style: filter, sort, ages
and durations ticking, a stale marker when the source can't be reached."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from opsconsole.backends.base import DESCRIBE, DRILL, LOG, PaneSource
from opsconsole.backends.base import LIVE as LIVE_SOURCE
from opsconsole.domain.actions import ActionUnavailable
from opsconsole.domain.items import Item, human_seconds
from opsconsole.domain.states import state_style
from opsconsole.logs.ref import FileLog, LogRef
from opsconsole.services.poller import Poller, PollStatus
from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import safe_text, visible
from opsconsole.ui.widgets.ops_table import OpsTable

LIVE = ("age", "duration")


class SourcePane(Vertical):
    """One pane of the Status screen, for any backend's source: its keys, footer, help and
    palette entries come from the actions the source declares (see `pane_class`)."""

    BINDINGS = bindings("pane")
    DEFAULT_CSS = """
    SourcePane { border: round $panel; height: 1fr; min-height: 6; }
    SourcePane:focus-within { border: round $accent; }
    SourcePane > .pane-title { height: 1; background: $panel; padding: 0 1; }
    SourcePane > Input { display: none; }
    /* one row, focused or not: Textual's focused Input would be a 3-row box hiding the text */
    SourcePane > Input.one-row, SourcePane > Input.one-row:focus { height: 1; border: none; padding: 0 1; }
    SourcePane.filtering > Input { display: block; }
    SourcePane > DataTable { height: 1fr; }
    """

    class Highlighted(Message):
        def __init__(self, pane: "SourcePane", item: Item | None) -> None:
            super().__init__()
            self.pane = pane
            self.item = item

    class OpenLog(Message):
        def __init__(self, item: Item, ref: LogRef) -> None:
            super().__init__()
            self.item = item
            self.ref = ref

    class Describe(Message):
        def __init__(self, item: Item) -> None:
            super().__init__()
            self.item = item

    @staticmethod
    def containing(node: object) -> "SourcePane | None":
        """The pane `node` (a focused widget) sits in, if any."""
        while node is not None and not isinstance(node, SourcePane):
            node = getattr(node, "parent", None)
        return node

    def __init__(self, source: PaneSource, number: int, clock: Callable[[], datetime]) -> None:
        super().__init__(id=f"pane-{source.key}")
        self.source = source
        self.stack: list[PaneSource] = []  # drill-down parents (DAGs › runs › task instances)
        self.number = number
        self._clock = clock
        self.items: list[Item] = []
        self._shown: list[Item] = []
        self.filter_text = ""
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.status = PollStatus()
        self._select_next: str | None = None
        self.marked: list[str] = []  # keys marked by the screen (Runs: two to compare), shown "●"
        self.poller = Poller(self._fetch, self._on_result, self._on_error, interval=source.interval,
                             changed=self._changed)

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="pane-title")
        yield Input(placeholder="filter…  (enter: keep, esc: clear)", classes="one-row")
        yield OpsTable(cursor_type="row", zebra_stripes=False)

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    def _columns_for(self, width: int) -> tuple:
        """All columns if they fit, else without the optional ones (80x24 must stay usable)."""
        cols = self.source.columns
        needed = sum((c.width or 12) + 2 for c in cols) + 2
        return cols if width >= needed else tuple(c for c in cols if not c.optional)

    def _set_columns(self, width: int) -> None:
        cols = self._columns_for(width)
        if [c.key for c in cols] == getattr(self, "_column_keys", None):
            return
        self._column_keys = [c.key for c in cols]
        table = self.table
        table.clear(columns=True)
        for col in cols:
            table.add_column(col.label, key=col.key, width=col.width)
        self._shown = []
        self._render_rows()

    def on_resize(self, event) -> None:
        self._set_columns(event.size.width)

    def on_mount(self) -> None:
        self._set_columns(self.size.width or self.app.size.width)
        # the first fetch (a thread, maybe a recovery) starts once the pane is drawn
        self.call_after_refresh(self._start_polling)
        self.set_interval(1.0, self._tick)

    def _start_polling(self) -> None:
        self.run_worker(self.poller.run(), name=f"poll-{self.source.key}", group="pollers")

    # --- data in --------------------------------------------------------------------------
    async def _fetch(self) -> tuple[PaneSource, list[Item]]:
        source = self.source
        return source, await source.fetch()

    async def _changed(self) -> None:
        """A live source (a watch) says when to fetch; a polled one never does."""
        source = self.source
        if LIVE_SOURCE in source.capabilities:
            await source.changed()
        else:
            await asyncio.get_running_loop().create_future()

    def _on_result(self, result: tuple[PaneSource, list[Item]], status: PollStatus) -> None:
        source, items = result
        if source is not self.source:  # answered after a drill-down or back: not ours any more
            return
        self.items = items
        self.status = status
        self._render_rows()

    def _on_error(self, exc: BaseException, status: PollStatus) -> None:
        self.status = status
        self._update_title()

    def _title(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{self.number} ", style="bold reverse")
        for parent in self.stack:
            text.append(f" {visible(parent.title)} ›", style="dim")
        text.append(f" {visible(self.source.title)} ", style="bold")
        count = f"[{len(self._shown)}/{len(self.items)}]" if self.filter_text else f"[{len(self.items)}]"
        text.append(count, style="dim")
        if self.filter_text:
            text.append(f"  /{visible(self.filter_text)}", style="italic")
        if self.sort_column:
            text.append(f"  ↕{visible(self.sort_column)}{'↓' if self.sort_reverse else '↑'}", style="dim")
        warning = self.source.warning
        if warning:
            text.append(f"  ⚠ {visible(warning)}", style="yellow")
        if self.status.stale:
            text.append("  STALE ", style="bold black on yellow")
            text.append(f" {visible(self.status.last_error)}  retry in {self.status.next_delay:.0f}s", style="yellow")
        return text

    def _update_title(self) -> None:
        self.query_one(".pane-title", Static).update(self._title())

    # --- rows -----------------------------------------------------------------------------
    def _cell(self, item: Item, key: str) -> Text | str:
        """A cell: text from outside (ids, conf, names) is a `Text`, never markup, controls shown."""
        now = self._clock()
        if key == "state":  # a source may label it ("no runs"); the colour is the unified one
            return safe_text(item.cells.get("state") or item.state.value, style=state_style(item.state))
        if key == "age":
            base = item.created_at or item.started_at
            return human_seconds((now - base).total_seconds()) if base else ""
        if key == "duration":
            if item.started_at is None:
                return ""
            return human_seconds(((item.ended_at or now) - item.started_at).total_seconds())
        value = item.cells.get(key, "")
        text = safe_text("" if value is None else value)
        if self.marked and key == self._column_keys[0]:
            return Text.assemble(("● " if item.key in self.marked else "  ", "bold magenta"), text)
        return text

    def set_marked(self, keys: list[str]) -> None:
        """Show which rows are marked (a "●" before the first column)."""
        changed = set(keys) ^ set(self.marked) or (bool(keys) != bool(self.marked))
        self.marked = list(keys)
        if not changed:
            return
        first = self._column_keys[0]
        for item in self._shown:
            self.table.update_cell(item.key, first, self._cell(item, first))
        self._update_title()

    def _visible(self) -> list[Item]:
        items = self.items
        if self.filter_text:
            needle = self.filter_text.lower()
            items = [it for it in items if needle in it.state.value
                     or any(needle in str(v).lower() for v in it.cells.values())]
        if self.sort_column:
            col = self.sort_column

            def sort_key(it: Item):
                if col == "state":
                    return it.state.value
                if col in LIVE:
                    base = it.created_at if col == "age" else it.started_at
                    return base.timestamp() if base else 0.0
                value = it.cells.get(col, "")
                return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))

            items = sorted(items, key=sort_key, reverse=self.sort_reverse)
        return items

    def _render_rows(self) -> None:
        table = self.table
        shown = self._visible()
        keys = self._column_keys
        old_keys = [it.key for it in self._shown]
        if old_keys == [it.key for it in shown]:
            # 2,000 rows stay cheap: an unchanged item (the same object) costs nothing, and the
            # ticking cells (age, duration) are redrawn only for the rows in view
            view = self._in_view()
            for idx, (old, new) in enumerate(zip(self._shown, shown)):
                seen = idx in view
                if old is new and not seen:
                    continue
                for key in keys:
                    if old is new and key not in LIVE:
                        continue
                    value = self._cell(new, key)
                    if (key in LIVE and seen) or value != self._cell(old, key):
                        table.update_cell(new.key, key, value)
        else:
            cursor_key = self._shown[table.cursor_row].key if self._shown and 0 <= table.cursor_row < len(self._shown) else None
            if self._select_next is not None and any(it.key == self._select_next for it in shown):
                cursor_key, self._select_next = self._select_next, None
            table.clear()
            for it in shown:
                table.add_row(*(self._cell(it, k) for k in keys), key=it.key)
            if cursor_key is not None:
                for idx, it in enumerate(shown):
                    if it.key == cursor_key:
                        table.move_cursor(row=idx)
                        break
        self._shown = shown
        self._update_title()
        self._announce_selection()

    def _announce_selection(self) -> None:
        """Tell the screen when the selected item, or its log, changes (a run gets its log
        file only once it starts: the tail must follow it then, not at the next keypress)."""
        item = self.selected
        seen = (item.key, item.log_path) if item is not None else None
        if seen != getattr(self, "_announced", None):
            self._announced = seen
            self.post_message(self.Highlighted(self, item))

    def _in_view(self) -> range:
        """Indexes of the rows on screen (and a few around them)."""
        table = self.table
        top = int(table.scroll_y)
        return range(max(0, top - 2), top + table.size.height + 2)

    def _tick(self) -> None:
        table = self.table
        view = self._in_view()  # rows scrolled into view get theirs at the next tick
        for it in self._shown[view.start:view.stop]:
            if it.state.active or it.ended_at is None:
                for key in LIVE:
                    if key in self._column_keys:
                        table.update_cell(it.key, key, self._cell(it, key))

    @property
    def selected(self) -> Item | None:
        row = self.table.cursor_row
        return self._shown[row] if self._shown and 0 <= row < len(self._shown) else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._announce_selection()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        item = self.selected
        child = self.source.drill(item) if DRILL in self.source.capabilities and item is not None else None
        if child is not None:
            self.switch_source(child, push=True)
        else:
            self.action_open_log()

    def switch_source(self, source: PaneSource, push: bool) -> None:
        """Drill down into `source` (push) or replace the current one (back)."""
        if push:
            self.stack.append(self.source)
        self.source = source
        self.items, self._shown = [], []
        self.filter_text = ""
        self.query_one(Input).value = ""
        self.remove_class("filtering")
        self.sort_column, self.sort_reverse = None, False
        self._column_keys = None
        self._set_columns(self.size.width or self.app.size.width)
        self.poller.reset(interval=source.interval)
        self.status = self.poller.status
        self.table.focus()
        self.refresh_bindings()  # the footer shows the actions this level offers

    def action_back(self) -> None:
        if self.filter_text or self.has_class("filtering"):
            self.action_clear_filter()
        elif self.stack:
            self.switch_source(self.stack.pop(), push=False)

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = event.column_key.value
        if self.sort_column == key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = key, False
        self._render_rows()

    # --- actions ----------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.add_class("filtering")
        self.query_one(Input).focus()

    def action_clear_filter(self) -> None:
        inp = self.query_one(Input)
        inp.value = ""
        self.filter_text = ""
        self.remove_class("filtering")
        self._render_rows()
        self.table.focus()

    @on(Input.Changed)
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value.strip()
        self._render_rows()

    @on(Input.Submitted)
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.filter_text:
            self.remove_class("filtering")
        self.table.focus()

    def action_cycle_sort(self) -> None:
        keys = self._column_keys
        if self.sort_column is None:
            self.sort_column = keys[0]
        else:
            nxt = keys.index(self.sort_column) + 1
            self.sort_column = keys[nxt] if nxt < len(keys) else None
        self.sort_reverse = False
        self._render_rows()

    def action_reverse_sort(self) -> None:
        if self.sort_column is None:
            self.sort_column = self.source.columns[0].key
        self.sort_reverse = not self.sort_reverse
        self._render_rows()

    def action_open_log(self) -> None:
        item = self.selected
        if item is None:
            return
        source = self.source
        if item.log_path:
            self.post_message(self.OpenLog(item, FileLog(item.log_path, f"run {item.key}")))
            return
        if LOG not in source.capabilities:
            self.notify(f"{source.title} {item.key}: no log yet", severity="warning", markup=False)
            return
        self.run_worker(self._open_remote_log(source, item), group="open-log", exclusive=True)

    async def _open_remote_log(self, source: PaneSource, item: Item) -> None:
        """Logs that live elsewhere come back as references (a stream being spooled, a ranged
        remote object): the viewer opens them at once and shows how far they got."""
        try:
            ref = await source.open_log(item)
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            self.notify(f"{item.key}: cannot open log: {exc}", severity="error", markup=False)
            return
        self.post_message(self.OpenLog(item, ref))

    def action_describe(self) -> None:
        item = self.selected
        if item is None:
            return
        source = self.source
        if DESCRIBE not in source.capabilities:
            self.post_message(self.Describe(item))
            return

        async def _full() -> None:
            async with self.app.dialog_coming(within=3.0) as hold:
                try:
                    item.detail = await source.describe(item)
                except Exception as exc:  # noqa: BLE001
                    self.notify(f"{item.key}: {exc}", severity="error", markup=False)
                    return
                hold.until_shown()
                self.post_message(self.Describe(item))

        self.run_worker(_full(), group="describe", exclusive=True)

    # --- the source's declared actions ----------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pane_action":
            return bool(parameters) and self.source.offers(str(parameters[0]))
        return True

    def action_pane_action(self, action_id: str) -> None:
        """A declared action on the selected item: the source prepares the call, the app's one
        action path refuses, confirms, runs and audits it."""
        self.run_worker(self._pane_action(action_id), group=f"action-{action_id}")

    async def _pane_action(self, action_id: str) -> None:
        async with self.app.dialog_coming():  # what is typed before the dialog shows is not a shortcut
            try:
                call = await self.source.prepare(action_id, self.selected)
            except ActionUnavailable as exc:
                self.notify(str(exc), severity="warning", markup=False)
                return
            except Exception as exc:  # noqa: BLE001 - shown, never a crash
                self.notify(f"{action_id}: {type(exc).__name__}: {exc}", severity="error", markup=False)
                return
        await self.app.run_action_call(call)

    def pause(self) -> None:
        self.poller.pause()

    def resume(self) -> None:
        self.poller.resume()

    def refresh_now(self, select: str | None = None) -> None:
        """Poll now; `select` puts the cursor on that item once it shows up (a new launch)."""
        self._select_next = select
        self.poller.poke()


_PANE_CLASSES: dict[str, type[SourcePane]] = {}


def pane_class(source: PaneSource) -> type[SourcePane]:
    """The pane widget class of a source's backend: SourcePane plus one binding per action the
    backend declares (ids from the key registry, so `?`, the footer and `[keys]` remaps know
    them). One class per backend scope; made once."""
    scope = source.scope
    cls = _PANE_CLASSES.get(scope)
    if cls is None:
        from opsconsole.ui.keymap_actions import action_bindings

        cls = type(f"{scope.title().replace('_', '')}Pane", (SourcePane,), {"BINDINGS": action_bindings(scope)})
        _PANE_CLASSES[scope] = cls
    return cls
