"""Searching a log: which lines match, streamed in as the scan proceeds, cancellable.

The scanner is ripgrep when it is installed (it reads a GB in a fraction of a second);
otherwise a chunked Python scan. A regex ripgrep cannot run (lookarounds, backreferences) or
a search without ripgrep uses the `regex` module in the search thread: it releases the GIL
while matching and gives up after a time budget per block (RegexTooSlow → `error`), so a
catastrophic pattern never freezes the UI, and `cancel()` takes effect at the next block.
Both produce byte offsets of matches, which the line index
turns into line numbers. Results are a sorted numpy array of line numbers (4 bytes per
matching line), used for next/previous and as the filter's list of lines to show.
Lines appended while following are scanned in Python by `Search.extend()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from typing import Callable

import numpy as np

from .index import LineIndex
from .query import Query, RegexTooSlow, search_bytes

_CHUNK = 1 << 20  # small enough that read, fold and compare stay in the L2 cache
_NONE = np.empty(0, dtype=np.int64)
_UINT32_LIMIT = 2**32
_NOTIFY_EVERY = 0.05
_REGEX_WINDOW = 64 << 10  # bytes one Python-engine search call covers (then its budget renews)


def ripgrep_path() -> str | None:
    """Path of `rg` if installed (OPSCONSOLE_NO_RG=1 forces the Python scanner)."""
    if os.environ.get("OPSCONSOLE_NO_RG"):
        return None
    return shutil.which("rg")


class Search:
    """One running (or finished) search over a `LineIndex`.

    `on_update` is called from the search thread, at most every 50 ms plus once at the
    first hit and once at the end; it should only schedule work on the UI side.
    """

    def __init__(self, index: LineIndex, query: Query, *, use_rg: bool | None = None,
                 on_update: Callable[[], None] | None = None) -> None:
        self.index = index
        self.query = query
        self.pattern = query.compile()  # raises early for a bad regex, on the caller's thread
        # rg reads files by path: only sources with a local file (a remote source has none).
        self._local = getattr(index.source, "path", None)
        self._rg = ripgrep_path() if use_rg in (None, True) and self._local is not None else None
        if use_rg and self._rg is None:
            raise RuntimeError("ripgrep (rg) is not installed or the source is not a local file")
        self._on_update = on_update or (lambda: None)
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        # 4 bytes per matching line; widened to int64 should a file ever pass 2**32 lines
        self._merged = np.empty(0, dtype=np.uint32)
        self._count = 0
        self._last_line = -1
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._last_notify = 0.0
        self._end = 0  # bytes covered so far
        self._pending_end = 0  # appended while the main scan ran
        self.scanned = 0
        self.error: str | None = None
        self.scanner = "rg" if self._rg else "python"
        self._thread = threading.Thread(target=self._run, name="log-search", daemon=True)

    # -- lifecycle --------------------------------------------------------------------

    def start(self, end: int) -> "Search":
        """Scan bytes [0, end) in the background; appended bytes come through `extend()`."""
        self._end = end
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop scanning soon; results found so far stay available."""
        self._cancel.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the scan finished (for tests and headless use)."""
        return self._done.wait(timeout)

    # -- results ----------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Matching lines found so far."""
        return self._count

    def lines(self) -> np.ndarray:
        """Sorted unique line numbers that match, so far (uint32, or int64 past 2**32 lines)."""
        with self._lock:
            if self._chunks:
                self._merged = np.concatenate([self._merged, *self._chunks])
                self._chunks = []
            return self._merged

    def next_after(self, line: int) -> int | None:
        """First matching line strictly after `line`, wrapping around to the first."""
        lines = self.lines()
        if not len(lines):
            return None
        i = int(np.searchsorted(lines, line, side="right"))
        return int(lines[i % len(lines)])

    def previous_before(self, line: int) -> int | None:
        """Last matching line strictly before `line`, wrapping around to the last."""
        lines = self.lines()
        if not len(lines):
            return None
        i = int(np.searchsorted(lines, line, side="left")) - 1
        return int(lines[i % len(lines)])

    def _add(self, line_numbers: np.ndarray, force: bool = False) -> None:
        # Batches arrive in file order (sorted), so duplicates are adjacent, and only a line
        # straddling two batches can repeat across them.
        uniq = line_numbers
        if len(uniq) > 1:
            uniq = uniq[np.concatenate(([True], uniq[1:] != uniq[:-1]))]
        with self._lock:
            uniq = uniq[uniq > self._last_line]
            first = self._count == 0 and len(uniq) > 0
            if len(uniq):
                if uniq[-1] >= _UINT32_LIMIT and self._merged.dtype == np.uint32:
                    self._merged = np.concatenate([self._merged, *self._chunks]).astype(np.int64)
                    self._chunks = []
                self._chunks.append(uniq.astype(self._merged.dtype))
                self._count += len(uniq)
                self._last_line = int(uniq[-1])
        now = time.monotonic()
        if force or first or now - self._last_notify >= _NOTIFY_EVERY:
            self._last_notify = now
            self._on_update()

    # -- scanning ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._rg:
                self._scan_rg()
            else:
                self._scan_python(0, self._end)
            # Lines appended while the main scan ran were left for us (see extend()).
            while not self._cancel.is_set():
                with self._lock:
                    pending = self._pending_end
                    if pending <= self._end:
                        self._done.set()
                        break
                self._scan_appended(pending)
        except RegexTooSlow as exc:
            self.error = str(exc)
        except Exception as exc:  # a search must never take the viewer down
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._done.set()
            self._on_update()

    def _wait_indexed(self, offset: int) -> bool:
        """Offsets map to lines only once the index covers them; the index runs ahead of us."""
        while self.index.indexed_bytes <= offset and not self._cancel.is_set():
            time.sleep(0.005)
        return not self._cancel.is_set()

    def _map(self, offsets: np.ndarray) -> None:
        offsets = offsets[offsets < self._end]
        if not len(offsets):
            return
        if not self._wait_indexed(int(offsets[-1])):
            return
        self._add(self.index.lines_at_offsets(offsets))

    def _scan_rg(self) -> None:
        q = self.query
        assert self._rg is not None
        args = [self._rg, "--no-config", "--text", "--byte-offset", "--only-matching",
                "--replace", "", "--no-filename", "--no-line-number", "--color", "never",
                "--case-sensitive" if q.case_sensitive else "--ignore-case"]
        if not q.regex:
            args.append("--fixed-strings")
        args += ["--regexp", q.pattern, "--", str(self._local)]
        self._proc = proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             bufsize=0)
        carry = b""
        assert proc.stdout is not None
        while not self._cancel.is_set():
            data = proc.stdout.read(1 << 18)  # parsing a batch holds the GIL: keep it ~3 ms
            if not data:
                break
            data = carry + data
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if cut:
                offsets = np.array(data[:cut].replace(b":", b"").split(), dtype=np.int64)
                self.scanned = int(offsets[-1]) if len(offsets) else self.scanned
                self._map(offsets)
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        code = proc.wait()
        if proc.stderr:
            proc.stderr.close()
        if code == 2 and not self._cancel.is_set():
            if self._count == 0:
                # Python-only syntax (lookarounds, backreferences): rg refuses, Python can.
                self.scanner = "python"
                self._scan_python(0, self._end)
                return
            self.error = err or "ripgrep failed"
        self.scanned = self._end

    def _read_chunks(self, start: int, end: int, fold: bool):
        """Yield (offset, length, buf, folded) for line-aligned chunks of [start, end).

        One buffer (two when folding) is reused for the whole scan. With `fold`, `folded`
        holds the chunk with 0x20 OR-ed into every byte: A-Z become a-z (and a few
        punctuation bytes collide, which the caller's confirmation step sorts out).
        """
        buf = bytearray(_CHUNK)
        arr = np.frombuffer(buf, dtype=np.uint8)
        folded = bytearray(_CHUNK) if fold else None
        farr = np.frombuffer(folded, dtype=np.uint8) if folded is not None else None
        view = memoryview(buf)
        pos = start
        while pos < end and not self._cancel.is_set():
            n = self.index._read_into(view[: min(_CHUNK, end - pos)], pos)
            if n <= 0:
                break
            limit = n
            if pos + n < end:
                cut = buf.rfind(b"\n", 0, n) + 1
                if cut:
                    limit = cut  # keep lines whole; a line longer than a chunk is split
            if farr is not None:
                np.bitwise_or(arr[:limit], 0x20, out=farr[:limit])
            yield pos, limit, buf, folded
            pos += limit

    def _scan_python(self, start: int, end: int) -> None:
        """Chunked scan of [start, end) without ripgrep: numpy for literals, re for regexes."""
        if self.query.regex:
            self._scan_regex(start, end)
            return
        literal = self.query.pattern.encode()
        fold = not self.query.case_sensitive
        needle: np.ndarray = np.frombuffer(literal, dtype=np.uint8)
        if fold:
            needle = needle | 0x20
        want = np.frombuffer(literal.lower(), dtype=np.uint8)
        order: np.ndarray | None = None
        for pos, limit, buf, folded in self._read_chunks(start, end, fold):
            hay = np.frombuffer(folded if fold else buf, dtype=np.uint8)[:limit]
            if order is None:
                order = _rarest_first(hay, needle)
            hits = _find_all(hay, needle, order)
            if fold and len(hits):  # confirm against the real bytes (see _read_chunks)
                hits = _confirm_folded(np.frombuffer(buf, dtype=np.uint8), hits, want)
            self.scanned = pos + limit
            self._map(hits.astype(np.int64) + pos) if len(hits) else self._add(_NONE)

    def _scan_regex(self, start: int, end: int) -> None:
        """Each search call covers a line-aligned window of ~64 KB under its own CPU budget, so
        `cancel()` is noticed between windows and a backtracking pattern is stopped early."""
        for pos, limit, buf, _ in self._read_chunks(start, end, False):
            found = []
            i = 0
            while i < limit and not self._cancel.is_set():
                cut = buf.find(b"\n", min(i + _REGEX_WINDOW, limit), limit)
                stop = limit if cut < 0 else cut + 1
                m = search_bytes(self.pattern, buf, i, stop)
                if m is None:
                    i = stop
                    continue
                found.append(pos + m.start())
                # one hit per line is enough: skip to the next line
                nl = buf.find(b"\n", max(m.start(), m.end() - 1), limit)
                if nl < 0:
                    break
                i = nl + 1
            self.scanned = pos + limit
            self._map(np.array(found, dtype=np.int64)) if found else self._add(_NONE)

    def extend(self, new_end: int) -> None:
        """Scan lines appended since the last scan (called by the follow thread).

        While the main scan runs, only remember the new end: the search thread scans it
        when the main scan is done, so following never waits for a whole-file search.
        """
        with self._lock:
            if not self._done.is_set():
                self._pending_end = max(self._pending_end, new_end)
                return
        try:
            self._scan_appended(new_end)
        except RegexTooSlow as exc:  # the follow thread calls us: stop searching, never following
            self.error = str(exc)
            self._cancel.set()
        self._on_update()

    def _scan_appended(self, new_end: int) -> None:
        old = self._end
        if new_end <= old or self._cancel.is_set():
            return
        # Rescan from the start of the line containing `old`: it may have been partial.
        start = self.index.line_span(self.index.line_at_offset(max(old - 1, 0)))[0] if old else 0
        self._end = new_end
        self._scan_python(start, new_end)


def _rarest_first(sample: np.ndarray, needle: np.ndarray) -> np.ndarray:
    """Needle positions ordered by how rare their byte is in `sample` (the first chunk)."""
    counts = np.bincount(sample, minlength=256)
    return np.argsort(counts[needle], kind="stable")


def _find_all(hay: np.ndarray, needle: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Start offsets of every occurrence of `needle` in `hay`, vectorised.

    Candidates come from the needle's rarest byte (one pass over the chunk, GIL released),
    then are narrowed by comparing the other needle bytes at the candidate positions only.
    bytes.find would hold the GIL and runs at about a third of this speed.
    """
    length = len(needle)
    if length == 0 or len(hay) < length:
        return _NONE
    anchor = int(order[0])
    pos = np.flatnonzero(hay == needle[anchor]) - anchor
    pos = pos[(pos >= 0) & (pos <= len(hay) - length)]
    for k in order[1:]:
        if not len(pos):
            break
        pos = pos[hay[pos + int(k)] == needle[int(k)]]
    return pos


def _confirm_folded(raw: np.ndarray, pos: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Keep candidates whose real bytes, ASCII-lower-cased, equal `want` (already lower)."""
    for k, expected in enumerate(want.tolist()):
        if not len(pos):
            break
        got = raw[pos + k]
        lowered = np.where((got >= 65) & (got <= 90), got | 0x20, got)
        pos = pos[lowered == expected]
    return pos
