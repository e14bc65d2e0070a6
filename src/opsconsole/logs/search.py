"""Searching a log: which lines match, streamed in as the scan proceeds, cancellable.

The scanner is ripgrep when it is installed (it reads a GB in a fraction of a second);
otherwise a chunked Python scan. Both produce byte offsets of matches, which the line index
turns into line numbers. Results are a sorted numpy array of line numbers (8 bytes per
matching line), used for next/previous and as the filter's list of lines to show.
Lines appended while following are scanned in Python by `Search.extend()`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from typing import Callable

import numpy as np

from .index import LineIndex
from .query import Query

_CHUNK = 4 << 20
_NOTIFY_EVERY = 0.05


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
        self._rg = ripgrep_path() if use_rg in (None, True) else None
        if use_rg and self._rg is None:
            raise RuntimeError("ripgrep (rg) is not installed")
        self._on_update = on_update or (lambda: None)
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._merged = np.empty(0, dtype=np.int64)
        self._count = 0
        self._last_line = -1
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._last_notify = 0.0
        self._end = 0  # bytes covered by the main scan
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
        """Sorted unique line numbers that match, so far."""
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
        # Batches arrive in file order, so only a line straddling two batches can repeat.
        uniq = np.unique(line_numbers)
        with self._lock:
            uniq = uniq[uniq > self._last_line]
            first = self._count == 0 and len(uniq) > 0
            if len(uniq):
                self._chunks.append(uniq)
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
        args = [self._rg, "--no-config", "--text", "--byte-offset", "--only-matching",
                "--replace", "", "--no-filename", "--no-line-number", "--color", "never",
                "--line-buffered", "--case-sensitive" if q.case_sensitive else "--ignore-case"]
        if not q.regex:
            args.append("--fixed-strings")
        args += ["--regexp", q.pattern, "--", str(self.index.source.name)]
        self._proc = proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             bufsize=0)
        carry = b""
        assert proc.stdout is not None
        while not self._cancel.is_set():
            data = proc.stdout.read(1 << 16)
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
            self.error = err or "ripgrep failed"
        self.scanned = self._end

    def _scan_python(self, start: int, end: int) -> None:
        """Chunked scan: line-aligned 4 MB chunks read into one reused buffer."""
        source = self.index.source
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        literal = None if self.query.regex else self.query.pattern.encode()
        fold = literal is not None and not self.query.case_sensitive
        if fold:
            # Case-insensitive literal without lower()-ing every chunk: OR-ing 0x20 into every
            # byte (numpy, ~4x faster) folds A-Z onto a-z and maps a few punctuation bytes
            # together, so hits are candidates, confirmed below against the real bytes.
            folded = bytearray(_CHUNK)
            farr = np.frombuffer(folded, dtype=np.uint8)
            arr = np.frombuffer(buf, dtype=np.uint8)
            needle = (np.frombuffer(literal, dtype=np.uint8) | 0x20).tobytes()
            want = literal.lower()
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
            hay = buf
            if fold:
                np.bitwise_or(arr[:limit], 0x20, out=farr[:limit])
                hay = folded
            found = []
            i = 0
            while i < limit:
                if literal is not None:
                    j = hay.find(needle if fold else literal, i, limit)
                    if j < 0:
                        break
                    if fold and buf[j : j + len(want)].lower() != want:
                        i = j + 1
                        continue
                    stop = j + max(len(literal), 1)
                else:
                    m = self.pattern.search(buf, i, limit)
                    if m is None:
                        break
                    j, stop = m.start(), max(m.end(), m.start() + 1)
                found.append(pos + j)
                nl = buf.find(b"\n", min(stop, limit) if stop > j else j, limit)
                if nl < 0:
                    break
                i = nl + 1
            pos += limit
            self.scanned = pos
            if found:
                self._map(np.array(found, dtype=np.int64))
            else:
                self._add(np.empty(0, dtype=np.int64))

    def extend(self, new_end: int) -> None:
        """Scan lines appended since the last scan (called by the follow thread)."""
        old = self._end
        if new_end <= old or self._cancel.is_set():
            return
        if not self._done.is_set():
            # The main scan dropped offsets >= old; rescanning from the start of the line
            # containing `old` once it is done keeps a growing last line correct.
            self._done.wait()
        start = self.index.line_span(self.index.line_at_offset(max(old - 1, 0)))[0] if old else 0
        self._end = new_end
        self._scan_python(start, new_end)
        self._on_update()
