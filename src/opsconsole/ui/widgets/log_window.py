"""RemoteWindow: the lines of a remote log around `LogView`'s viewport, fetched off the UI thread.

A remote source is never read while painting. `render_line` takes a line's bytes from this
window (or from the source's block cache); a line not there yet is drawn as "…" and a thread
worker fetches the spans and bytes of the lines one screen above and below the view. When the
worker is done the view repaints and asks again for whatever is still missing.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from rich.segment import Segment
from textual.strip import Strip

from opsconsole.logs.text import DISPLAY_CAP

if TYPE_CHECKING:
    from opsconsole.ui.widgets.log_view import LogView

_PLACEHOLDER = "…"


class RemoteWindow:
    """A remote log's line spans and bytes near the viewport of `view`, at most `size` lines of bytes."""

    def __init__(self, view: LogView, size: int) -> None:
        self._view = view
        self._size = size
        self._spans: dict[int, tuple[int, int]] = {}  # index: line -> span, filled by the worker
        self._fetched: OrderedDict[tuple[int, int], bytes] = OrderedDict()  # span -> bytes
        self._filling = False

    def switched(self, rotated: bool) -> None:
        """A new line map: its numbers name other spans; after a rotation the bytes are others too."""
        self._spans.clear()
        if rotated:
            self._fetched.clear()

    def span(self, line: int) -> tuple[int, int] | None:
        """The line's span in the index, or None while the worker has not found it yet."""
        return self._spans.get(line)

    def read(self, span: tuple[int, int]) -> tuple[bytes, int] | None:
        """The line's bytes (at most DISPLAY_CAP) and how many were cut; None if not here yet."""
        start, end = span
        data = self._fetched.get(span)
        if data is None:
            data = self._view.document.source.read_cached(start, min(end - start, DISPLAY_CAP))
        if data is None:
            return None
        return data, max(0, end - start - len(data))

    def load_earlier_at_top(self) -> None:
        """Scrolled to the top of a remote tail: load more of the log before it."""
        doc = self._view.document
        if int(self._view.scroll_offset.y) == 0:
            tail = doc.tail
            if not doc.indexed and tail is not None and not tail.at_start:
                doc.request_earlier()

    def placeholder(self) -> tuple[Strip, int]:
        """A line still on its way: ask for the window, draw "…"."""
        if not self._filling:  # one fetch at a time; the next paint asks for what is still missing
            self._filling = True
            self._view.call_later(self._start_fill)
        style = self._view.get_component_rich_style("logview--gutter")
        return Strip([Segment(_PLACEHOLDER, style)], 1), 1

    def _start_fill(self) -> None:
        """Fetch the lines around the view (one screen above and below) in a thread."""
        view = self._view
        lines = view._lines
        if lines is None or not view.row_count:
            self._filling = False
            return
        h = view._content_height
        top = int(view.scroll_offset.y)
        rows = range(max(0, top - h), min(view.row_count, top + 2 * h))
        wanted = [view._row_line(r) for r in rows]
        view.run_worker(lambda: self._fill(lines, view._generation, wanted), thread=True,
                        group="logview-fill", exit_on_error=False)

    def _fill(self, lines, generation: int, wanted: list[int]) -> None:
        """(Worker thread.) Read the spans and bytes of `wanted` lines for the window."""
        source = self._view.document.source
        spans: dict[int, tuple[int, int]] = {}
        fetched: dict[tuple[int, int], bytes] = {}
        try:
            for line in wanted:
                try:
                    span = lines.line_span(line)
                    start, end = span
                    fetched[span] = source.read(start, min(end - start, DISPLAY_CAP))
                except (IndexError, ValueError, OSError):
                    span = (0, 0)  # gone (truncated meanwhile): an empty line, not a refetch loop
                spans[line] = span
        finally:
            self._view.app.call_from_thread(self._filled, lines, generation, spans, fetched)

    def _filled(self, lines, generation: int, spans: dict[int, tuple[int, int]],
                fetched: dict[tuple[int, int], bytes]) -> None:
        view = self._view
        self._filling = False
        if lines is view._lines and generation == view._generation:
            if len(self._spans) > 4 * self._size:
                self._spans.clear()
            self._spans.update(spans)
            self._fetched.update(fetched)
            while len(self._fetched) > self._size:
                self._fetched.popitem(last=False)
        view.refresh()
