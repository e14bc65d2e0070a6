"""Where lines start: a compact line index, built block by block in the background.

The index keeps, per 1 MB block, the number of newlines before the block and the first
timestamp in it: 16 bytes per MB, about 16 KB for a 1 GB file, whatever the line count.
Exact line offsets are derived on demand by re-reading one block from the page cache and
finding its newlines with numpy (~0.2 ms), with a small LRU of such blocks for scrolling.

Line numbers are 0-based here; the viewer adds 1 for display. A last line without a
trailing newline is a line (it may still be growing).
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from typing import Callable

import numpy as np

from .levels import parse_timestamp
from .source import Source

BLOCK_SIZE = 1 << 20
_BLOCK_CACHE = 24


class LineIndex:
    """Newline counts per block, extended by one writer thread, read from any thread.

    `extend()` is called by the indexing/follow thread; everything else may be called from
    the UI thread and costs at most one block read.
    """

    def __init__(self, source: Source, block_size: int = BLOCK_SIZE) -> None:
        self.source = source
        self.block_size = block_size
        self._lock = threading.Lock()
        self._cum = array("q")  # newlines before each block
        self._ts = array("d")  # first timestamp in each block (nan: none found)
        self._newlines = 0
        self._end = 0  # bytes indexed
        self._last_nl = -1  # offset of the last newline seen
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cum_view: np.ndarray = np.empty(0, dtype=np.int64)
        self._buf = bytearray(block_size)

    # -- building ---------------------------------------------------------------------

    @property
    def indexed_bytes(self) -> int:
        """How many bytes from the start have been indexed."""
        return self._end

    def extend(self, limit: int, should_stop: Callable[[], bool] = lambda: False,
               progress: Callable[[int], None] | None = None,
               on_advance: Callable[[int, int], None] | None = None) -> int:
        """Index from where we stopped up to byte `limit`; returns the new indexed end.

        Reads block-aligned so a block's count is final once the block is full; a partial
        last block is topped up on the next call. `on_advance(lines, end)` is called with the
        change in `line_count` and the new indexed end *while the index lock is held*, i.e.
        atomically with publishing them: a reader that sees the new `line_count` (from any
        thread) is guaranteed that `on_advance` has already accounted for those lines.
        """
        bs = self.block_size
        view = memoryview(self._buf)
        arr = np.frombuffer(self._buf, dtype=np.uint8)
        while self._end < limit and not should_stop():
            block = self._end // bs
            block_start = block * bs
            want = min(limit, block_start + bs) - self._end
            n = self._read_into(view[:want], self._end)
            if n <= 0:
                break
            count = int(np.count_nonzero(arr[:n] == 10))
            last = self._buf.rfind(b"\n", 0, n)
            with self._lock:
                before = self._line_count_locked()
                if block == len(self._cum):
                    self._cum.append(self._newlines)
                    self._ts.append(float("nan"))
                self._newlines += count
                if last >= 0:
                    self._last_nl = self._end + last
                self._end += n
                if on_advance is not None:
                    on_advance(self._line_count_locked() - before, self._end)
            if self._ts[block] != self._ts[block]:  # nan: look for the block's first stamp
                self._ts[block] = self._first_timestamp(block)
            if progress is not None:
                progress(self._end)
        return self._end

    def _read_into(self, view: memoryview, offset: int) -> int:
        read_into = getattr(self.source, "read_into", None)
        if read_into is not None:
            return read_into(view, offset)
        data = self.source.read(offset, len(view))
        view[: len(data)] = data
        return len(data)

    def _first_timestamp(self, block: int) -> float:
        start = block * self.block_size
        head = self.source.read(start, 8192)
        if start > 0:  # skip the line that began in the previous block
            nl = head.find(b"\n")
            head = head[nl + 1 :] if nl >= 0 else b""
        for line in head.split(b"\n")[:20]:
            ts = parse_timestamp(line)
            if ts is not None:
                return ts
        return float("nan")

    # -- queries ----------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        """Lines indexed so far, counting an unterminated last line."""
        with self._lock:
            return self._line_count_locked()

    def _line_count_locked(self) -> int:
        partial = 1 if self._end > self._last_nl + 1 else 0
        return self._newlines + partial

    @property
    def newline_count(self) -> int:
        return self._newlines

    def block_newlines(self, block: int) -> np.ndarray:
        """Absolute offsets of the newlines in `block` (indexed part only), cached."""
        bs = self.block_size
        start = block * bs
        end = min(start + bs, self._end)
        key = (block, end)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        data = self.source.read(start, max(0, end - start))
        offsets = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10).astype(np.int64)
        offsets += start
        with self._cache_lock:
            self._cache[key] = offsets
            while len(self._cache) > _BLOCK_CACHE:
                self._cache.popitem(last=False)
        return offsets

    def _cum_array(self) -> np.ndarray:
        """Newlines-before-block as numpy, copied only when a block was added (once per MB)."""
        view = self._cum_view
        if len(view) != len(self._cum):
            with self._lock:
                view = np.frombuffer(self._cum, dtype=np.int64).copy()
            self._cum_view = view
        return view

    def newline_offset(self, k: int) -> int:
        """Byte offset of the k-th newline (0-based)."""
        cum = self._cum_array()
        block = int(np.searchsorted(cum, k, side="right")) - 1
        while True:
            offsets = self.block_newlines(block)
            i = k - int(cum[block])
            if i < 0:  # the file changed under the index (truncated); the follower resets it
                raise IndexError(k)
            if i < len(offsets):
                return int(offsets[i])
            block += 1  # blocks with no newline at all (inside a huge line)
            if block >= len(cum):
                raise IndexError(k)

    def line_span(self, line: int) -> tuple[int, int]:
        """(start, end) of `line`, end excluding the newline (and any CR is kept)."""
        if line < 0 or line >= self.line_count:
            raise IndexError(line)
        start = 0 if line == 0 else self.newline_offset(line - 1) + 1
        end = self.newline_offset(line) if line < self._newlines else self._end
        return start, end

    def line_at_offset(self, offset: int) -> int:
        """Line containing byte `offset` (the newlines strictly before it)."""
        return int(self.lines_at_offsets(np.array([offset], dtype=np.int64))[0])

    def lines_at_offsets(self, offsets: np.ndarray) -> np.ndarray:
        """Vectorised `line_at_offset` for ascending offsets within the indexed part."""
        offsets = np.asarray(offsets, dtype=np.int64)
        out = np.empty(len(offsets), dtype=np.int64)
        cum = self._cum_array()
        if len(cum) == 0:
            out[:] = 0
            return out
        blocks = np.minimum(offsets // self.block_size, len(cum) - 1)
        # offsets are ascending, so each block's offsets are one contiguous run
        starts = np.flatnonzero(np.concatenate(([True], blocks[1:] != blocks[:-1])))
        ends = np.append(starts[1:], len(offsets))
        for a, b in zip(starts.tolist(), ends.tolist()):
            block = int(blocks[a])
            nl = self.block_newlines(block)
            out[a:b] = cum[block] + np.searchsorted(nl, offsets[a:b], side="left")
        return out

    def block_timestamps(self) -> np.ndarray:
        """First timestamp per block (nan where none), for jump-to-time."""
        with self._lock:
            return np.frombuffer(self._ts, dtype=np.float64).copy()

    def line_at_time(self, when: float) -> int | None:
        """First line whose timestamp is >= `when`, by binary search over blocks then a short scan."""
        ts = self.block_timestamps()
        valid = np.flatnonzero(~np.isnan(ts))
        if len(valid) == 0:
            return None
        stamps = ts[valid]
        # Start from the last block that begins before `when` (logs are nearly sorted).
        i = int(np.searchsorted(stamps, when, side="left")) - 1
        block = int(valid[max(i, 0)])
        start = block * self.block_size
        line = self.line_at_offset(start) if start else 0
        count = self.line_count
        scanned = 0
        while line < count and scanned < 200_000:
            s, e = self.line_span(line)
            t = parse_timestamp(self.source.read(s, min(e - s, 200)))
            if t is not None and t >= when:
                return line
            line += 1
            scanned += 1
        return count - 1 if count else None
