"""Remote random-access logs (an SFTP file, an S3 object) read by byte range through a block cache.

A backend provides a :class:`RangeReader`: a name, a size and ``read_range(offset, n)``, all
blocking and called only from worker threads (the engine's thread, the viewer's fetch worker,
a search). :class:`RangedSource` turns it into a :class:`~opsconsole.logs.source.Source`:
reads are served from an LRU of fixed-size blocks (bounded memory), a miss also fetches the
next block in the background (read-ahead), and `check()` asks the remote size at most every
few seconds. Opening a ranged log at its tail therefore transfers the last block or two, not
the object; `stats` says how much was transferred. The engine marks such a source `remote`:
it does not index the whole object unless asked (search, jump), and the viewer reads its
visible lines in a worker, never while painting.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from .source import Change, SourceCheck

BLOCK_SIZE = 256 * 1024
CACHE_BLOCKS = 64  # 16 MB of blocks at most per source
CHECK_EVERY = 2.0  # seconds between two remote size requests


@runtime_checkable
class RangeReader(Protocol):
    """A remote object read by byte range. Blocking; called only from worker threads.

    An optional ``complete`` attribute (True for an immutable object such as an S3 object)
    stops the viewer from polling it for growth; an optional ``close()`` is called at the end.
    An optional ``rotations`` counter (a remote file the reader saw replaced by rotation, and
    reopened) makes the next check report ROTATED.
    """

    name: str

    def size(self) -> int:
        """Current size in bytes (may do I/O)."""
        ...

    def read_range(self, offset: int, n: int) -> bytes:
        """Up to `n` bytes at `offset` (short at the end)."""
        ...


@dataclass(frozen=True)
class RangeStats:
    """What a `RangedSource` cost so far."""

    bytes_read: int  # transferred from the reader
    requests: int  # read_range calls
    hits: int  # block lookups served from the cache
    misses: int  # block lookups that had to fetch
    size_checks: int  # size() calls


class RangedSource:
    """A `Source` over a `RangeReader`, with an LRU block cache and one block of read-ahead.

    Thread-safe: two threads wanting the same block wait for one fetch.
    """

    remote = True  # the engine and the viewer keep its reads off the UI thread

    def __init__(self, reader: RangeReader, *, block_size: int = BLOCK_SIZE,
                 cache_blocks: int = CACHE_BLOCKS, check_every: float = CHECK_EVERY,
                 read_ahead: bool = True) -> None:
        self.reader = reader
        self.name = reader.name
        self.block_size = block_size
        self.cache_blocks = max(2, cache_blocks)
        self.check_every = check_every
        self.read_ahead = read_ahead
        self._lock = threading.Lock()
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._inflight: dict[int, Future] = {}
        self._size: int | None = None
        self._last_check = 0.0
        self._bytes = self._requests = self._hits = self._misses = self._checks = 0
        self._ahead: ThreadPoolExecutor | None = None
        self._closed = False
        self._rotations = getattr(reader, "rotations", 0)

    # -- Source -----------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        return bool(getattr(self.reader, "complete", False))

    @property
    def stats(self) -> RangeStats:
        with self._lock:
            return RangeStats(self._bytes, self._requests, self._hits, self._misses, self._checks)

    def size(self) -> int:
        """Size as of the last check (the first call asks the reader)."""
        if self._size is None:
            self._size = self._remote_size()
            self._last_check = time.monotonic()
        return self._size

    def read(self, offset: int, n: int) -> bytes:
        """Up to `n` bytes at `offset` through the cache; short at the known end."""
        end = min(offset + max(n, 0), self.size())
        if offset >= end:
            return b""
        bs = self.block_size
        parts = []
        for block in range(offset // bs, (end - 1) // bs + 1):
            data = self._block(block)
            start = block * bs
            parts.append(data[max(offset - start, 0):end - start])
            if len(data) < bs:
                break  # the end (as the reader sees it)
        if self.read_ahead:
            self._prefetch((end - 1) // bs + 1)
        return b"".join(parts)

    def read_cached(self, offset: int, n: int) -> bytes | None:
        """The bytes if every block holding them is cached, else None. Never does I/O."""
        end = min(offset + max(n, 0), self._size or 0)
        if offset >= end:
            return b""
        bs = self.block_size
        parts = []
        with self._lock:
            for block in range(offset // bs, (end - 1) // bs + 1):
                data = self._blocks.get(block)
                start = block * bs
                if data is None or (len(data) < bs and start + len(data) < end):
                    return None
                parts.append(data[max(offset - start, 0):end - start])
        return b"".join(parts)

    def check(self) -> SourceCheck:
        """Growth or truncation, asking the reader's size at most every `check_every` s."""
        old = self.size()
        now = time.monotonic()
        if now - self._last_check < self.check_every:
            return SourceCheck(Change.SAME, old)
        self._last_check = now
        try:
            new = self._remote_size()
        except FileNotFoundError:
            return SourceCheck(Change.GONE, old)
        self._size = new
        rotations = getattr(self.reader, "rotations", 0)
        if rotations != self._rotations:  # the reader reopened the name on another file
            self._rotations = rotations
            self._drop(0)
            return SourceCheck(Change.ROTATED, new)
        if new < old:
            self._drop(0)
            return SourceCheck(Change.TRUNCATED, new)
        if new > old:
            self._drop(old // self.block_size)  # the old last block was short
            return SourceCheck(Change.GREW, new)
        return SourceCheck(Change.SAME, new)

    def reopen(self) -> None:
        """Forget every cached block and the size (a ranged object does not rotate; for API completeness)."""
        self._drop(0)
        self._size = None

    def close(self) -> None:
        self._closed = True
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()

    # -- blocks -----------------------------------------------------------------------

    def _remote_size(self) -> int:
        size = self.reader.size()
        with self._lock:
            self._checks += 1
        return size

    def _drop(self, first_block: int) -> None:
        with self._lock:
            for block in [b for b in self._blocks if b >= first_block]:
                del self._blocks[block]

    def _block(self, block: int) -> bytes:
        """Block `block`, from the cache or fetched (one fetch however many threads want it)."""
        with self._lock:
            data = self._blocks.get(block)
            if data is not None:
                self._blocks.move_to_end(block)
                self._hits += 1
                return data
            self._misses += 1
            existing = self._inflight.get(block)
            owner = existing is None
            future: Future[bytes] = Future() if existing is None else existing
            if owner:
                self._inflight[block] = future
        if not owner:
            try:
                return future.result()
            except Exception:  # the other fetch failed or was dropped: try ourselves
                return self._fetch(block)
        try:
            data = self._fetch(block)
        except BaseException as exc:
            with self._lock:
                self._inflight.pop(block, None)
            future.set_exception(exc)
            raise
        future.set_result(data)
        return data

    def _fetch(self, block: int) -> bytes:
        start = block * self.block_size
        want = max(0, min(self.block_size, self.size() - start))
        data = self.reader.read_range(start, want) if want else b""
        with self._lock:
            self._bytes += len(data)
            self._requests += 1 if want else 0
            self._inflight.pop(block, None)
            if data:
                self._blocks[block] = data
                self._blocks.move_to_end(block)
                while len(self._blocks) > self.cache_blocks:
                    self._blocks.popitem(last=False)
        return data

    def _prefetch(self, block: int) -> None:
        """Fetch `block` in the background if it exists and is neither cached nor on its way."""
        if self._closed or block * self.block_size >= (self._size or 0):
            return
        with self._lock:
            if block in self._blocks or block in self._inflight:
                return
            future: Future[bytes] = Future()
            self._inflight[block] = future
        if self._ahead is None:
            self._ahead = ThreadPoolExecutor(1, thread_name_prefix="range-ahead")

        def run() -> None:
            try:
                future.set_result(self._fetch(block))
            except BaseException as exc:  # a later read of this block tries again
                with self._lock:
                    self._inflight.pop(block, None)
                future.set_exception(exc)

        try:
            self._ahead.submit(run)
        except RuntimeError:  # shut down meanwhile
            with self._lock:
                self._inflight.pop(block, None)
            future.cancel()


class LocalRangeReader:
    """A local file read by range: the reference `RangeReader` (and what the tests use)."""

    def __init__(self, path: str | os.PathLike, *, complete: bool = False) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.complete = complete
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> int:
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            return self._fd

    def size(self) -> int:
        return os.stat(self.path).st_size

    def read_range(self, offset: int, n: int) -> bytes:
        return os.pread(self._open(), n, offset) if n > 0 else b""

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
