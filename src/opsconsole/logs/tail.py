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
    are relative to the window.
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
        starts, ends = array("q"), array("q")
        pos = first
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                nl = len(data)  # unterminated last line
            starts.append(start + pos)
            ends.append(start + nl)
            pos = nl + 1
        self._starts, self._ends = starts, ends

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_span(self, line: int) -> tuple[int, int]:
        return self._starts[line], self._ends[line]

    def line_at_offset(self, offset: int) -> int:
        return max(0, bisect_right(self._starts, offset) - 1)


def read_line(source: Source, span: tuple[int, int], cap: int) -> tuple[bytes, int]:
    """Bytes of a line, at most `cap` of them, and how many were cut off."""
    start, end = span
    length = end - start
    data = source.read(start, min(length, cap))
    return data, max(0, length - len(data))
