"""LogView: a Line API viewer over a `LogDocument` (tail first, index, search, filter, follow).

Only visible lines are rendered, from an LRU of strips keyed by line number; the engine
(opsconsole.logs) does all file work in its own threads and pokes us through one coalesced
message. The last row of the widget is its status line, so it works in a 5-row box too.
This module renders and scrolls; prompts, search, save, copy and the whole-line view are
`LogViewActions` (log_actions.py), the status line is log_status.py.

It opens a log reference (`opsconsole.logs.ref`): a local file, a stream's spool (the status
line then says how far the stream got, and the engine stops polling once it ended), or a
remote ranged object. A remote source is never read while painting: `render_line` uses
bytes already in the source's block cache and a thread worker fetches the rest of the
window ("…" until it arrives; `RemoteWindow`, log_window.py).
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opsconsole.logs.follow import LogDocument
from opsconsole.logs.levels import detect_level
from opsconsole.logs.query import Query, RegexTooSlow, finditer_text
from opsconsole.logs.ref import LogRef, StreamLog, as_ref
from opsconsole.logs.tail import read_line
from opsconsole.logs.text import DISPLAY_CAP, decode_for_display
from opsconsole.ui.bindings import bindings
from opsconsole.ui.widgets.log_actions import LogViewActions
from opsconsole.ui.widgets.log_status import JobWatch, status_strip
from opsconsole.ui.widgets.log_window import RemoteWindow

__all__ = ["DISPLAY_CAP", "LogView"]
_STRIP_CACHE = 2000
_LEVEL_CLASSES = {
    "ERROR": "logview--error",
    "WARN": "logview--warn",
    "INFO": "logview--info",
    "DEBUG": "logview--debug",
}


class LogView(LogViewActions, ScrollView, can_focus=True):
    """A huge-log viewer. Keys are bindings with ids `logview.*` (remappable via the keymap)."""

    BINDINGS = bindings("logview")

    COMPONENT_CLASSES = {
        "logview--cursor", "logview--match", "logview--status", "logview--gutter",
        "logview--mark", "logview--error", "logview--warn", "logview--info", "logview--debug",
    }

    DEFAULT_CSS = """
    /* No horizontal scrollbar: it would appear and vanish with line widths and steal the
       bottom row while following. left/right pan instead. */
    LogView { background: $surface; overflow-x: hidden; }
    LogView > .logview--cursor { background: $boost; text-style: bold; }
    LogView:focus > .logview--cursor { background: $accent 35%; }
    LogView > .logview--match { background: $warning 60%; color: $text; }
    LogView > .logview--status { background: $panel; color: $text-muted; }
    LogView > .logview--gutter { color: $text-disabled; }
    LogView > .logview--mark { color: $accent; text-style: bold; }
    LogView > .logview--error { color: $error; text-style: bold; }
    LogView > .logview--warn { color: $warning; }
    LogView > .logview--info { color: $success; }
    LogView > .logview--debug { color: $text-muted; }
    """

    class Changed(Message):
        """The document changed (posted from the engine thread, at most one in flight)."""

    class SearchUpdated(Message):
        """The active search found more or finished."""

    def __init__(self, log: "LogRef | str | os.PathLike", *, follow: bool = True, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._ref = as_ref(log)
        self._path = Path(self._ref.path)
        self.follow = follow
        self.wrap = False
        self.cursor = 0  # line number in the current line map
        self.marks: set[int] = set()
        self.new_lines = 0  # appended while the user looked elsewhere
        self.message = ""  # last transient notice for the status line
        self.query: Query | None = None
        self.filtering = False
        self._rows: Sequence[int] | None = None  # filter: row -> line (a numpy array)
        self._lines = None  # the LineMap rendered
        self._line_count = 0
        self._open_at_top = False  # WholeLine wants the start; logs open at the tail
        self._generation = -1
        self._search_jumped = False
        self._search_pending = False
        self._strips: OrderedDict[tuple, tuple[Strip, int]] = OrderedDict()
        self._max_width = 0
        self._match_re: re.Pattern[str] | None = None
        self._doc = LogDocument(self._ref, on_change=self._engine_changed, paint_first=True)
        self._painted = False
        self._window = RemoteWindow(self, _STRIP_CACHE)  # remote: the lines around the view

    # -- public -----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The file shown (a spool file for a stream; the object's name for a remote one)."""
        return self._path

    @property
    def ref(self) -> LogRef:
        """The log reference shown."""
        return self._ref

    @property
    def _remote(self) -> bool:
        return self._doc.remote

    @property
    def document(self) -> LogDocument:
        """The engine behind the view (read-only use)."""
        return self._doc

    @property
    def line_count(self) -> int:
        """Lines as of the last sync with the engine (what is on screen)."""
        return self._line_count

    @property
    def row_count(self) -> int:
        return len(self._rows) if self._rows is not None else self.line_count

    def line_text(self, line: int, cap: int = DISPLAY_CAP) -> str:
        """Display text of a line of the current line map (for tests and companions)."""
        lines = self._doc.lines
        if lines is None or not 0 <= line < lines.line_count:
            return ""
        data, cut = read_line(self._doc.source, lines.line_span(line), cap)
        return decode_for_display(data, cut)

    @property
    def tracking(self) -> bool:
        """Following right now: follow is on and the cursor is on the last line, in view.

        Moving away from the end (a key, a search hit, a click) pauses following without
        turning it off: new lines then only count up "+N new lines"; `G` or `f` resumes.
        """
        rows = self.row_count
        return self.follow and (not rows or self._line_row(self.cursor) >= rows - 1 and self._at_bottom())

    def visible_lines(self) -> list[int]:
        """Line numbers currently on screen, top to bottom."""
        top = int(self.scroll_offset.y)
        rows = range(top, min(top + self._content_height, self.row_count))
        return [self._row_line(r) for r in rows]

    # -- lifecycle and engine events --------------------------------------------------

    def on_mount(self) -> None:
        self._doc.start()
        if isinstance(self._ref, StreamLog) and not self._ref.job.complete:
            self._job_watch = JobWatch(self, self._ref.job)
        # A local tail is ready in ~1 ms: wait that long so the first frame is the log, not an
        # empty box (saves a whole frame on the way to the first screen). A slow (remote)
        # source just misses the window and arrives through the usual message.
        if self._doc.wait_tail(0.02):
            self._doc.take_changes()
            self._sync(0)

    def on_unmount(self) -> None:
        self._doc.close()

    def on_resize(self, event) -> None:
        # Another height moves where "the end" is: a view following (cursor on the last line,
        # not moved away by the user) stays pinned to the end, at any size.
        if self.follow and self.row_count and self._line_row(self.cursor) >= self.row_count - 1:
            self._scroll_bottom()

    def _engine_changed(self) -> None:
        self.post_message(self.Changed())

    def _search_changed(self) -> None:
        self.post_message(self.SearchUpdated())

    @on(Changed)
    def _on_changed(self, event: Changed) -> None:
        event.stop()
        appended = self._doc.take_changes()
        self._sync(appended)

    @on(SearchUpdated)
    def _on_search_updated(self, event: SearchUpdated) -> None:
        event.stop()
        self._sync(0)

    def _sync(self, appended: int) -> None:
        """Re-read the document's state: new line map, new lines, search results."""
        doc = self._doc
        lines = doc.lines
        if lines is None:
            self.refresh()
            return
        tracking = self.tracking
        switched = lines is not self._lines or doc.generation != self._generation
        self._line_count = lines.line_count
        anchor = None  # top line to keep on screen when the tail window gives way to the index
        fresh = False  # first lines, or a new file after rotation: start at the end
        if switched:
            old, self._lines = self._lines, lines
            rotated = doc.generation != self._generation  # another file (rotation) or truncated
            self._window.switched(rotated)
            if rotated:
                self.marks.clear()
                self._strips.clear()
                old = None
            self._generation = doc.generation
            if old is not None and self.marks:  # marks made on the tail window keep their bytes
                self.marks = {self._same_line(old, lines, m) for m in self.marks}
            if old is not None and old.line_count:
                anchor = self._same_line(old, lines, int(self.scroll_offset.y))
            else:
                fresh = True
            self.cursor = self._remap(old, lines, self.cursor, tracking)
        if self._search_pending and doc.indexed:
            self._search_pending = False
            self._start_search()
        search = doc.search
        if self.filtering and search is not None:
            self._rows = search.lines()
        elif self.filtering:
            self._rows = ()
        else:
            self._rows = None
        if search is not None and not self._search_jumped and search.count:
            target = search.next_after(self.cursor)
            last = self.cursor >= self.line_count - 1
            if target is not None and (target > self.cursor or search.done or last):
                self._search_jumped = True
                self._update_virtual_size()
                self._goto_line(target)
                tracking, anchor = False, None
        self._update_virtual_size()
        if self._open_at_top and doc.indexed:
            self._open_at_top = False
            self.cursor = 0
            self.scroll_to(y=0, animate=False, immediate=True, force=True)
        elif tracking or fresh:
            self._scroll_bottom()
        elif anchor is not None:
            self.scroll_to(y=anchor, animate=False, immediate=True, force=True)
        elif appended and not switched:
            self.new_lines += appended
        self.refresh()

    def _remap(self, old, new, cursor: int, tracking: bool) -> int:
        """Keep the cursor on the same bytes when the tail window gives way to the index."""
        if new.line_count == 0:
            return 0
        if old is None or old.line_count == 0 or tracking:
            return new.line_count - 1
        return self._same_line(old, new, cursor)

    @staticmethod
    def _same_line(old, new, line: int) -> int:
        try:
            offset = old.line_span(min(line, old.line_count - 1))[0]
            return min(new.line_at_offset(offset), new.line_count - 1)
        except (IndexError, ValueError):
            return new.line_count - 1

    # -- geometry ---------------------------------------------------------------------

    @property
    def _content_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # last row: status

    @property
    def _numbered(self) -> bool:
        """True once the rendered lines come from the index (real line numbers)."""
        return self._lines is not None and self._lines is self._doc.index

    def _gutter_width(self) -> int:
        return len(f"{self.line_count:,}") + 2 if self._numbered else 3

    def _update_virtual_size(self) -> None:
        rows = self.row_count
        extra = self._content_height if self.wrap else 1
        width = 0 if self.wrap else self._max_width + self._gutter_width()
        self.virtual_size = Size(width, rows + extra)

    def _at_bottom(self) -> bool:
        top = int(self.scroll_offset.y)
        if self.wrap:
            return top >= self._wrap_top_for_end()
        return top + self._content_height >= self.row_count

    def _row_line(self, row: int) -> int:
        return int(self._rows[row]) if self._rows is not None else row

    def _line_row(self, line: int) -> int:
        if self._rows is None:
            return line
        return min(bisect_left(self._rows, line), max(len(self._rows) - 1, 0))

    def _scroll_bottom(self) -> None:
        rows = self.row_count
        if not rows:
            return
        self.cursor = self._row_line(rows - 1)
        self.new_lines = 0
        top = max(0, rows - self._content_height) if not self.wrap else self._wrap_top_for_end()
        self.scroll_to(y=top, animate=False, immediate=True, force=True)
        # Before the first layout (or when a scrollbar appears) the height is not final yet:
        # settle again once it is.
        self.call_after_refresh(self._settle_bottom, rows, self.cursor)

    def _settle_bottom(self, rows: int, cursor: int) -> None:
        # Only if nothing moved the cursor since (a key press may come before this runs).
        if self.cursor == cursor and rows == self.row_count and not self._at_bottom():
            top = max(0, rows - self._content_height) if not self.wrap else self._wrap_top_for_end()
            self.scroll_to(y=top, animate=False, immediate=True, force=True)

    def _wrap_top_for_end(self) -> int:
        width = max(1, self.scrollable_content_region.width - self._gutter_width())
        used, row = 0, self.row_count - 1
        while row > 0:
            used += self._wrapped_height(self._row_line(row), width)
            if used > self._content_height:
                return row + 1
            row -= 1
        return 0

    def _goto_line(self, line: int) -> None:
        """Put the cursor on `line` and scroll so it is visible (centred when far)."""
        if not self.row_count:
            return
        row = self._line_row(max(0, min(line, self.line_count - 1)))
        self.cursor = self._row_line(row)
        top = int(self.scroll_offset.y)
        h = self._content_height
        if not top <= row < top + h:
            self.scroll_to(y=max(0, row - h // 2), animate=False, immediate=True, force=True)
        if self._at_bottom():
            self.new_lines = 0
        self.refresh()

    # -- rendering --------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y >= self._content_height:
            if self._lines is not None and not self._painted:
                self._painted = True  # the tail is on screen: let the index start
                self._doc.tail_shown()
            if self._remote:
                self._window.load_earlier_at_top()
            return status_strip(self, width) if y == self._content_height else Strip.blank(width)
        if self.wrap:
            return self._render_wrapped(y, width)
        row = int(self.scroll_offset.y) + y
        if row >= self.row_count:
            return Strip.blank(width, self.rich_style)
        line = self._row_line(row)
        strip, length = self._line_strip(line)
        if length > self._max_width:
            self._max_width = min(length, DISPLAY_CAP + 100)
            self.call_after_refresh(self._update_virtual_size)
        gutter = self._gutter(line)
        body = strip.crop(int(self.scroll_offset.x), int(self.scroll_offset.x) + width)
        out = Strip.join([gutter, body]).extend_cell_length(width, self.rich_style).crop(0, width)
        if line == self.cursor:
            out = out.apply_style(self.get_component_rich_style("logview--cursor"))
        return out

    def _gutter(self, line: int) -> Strip:
        gw = self._gutter_width()
        mark = "●" if line in self.marks else " "
        number = f"{line + 1:,}" if self._numbered else "~"
        style = self.get_component_rich_style("logview--gutter")
        mark_style = self.get_component_rich_style("logview--mark")
        return Strip([Segment(mark, mark_style), Segment(number.rjust(gw - 2) + " ", style)], gw)

    def _line_text(self, span: tuple[int, int]) -> Text | None:
        """The styled line; None for a remote line whose bytes are not fetched yet."""
        try:
            if self._remote:
                window = self._window.read(span)
                if window is None:
                    return None
                data, cut = window
            else:
                data, cut = read_line(self._doc.source, span, DISPLAY_CAP)
        except (OSError, ValueError, AttributeError):
            return Text("")
        plain = decode_for_display(data, cut)
        text = Text(plain, style=self.rich_style)
        level = detect_level(plain)
        if level is not None:
            name, start, end = level
            style = self.get_component_rich_style(_LEVEL_CLASSES[name])
            text.stylize(style, start, end)
            if name == "ERROR":
                text.stylize(Style(color=style.color), end, len(plain))
        if self._match_re is not None:
            match_style = self.get_component_rich_style("logview--match")
            try:  # a time budget per line: a backtracking pattern never freezes painting
                spans = finditer_text(self._match_re, plain)
            except RegexTooSlow as exc:
                self._match_re = None
                self.call_later(self._notice, str(exc))
                spans = []
            for start, end in spans:
                if end > start:
                    text.stylize(match_style, start, end)
        return text

    def _line_strip(self, line: int) -> tuple[Strip, int]:
        """The line's styled text as a strip, cached by its byte span.

        Keyed by bytes, not line number: the strips survive the switch from the tail window
        to the index (same bytes, new numbers), and a growing last line (new end) is re-read.
        """
        lines = self._lines or self._doc.lines
        try:
            if self._remote and lines is self._doc.index:
                span = self._window.span(line)  # the index may read a block to find it
                if span is None:
                    return self._window.placeholder()
            else:
                span = lines.line_span(line)
        except (IndexError, ValueError, AttributeError):
            return Strip([]), 0
        key = (span, self._generation)
        hit = self._strips.get(key)
        if hit is not None:
            self._strips.move_to_end(key)
            return hit
        text = self._line_text(span)
        if text is None:
            return self._window.placeholder()
        strip = Strip(list(text.render(self.app.console)))
        hit = (strip, strip.cell_length)
        self._strips[key] = hit
        if len(self._strips) > _STRIP_CACHE:
            self._strips.popitem(last=False)
        return hit

    def _wrapped_height(self, line: int, width: int) -> int:
        _, length = self._line_strip(line)
        return max(1, -(-length // max(1, width)))

    def _render_wrapped(self, y: int, width: int) -> Strip:
        gw = self._gutter_width()
        body_width = max(1, width - gw)
        row = int(self.scroll_offset.y)
        used = 0
        while row < self.row_count:
            line = self._row_line(row)
            strip, length = self._line_strip(line)
            height = max(1, -(-length // body_width))
            if y < used + height:
                part = y - used
                body = strip.crop(part * body_width, (part + 1) * body_width)
                gutter = self._gutter(line) if part == 0 else Strip.blank(gw)
                out = Strip.join([gutter, body]).extend_cell_length(width, self.rich_style)
                if line == self.cursor:
                    out = out.apply_style(self.get_component_rich_style("logview--cursor"))
                return out
            used += height
            row += 1
        return Strip.blank(width, self.rich_style)

    # -- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # escape only means something here while a search is active; otherwise it goes on
        # to the screen (k9s-style "back").
        if action == "clear_search":
            return self.query is not None or self.filtering
        return True

    def on_click(self, event) -> None:
        row = int(self.scroll_offset.y) + event.y
        if not self.wrap and 0 <= event.y < self._content_height and row < self.row_count:
            self.cursor = self._row_line(row)
            self.refresh()

    def action_toggle_follow(self) -> None:
        if self.follow and not self.tracking:
            self._scroll_bottom()  # paused by moving away: f resumes, like G
        else:
            self.follow = not self.follow
            if self.follow:
                self._scroll_bottom()
        self.refresh()

    def action_top(self) -> None:
        if self.row_count:
            self.cursor = self._row_line(0)
        self.scroll_to(y=0, animate=False, immediate=True, force=True)
        self.refresh()

    def action_bottom(self) -> None:
        self._update_virtual_size()
        self._scroll_bottom()
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        if not self.row_count:
            return
        row = max(0, min(self._line_row(self.cursor) + delta, self.row_count - 1))
        self._goto_line(self._row_line(row))

    def action_page(self, direction: int) -> None:
        if not self.row_count:
            return
        h = self._content_height
        row = max(0, min(self._line_row(self.cursor) + direction * h, self.row_count - 1))
        self.scroll_to(y=max(0, int(self.scroll_offset.y) + direction * h), animate=False, immediate=True, force=True)
        self._goto_line(self._row_line(row))

    def action_pan(self, delta: int) -> None:
        self.scroll_to(x=max(0, int(self.scroll_offset.x) + delta), animate=False, immediate=True, force=True)

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.scroll_to(x=0, animate=False, immediate=True, force=True)
        self._update_virtual_size()
        self._goto_line(self.cursor)
