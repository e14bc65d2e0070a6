"""A log being read: tail first, then the index in the background, then following growth.

`LogDocument` is what a viewer holds. One background thread per document does, in order:
read the tail window (so the first screen is painted before any indexing), index the whole
file, then poll the source every few tens of ms, indexing appended bytes in one batch per
poll however many lines arrived, and resetting on truncation or rotation. The viewer is
told through one coalesced callback; it then reads the document's state on its own thread.

A remote source (`source.remote`, e.g. a `RangedSource`) is not indexed unless asked
(`request_index()`: a search or a jump needs it), since that would transfer the whole
object: its tail window is followed by extending it (`TailWindow.grown`) and scrolled back
on request (`request_earlier()`). A complete source (a finished stream) is polled once more
for its last bytes and then no more (`finished`).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

from typing import TYPE_CHECKING

from .query import Query
from .ref import open_ref
from .source import Change, Source
from .tail import TAIL_BYTES, LineMap, TailWindow

if TYPE_CHECKING:  # numpy-backed; imported in the thread once the tail is on screen
    from .index import LineIndex
    from .ref import LogRef
    from .search import Search

POLL_INTERVAL = 0.03
_PROGRESS_EVERY = 0.1
_FINGERPRINT = 64


class LogDocument:
    """Source + tail window + line index + follow loop + the active search.

    With `paint_first`, indexing waits (up to 0.5 s) for `tail_shown()` so the first screen
    gets the CPU. `on_change` is called from the background thread when something changed and the
    previous call has been acknowledged with `take_changes()`: bursts coalesce into one
    call. All public attributes are safe to read from another thread.
    """

    def __init__(self, path: "str | os.PathLike | LogRef | None" = None, *, source: Source | None = None,
                 on_change: Callable[[], None] | None = None,
                 poll_interval: float = POLL_INTERVAL, tail_bytes: int = TAIL_BYTES,
                 use_rg: bool | None = None, paint_first: bool = False) -> None:
        self.path = path
        self._source = source
        self._on_change = on_change or (lambda: None)
        self.poll_interval = poll_interval
        self.tail_bytes = tail_bytes
        self.use_rg = use_rg
        self.source: Source | None = source
        self.index: LineIndex | None = None
        self.tail: TailWindow | None = None
        self.indexed = False  # the whole file (as of the last poll) is indexed
        self.size = 0
        self.generation = 0  # bumped when the file was replaced or truncated
        self.event: str | None = None  # last notable event: "truncated", "rotated", "deleted"
        self.error: str | None = None
        self.search: Search | None = None
        self.remote = False  # the source is remote: indexed only on request
        self.finished = False  # the source is complete and its last bytes are in: no more polling
        self.polls = 0  # source checks so far (a finished document stops counting)
        self._stop = threading.Event()
        self._wake = threading.Event()  # a request (index, earlier lines) or close
        self._index_wanted = threading.Event()
        self._earlier_wanted = 0  # bytes more of tail window asked for
        self._tail_ready = threading.Event()
        self._tail_shown = threading.Event()
        if not paint_first:  # no viewer waiting to paint: index straight away
            self._tail_shown.set()
        self._lock = threading.Lock()
        self._pending = False
        self._new_lines = 0  # lines appended (and visible in the index) not yet taken
        self._unseen = False  # the index grew since the last take_changes()
        self._fingerprint = b""
        self._last_progress = 0.0
        self._thread = threading.Thread(target=self._run, name="log-follow", daemon=True)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> "LogDocument":
        """Start the background thread (tail, index, follow)."""
        self._thread.start()
        return self

    def close(self, wait: bool = False) -> None:
        """Stop the thread and any search; the source is closed by whoever finishes last.

        Does not block unless `wait` (the viewer calls this on unmount, on the UI thread).
        """
        self._stop.set()
        self._tail_shown.set()
        self._wake.set()
        if self.search is not None:
            self.search.cancel()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            if not wait:
                return  # the thread closes the source on its way out
            self._thread.join(timeout=5)
        if self.source is not None:
            self.source.close()

    # -- what the viewer reads --------------------------------------------------------

    @property
    def lines(self) -> LineMap | None:
        """The index once complete, the tail window before that, None before anything."""
        if self.indexed and self.index is not None:
            return self.index
        return self.tail

    @property
    def progress(self) -> float:
        """Fraction of the file indexed (1.0 when done)."""
        if self.indexed:
            return 1.0
        if self.index is None or not self.size:
            return 0.0
        return min(1.0, self.index.indexed_bytes / self.size)

    @property
    def index_wanted(self) -> bool:
        """The whole source is (being) indexed: always for a local one, on request for a remote one."""
        return not self.remote or self._index_wanted.is_set()

    def request_index(self) -> None:
        """Index the whole source (a remote one transfers it all), in the background thread."""
        if not self._index_wanted.is_set():
            self._index_wanted.set()
            self._wake.set()

    def request_earlier(self, nbytes: int | None = None) -> None:
        """Before the index exists: extend the tail window `nbytes` (default: the tail size) back."""
        if self.indexed:
            return
        self._earlier_wanted = max(self._earlier_wanted, nbytes or self.tail_bytes)
        self._wake.set()

    def wait_tail(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the first tail window (or an error); True if there is one."""
        self._tail_ready.wait(timeout)
        return self.tail is not None

    def tail_shown(self) -> None:
        """The viewer painted the tail window: indexing may start competing for the CPU."""
        self._tail_shown.set()

    def take_changes(self) -> int:
        """Acknowledge the last notification; returns lines appended since the previous one."""
        with self._lock:
            self._pending = False
            self._unseen = False
            n, self._new_lines = self._new_lines, 0
        return n

    def _notify(self, new_lines: int = 0) -> None:
        with self._lock:
            self._new_lines += new_lines
            if self._pending:
                return
            self._pending = True
        self._on_change()

    def _appended(self, lines: int, end: int) -> None:
        """`LineIndex.extend` hook, run under the index lock as each appended block is published.

        Counting here rather than after `extend()` returns closes the window in which another
        thread could already see the new lines in `index.line_count` while `take_changes()`
        did not count them yet (they would then be reported late, in a second callback).
        """
        with self._lock:
            self._new_lines += lines
            self._unseen = True
            self.size = end

    def _notify_growth(self) -> None:
        """Call back for appended bytes, unless a `take_changes()` already covered all of them."""
        with self._lock:
            if self._pending or not self._unseen:
                return
            self._pending = True
        self._on_change()

    # -- search -----------------------------------------------------------------------

    def start_search(self, query: Query, on_update: Callable[[], None] | None = None) -> Search:
        """Cancel any running search and start `query` over the indexed part (re.error if bad)."""
        from .search import Search

        self.cancel_search()
        index = self.index
        if index is None:
            raise RuntimeError("not indexed yet")
        search = Search(index, query, use_rg=self.use_rg, on_update=on_update or self._notify)
        self.search = search
        return search.start(max(index.indexed_bytes, 0) if self.indexed else self.size)

    def cancel_search(self) -> None:
        """Stop and forget the active search."""
        search, self.search = self.search, None
        if search is not None:
            search.cancel()

    # -- the background thread --------------------------------------------------------

    def _run(self) -> None:
        try:
            if self.source is None:
                assert self.path is not None  # a document has a path or a source
                self.source = open_ref(self.path)
            self.remote = bool(getattr(self.source, "remote", False))
            self._load()
            self._follow()
        except Exception as exc:  # reported in the status line, never raised into the UI
            from .source import UnsupportedSource

            self.error = str(exc) if isinstance(exc, UnsupportedSource) else f"{type(exc).__name__}: {exc}"
            self._notify()
        finally:
            self._tail_ready.set()
            if self._stop.is_set() and self.source is not None:
                self.source.close()

    def _load(self) -> None:
        """Tail window, then the full index, of the current source."""
        source = self.source
        assert source is not None
        self.size = source.size()
        self.tail = TailWindow(source, self.tail_bytes, self.size)
        self._tail_ready.set()
        self._notify()
        if self.index_wanted:
            self._build_index()

    def _build_index(self) -> None:
        """The full index of the current source, up to its size now."""
        source = self.source
        assert source is not None
        # Paint before indexing: the first screen should not share the CPU (or the GIL) with
        # the index or the numpy import (paint_first=True: the viewer calls tail_shown()).
        self._tail_shown.wait(0.5)
        from .index import LineIndex

        index = LineIndex(source)
        self.index = index
        index.extend(self.size, self._stop.is_set, self._progress)
        self.indexed = True
        self._fingerprint = self._read_fingerprint(index.indexed_bytes)
        self._notify()

    def _progress(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last_progress >= _PROGRESS_EVERY:
            self._last_progress = now
            self._notify()

    def _read_fingerprint(self, end: int) -> bytes:
        assert self.source is not None
        return self.source.read(max(0, end - _FINGERPRINT), min(end, _FINGERPRINT))

    def _reset(self, event: str, reopen: bool) -> None:
        assert self.source is not None
        query = self.search.query if self.search is not None else None
        self.cancel_search()
        if reopen:
            self.source.reopen()
        self.indexed = False
        self.event = event
        self.generation += 1
        self._load()
        if query is not None:
            self.start_search(query)

    def _follow(self) -> None:
        source = self.source
        assert source is not None
        while not self._stop.is_set():
            # A finished source waits for requests only; others are polled every interval.
            self._wake.wait(None if self.finished else self.poll_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._serve_requests()
                if self.finished:
                    continue
                complete = source.complete  # read before the check: its bytes are all written
                self._poll(source)
                if complete:
                    self.finished = True
                    self._notify()
            except OSError as exc:  # e.g. the new file vanished between stat and open: retry
                self.event = f"{type(exc).__name__}: {exc}"
                self._notify()

    def _serve_requests(self) -> None:
        """(Thread.) Build the index or load earlier lines if the viewer asked."""
        if self.index is None and self._index_wanted.is_set():
            self._build_index()
            return
        want, self._earlier_wanted = self._earlier_wanted, 0
        tail = self.tail
        if want and not self.indexed and tail is not None and not tail.at_start:
            while True:  # a line longer than `want` would not move the window: ask more
                new = tail.earlier(want)
                if new.first_offset < tail.first_offset or new.at_start:
                    break
                want *= 2
            self.tail = new
            self._notify()

    def _poll(self, source: Source) -> None:
        self.polls += 1
        check = source.check()
        if check.change is Change.ROTATED:
            self._reset("rotated", reopen=True)
        elif check.change is Change.TRUNCATED:
            self._reset("truncated", reopen=False)
        elif check.change is Change.GONE:
            self.event = "deleted"
            self._notify()
        elif self.index is None:  # a remote source shown by its tail window only
            if check.change is Change.GREW and self.tail is not None:
                old = self.tail.line_count
                self.tail = self.tail.grown(check.size)  # an unterminated last line is re-read, not added
                self.size = self.tail.end
                with self._lock:
                    self._new_lines += self.tail.line_count - old
                    self._unseen = True
                self._notify_growth()
        elif check.change is Change.GREW:
            self._grow(check.size)
        elif self._fingerprint and self._read_fingerprint(self.index.indexed_bytes) != self._fingerprint:
            # Rewritten in place to the same size (copytruncate + writes between polls).
            self._reset("truncated", reopen=False)

    def _grow(self, size: int) -> None:
        index = self.index
        assert index is not None
        old_end = index.indexed_bytes
        # copytruncate followed by fast writes can leave the file longer than before; the
        # bytes we indexed last are then different.
        if self._fingerprint and self._read_fingerprint(old_end) != self._fingerprint:
            self._reset("truncated", reopen=False)
            return
        # Appended lines are counted by `_appended`, atomically with becoming visible.
        index.extend(size, self._stop.is_set, on_advance=self._appended)
        self._fingerprint = self._read_fingerprint(index.indexed_bytes)
        search = self.search
        if search is not None:
            search.extend(index.indexed_bytes)
        self._notify_growth()
