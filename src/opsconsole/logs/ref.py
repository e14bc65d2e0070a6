"""A log is a reference the viewer opens, not a path string.

Three kinds, one per way the bytes reach us:

* :class:`FileLog` — a local file (a local run's log), read in place and followed.
* :class:`StreamLog` — a stream (Airflow's log API, CloudWatch, a pod log, `journalctl -f`)
  spooled by :mod:`opsconsole.logs.spool` into a local file; the reference carries the spool
  job, so the viewer can show the stream's state (preparing, streaming, following, done,
  failed) and stops polling once the spool is whole.
* :class:`RangedLog` — a random-access remote object (an SFTP file, an S3 object) read by
  byte range through a block cache off the UI thread (:mod:`opsconsole.logs.ranged`); opened
  at its tail without reading the whole object.

Backends produce these (their "log openers"); the UI opens them. Nothing here imports Textual.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Union, runtime_checkable

if TYPE_CHECKING:
    from opsconsole.logs.ranged import RangeReader
    from opsconsole.logs.source import Source
    from opsconsole.logs.spool import SpoolJob


@dataclass(frozen=True)
class StreamChunk:
    """Bytes of a stream after a cursor. ``data`` is whole lines of display text (a backend
    renders structured records before handing them over); ``cursor`` is where the next read
    continues (a continuation token, a byte offset, a timestamp); ``done`` means the stream
    has ended and will never grow again. Two optional reports for the operator, without data:
    ``received`` (bytes of the current response arrived so far: a big read shows
    "downloading N MB") and ``note`` (a condition worth showing, e.g. "retrying after
    ReadTimeout"; ``""`` clears it)."""

    data: bytes
    cursor: object | None = None
    done: bool = False
    received: int | None = None
    note: str | None = None


@runtime_checkable
class LogStream(Protocol):
    """What the generic spool drives: a backend's log stream.

    ``read(cursor)`` yields the chunks available after ``cursor`` (``None``: from the start,
    or from wherever the stream starts — e.g. its tail); when the iteration ends without a
    chunk marked ``done``, the spool waits ``poll_interval(size)`` seconds and reads again from
    the last cursor (following). Raising ends the spool in error (its message is shown)."""

    key: str    # stable identity of this stream (the spool file is named from a hash of it)
    label: str  # shown to the operator: "dag run task try 2"

    def read(self, cursor: object | None) -> AsyncIterator[StreamChunk]: ...

    def poll_interval(self, size: int) -> float: ...


@dataclass(frozen=True)
class FileLog:
    """A local file."""

    path: str
    title: str | None = None

    @property
    def label(self) -> str:
        return self.title or Path(self.path).name


@dataclass(frozen=True)
class StreamLog:
    """A stream on its way into a spool file (the job says how far it got)."""

    job: "SpoolJob"
    title: str | None = None

    @property
    def path(self) -> str:
        return str(self.job.path)

    @property
    def label(self) -> str:
        return self.title or self.job.label


@dataclass(frozen=True)
class RangedLog:
    """A remote random-access object, read by byte range through a block cache."""

    reader: "RangeReader"
    title: str | None = None

    @property
    def path(self) -> str:
        return self.reader.name

    @property
    def label(self) -> str:
        return self.title or self.reader.name


LogRef = Union[FileLog, StreamLog, RangedLog]


def as_ref(log: "LogRef | str | os.PathLike[str]") -> LogRef:
    """A reference for what callers hand over: a path string means a local file."""
    if isinstance(log, (FileLog, StreamLog, RangedLog)):
        return log
    return FileLog(str(log))


def open_ref(log: "LogRef | str | os.PathLike[str]") -> "Source":
    """The byte source behind a reference (blocking: call it off the UI thread).

    A file is read in place, a stream through its spool file (complete once the job ended),
    a ranged object through a block cache.
    """
    ref = as_ref(log)
    if isinstance(ref, StreamLog):
        from opsconsole.logs.spool import JobSource

        return JobSource(ref.job)
    if isinstance(ref, RangedLog):
        from opsconsole.logs.ranged import RangedSource

        return RangedSource(ref.reader)
    from opsconsole.logs.source import open_source

    return open_source(ref.path)
