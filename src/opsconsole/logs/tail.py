"""The tail window painted before any indexing, and reading one line's bytes.

Deliberately free of numpy: this is on the path from process start to the first screen,
and importing numpy costs ~0.1 s there. The index (numpy) is imported after the tail shows.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Protocol

from .source import Source

TAIL_BYTES = 256 * 1024


class LineMap(Protocol):
    """What the viewer needs: how many lines, and the byte span of each."""

    @property
    def line_count(self) -> int: ...

    def line_span(self, line: int) -> tuple[int, int]:
        """(start, end) byte offsets of `line`, end excluding the newline."""
        ...

    def line_at_offset(self, offset: int) -> int:
        """The line containing byte `offset`."""
        ...


class TailWindow:
    """The last `nbytes` of a source split into lines.

    The first, probably partial, line of the window is dropped unless the window starts at
    byte 0 (or holds no newline at all: then it is the end of one huge line). Line numbers
    are relative to the window. A window is never changed: `grown()` and `earlier()` return
    a new one (a remote log that is not indexed is followed and scrolled back that way).
    """

    def __init__(self, source: Source, nbytes: int = TAIL_BYTES, size: int | None = None) -> None:
        self.source = source
        size = source.size() if size is None else size
        start = max(0, size - nbytes)
        data = source.read(start, size - start)
        first = 0
        if start > 0:
            nl = data.find(b"\n")
            first = nl + 1 if 0 <= nl < len(data) - 1 else 0
        self.first_offset = start + first
        self.end = start + len(data)
        self._starts, self._ends = array("q"), array("q")
        _split(data, start, first, self._starts, self._ends)

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_span(self, line: int) -> tuple[int, int]:
        return self._starts[line], self._ends[line]

    def line_at_offset(self, offset: int) -> int:
        return max(0, bisect_right(self._starts, offset) - 1)

    def _copy(self) -> "TailWindow":
        new = object.__new__(TailWindow)
        new.source, new.first_offset, new.end = self.source, self.first_offset, self.end
        new._starts, new._ends = array("q", self._starts), array("q", self._ends)
        return new

    def grown(self, size: int) -> "TailWindow":
        """This window extended to byte `size` (bytes appended since); the last line is re-read
        if it had no newline yet."""
        new = self._copy()
        scan = self.end
        if new._starts and new._ends[-1] == self.end:  # unterminated last line: it may go on
            scan = new._starts.pop()
            new._ends.pop()
        data = self.source.read(scan, max(0, size - scan))
        _split(data, scan, 0, new._starts, new._ends)
        new.end = scan + len(data)
        return new

    def earlier(self, nbytes: int) -> "TailWindow":
        """This window extended `nbytes` towards the start of the source (line numbers shift)."""
        if self.first_offset <= 0:
            return self
        start = max(0, self.first_offset - nbytes)
        data = self.source.read(start, self.first_offset - start)
        first = 0
        if start > 0:
            nl = data.find(b"\n")
            first = nl + 1 if nl >= 0 else 0  # no newline: all of it is the old first line
        new = object.__new__(TailWindow)
        new.source, new.end = self.source, self.end
        new.first_offset = start + first
        new._starts, new._ends = array("q"), array("q")
        _split(data, start, first, new._starts, new._ends)
        starts = array("q", self._starts)
        if new._ends and new._ends[-1] == start + len(data):  # the old first line began earlier
            joined = new._starts.pop()
            new._ends.pop()
            if starts:
                starts[0] = joined
        new._starts.extend(starts)
        new._ends.extend(self._ends)
        if new._starts:
            new.first_offset = new._starts[0]
        return new

    @property
    def at_start(self) -> bool:
        """The window begins at byte 0 (nothing earlier to load)."""
        return self.first_offset == 0


def _split(data: bytes, base: int, pos: int, starts: array, ends: array) -> None:
    """Append the spans of the lines of `data[pos:]` (at `base` in the source) to starts/ends."""
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = len(data)  # unterminated last line
        starts.append(base + pos)
        ends.append(base + nl)
        pos = nl + 1


def read_line(source: Source, span: tuple[int, int], cap: int) -> tuple[bytes, int]:
    """Bytes of a line, at most `cap` of them, and how many were cut off."""
    start, end = span
    length = end - start
    data = source.read(start, min(length, cap))
    return data, max(0, length - len(data))
