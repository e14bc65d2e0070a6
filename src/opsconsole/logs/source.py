"""Byte sources the log viewer reads: a random-access file now, remote ranges and spooled streams later.

Everything above this module (index, search, follow, the viewer) sees only the `Source`
protocol: a size, positional reads, and a `check()` that says whether the bytes behind the
name grew, were truncated, were replaced by rotation, or vanished. A remote random-access
source (SFTP, S3 ranges) implements the same four methods; a streamed source (an API, a pod
log, a process) is written into a local spool file by `SpoolWriter` and read back through
`SpoolSource`, so the viewer never knows where the bytes came from.
"""

from __future__ import annotations

import enum
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


class Change(enum.Enum):
    """What `Source.check()` noticed since the previous check."""

    SAME = "same"
    GREW = "grew"
    TRUNCATED = "truncated"  # same file, now shorter (copytruncate, `: > file`)
    ROTATED = "rotated"  # the name now points at another file (rename + create)
    GONE = "gone"  # the name no longer exists; the open file is still readable


@dataclass(frozen=True)
class SourceCheck:
    """Result of `Source.check()`: the kind of change and the size after it."""

    change: Change
    size: int


@runtime_checkable
class Source(Protocol):
    """A readable, possibly growing, sequence of bytes with a display name."""

    name: str

    def size(self) -> int:
        """Current size in bytes of what can be read."""
        ...

    def read(self, offset: int, n: int) -> bytes:
        """Read up to `n` bytes at `offset`; short or empty at the end, never raises for EOF."""
        ...

    def check(self) -> SourceCheck:
        """Compare the source with what it was at the previous check (cheap; called every ~50 ms)."""
        ...

    def reopen(self) -> None:
        """After ROTATED: start reading the new file behind the name."""
        ...

    @property
    def complete(self) -> bool:
        """True when the source will not grow any more (a finished stream); files never are."""
        ...

    def close(self) -> None:
        """Release the underlying handle."""
        ...


class UnsupportedSource(OSError):
    """A path the viewer cannot follow (a FIFO, a directory, a device, a /proc pseudo-file);
    the message says why and what to do instead."""


def open_regular(path: str | os.PathLike) -> tuple[int, os.stat_result]:
    """Open `path` for reading, refusing with the reason anything but a regular file with a
    real size. O_NONBLOCK: opening a FIFO without a writer would block the reader forever."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        mode = st.st_mode
        why = None
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            why = "is a FIFO or socket: it has no size and cannot be read twice; capture it first (cat PIPE > FILE)"
        elif stat.S_ISDIR(mode):
            why = "is a directory: open a file in it"
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            why = "is a device (like /dev/zero): it never ends; capture a bounded part first (head -c 1M DEV > FILE)"
        elif st.st_size == 0 and os.pread(fd, 1, 0) and (st := os.fstat(fd)).st_size == 0:
            # (asked again after the read: a new log's first line can land between the two)
            why = ("reports size 0 but has content (a /proc or /sys pseudo-file): the viewer follows files "
                   "by size; copy it first (cat FILE > copy.log)")
        if why:
            raise UnsupportedSource(f"{os.fspath(path)} {why}")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


class LocalFileSource:
    """A local file read with `os.pread`.

    Not mmap: a file truncated under a mapping raises SIGBUS on the next touch, and the
    files we tail are truncated by copytruncate rotation. pread on a shorter file simply
    returns fewer bytes.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self._lock = threading.Lock()
        self._fd, st = open_regular(self.path)
        self._identity = (st.st_dev, st.st_ino)
        self._last_size = st.st_size
        self._gone = False

    @property
    def complete(self) -> bool:
        return False

    @property
    def identity(self) -> tuple[int, int]:
        """`(st_dev, st_ino)` of the open file: what a writer must never truncate."""
        return self._identity

    def size(self) -> int:
        """Size of the open file (not of whatever the name points at now)."""
        with self._lock:
            if self._fd < 0:
                return 0
            return os.fstat(self._fd).st_size

    def read(self, offset: int, n: int) -> bytes:
        """Positional read; safe from several threads at once (pread has no shared cursor)."""
        fd = self._fd
        if fd < 0 or n <= 0:
            return b""
        try:
            return os.pread(fd, n, offset)
        except OSError:
            return b""

    def read_into(self, buffer: bytearray | memoryview, offset: int) -> int:
        """Read into a caller's buffer (no allocation per block); returns the byte count."""
        fd = self._fd
        if fd < 0:
            return 0
        try:
            return os.preadv(fd, [buffer], offset)
        except OSError:
            return 0

    def check(self) -> SourceCheck:
        """Detect growth, truncation (size shrank) and rotation (path's dev/inode changed)."""
        with self._lock:
            size = os.fstat(self._fd).st_size if self._fd >= 0 else 0
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                # Deleted (or mid-rotation): keep showing the open file, report it once.
                if not self._gone:
                    self._gone = True
                    return SourceCheck(Change.GONE, size)
                st = None
            if st is not None:
                self._gone = False
                if (st.st_dev, st.st_ino) != self._identity:
                    return SourceCheck(Change.ROTATED, st.st_size)
            last, self._last_size = self._last_size, size
            if size < last:
                return SourceCheck(Change.TRUNCATED, size)
            if size > last:
                return SourceCheck(Change.GREW, size)
            return SourceCheck(Change.SAME, size)

    def reopen(self) -> None:
        """Switch to the file now at `path` (after rotation); the old handle is closed."""
        with self._lock:
            fd, st = open_regular(self.path)
            old, self._fd = self._fd, fd
            self._identity = (st.st_dev, st.st_ino)
            self._last_size = st.st_size
            self._gone = False
        if old >= 0:
            os.close(old)

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class SpoolWriter:
    """Appends a stream's chunks to a local file that a `SpoolSource` reads while it grows.

    A stream (API pages, a pod log, a process's stdout, a gunzip) calls `write()` per chunk
    and `finish()` at the end (also on error, with the message appended), which marks the
    spool complete so the viewer stops expecting growth.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file = open(self.path, "wb", buffering=0)
        self._complete = threading.Event()
        self.error: str | None = None

    def write(self, data: bytes) -> None:
        """Append a chunk; it is readable by the source as soon as this returns."""
        self._file.write(data)

    def finish(self, error: str | None = None) -> None:
        """Mark the stream ended; an error message is appended as a last line."""
        if error:
            self.error = error
            self._file.write(f"\n[opsconsole: stream ended with error: {error}]\n".encode())
        self._file.close()
        self._complete.set()

    @property
    def complete(self) -> bool:
        return self._complete.is_set()


class SpoolSource(LocalFileSource):
    """A spool file read like a local file; `complete` mirrors its writer."""

    def __init__(self, writer: SpoolWriter) -> None:
        super().__init__(writer.path)
        self._writer = writer

    @property
    def complete(self) -> bool:
        return self._writer.complete


def open_source(path: str | os.PathLike) -> Source:
    """Open the source for a path. Only local files today; URLs (ssh://, s3://) plug in here."""
    return LocalFileSource(path)
