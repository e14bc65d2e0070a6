"""Container logs (stdout, stderr, syslog, AppMaster.stdout...) as log-engine streams.

Why a :class:`~opsconsole.logs.ref.LogStream` and not a ranged log: the NodeManager's
``/ws/v1/node/containerlogs/{cid}/{file}`` takes ``size=N`` (the first N bytes) or ``size=-N``
(the last N), never an arbitrary offset, so a RangeReader would have to download everything
before the offset for each block. What it does offer fits a stream exactly: every answer frames
the bytes with the file's current ``LogLength``, so a follower asks for the last
``length - cursor`` bytes (plus a margin), checks from the answer's ``LogLength`` where they
start, and keeps only what lies after its cursor: a poll transfers the new bytes, not the log.

* A log opens at its tail: at most ``log_tail_bytes`` (4 MB), cut at a line start, with one line
  saying how much was left out.
* A running container's log is followed (the NM's trailer says "belongs to a running
  container" while it runs); the first answer without it makes the spool whole.
* A finished container's log comes from its NodeManager while the NM keeps it (no log
  aggregation: ``yarn.nodemanager.log.retain-seconds``); when the NM no longer has it (404, or
  aggregation moved it), from the log server (``log_server_url``) — read once, whole.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from opsconsole.backends.yarn.client import YarnClient, YarnError
from opsconsole.logs.ref import StreamChunk
from opsconsole.logs.spool import LogSpool, SpoolJob

MIN_WINDOW = 64 * 1024
MIN_POLL, MAX_POLL = 1.0, 15.0
_LENGTH = re.compile(rb"^LogLength:(\d+)\s*$", re.M)
RUNNING_MARK = b"belongs to a running container"


@dataclass(frozen=True)
class Framed:
    """One framed answer: the file's length then, the bytes sent (the file's last or first
    `len(data)` bytes), and whether the container still runs."""

    length: int | None
    data: bytes
    running: bool


def parse_framed(raw: bytes, asked: int | None) -> Framed:
    """The NM's (or log server's) framing: a header ending in ``LogContents:``, exactly
    min(|size|, LogLength) bytes, then ``End of LogType:…``. Without a header (an empty file on
    some versions) there is no content."""
    running = RUNNING_MARK in raw[-400:]
    m = _LENGTH.search(raw, 0, 4096)
    start = raw.find(b"LogContents:\n", 0, 4096)
    if m is None or start < 0:
        return Framed(0 if b"End of LogType" in raw else None, b"", running)
    length = int(m.group(1))
    body_start = start + len(b"LogContents:\n")
    n = length if asked is None else min(abs(asked), length)
    return Framed(length, raw[body_start:body_start + n], running)


def follow_interval(size: int) -> float:
    return max(MIN_POLL, min(MAX_POLL, 1.0 + size / 20e6))


class ContainerLogStream:
    """One log file of one container, followed while the container runs."""

    def __init__(self, client: YarnClient, container_id: str, file: str, node_http: str, *,
                 tail_bytes: int) -> None:
        self.client = client
        self.container_id = container_id
        self.file = file
        self.node_http = node_http
        self.tail_bytes = max(MIN_WINDOW, tail_bytes)
        where = client.settings.shown_url
        self.key = f"yarn/{where}/{container_id}/{file}"
        self.label = f"{container_id} {file}"
        self._window = MIN_WINDOW
        self._from_server = False

    def poll_interval(self, size: int) -> float:
        return follow_interval(size)

    async def _fetch(self, size: int) -> Framed:
        if not self._from_server:
            try:
                text = await self.client.container_log(self.node_http, self.container_id, self.file, -size)
                return parse_framed(text, -size)
            except YarnError as exc:
                if exc.status not in (404, 410) or not self.client.settings.log_server_url:
                    if exc.status == 404:
                        raise YarnError(404, f"{self.label}: the NodeManager no longer has this log "
                                             "(aggregated or deleted); set log_server_url to read "
                                             "aggregated logs") from exc
                    raise
                self._from_server = True
        text = await self.client.aggregated_log(self.container_id, self.file, -size)
        framed = parse_framed(text, -size)
        return Framed(framed.length, framed.data, False)  # aggregated: the container has ended

    async def read(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        offset = cursor if isinstance(cursor, int) else None
        if offset is None:
            framed = await self._fetch(self.tail_bytes)
            length = framed.length or 0
            data = framed.data
            begin = length - len(data)
            prefix = b""
            if begin > 0:  # opened at the tail: start at a line, say what was left out
                cut = data.find(b"\n") + 1
                begin += cut
                data = data[cut:]
                prefix = (f"[opsconsole: the first {begin:,} bytes of {self.file} are not shown "
                          f"(log_tail_bytes)]\n").encode()
            yield self._chunk(prefix, data, begin, framed.running)
            return
        # following: the last (length - offset) bytes, with a margin that grows with the log
        for _ in range(4):
            framed = await self._fetch(self._window)
            length = framed.length or 0
            begin = length - len(framed.data)
            if length < offset:  # the file was replaced (shorter): read it again whole
                yield StreamChunk(b"[opsconsole: the log was truncated; reading it again]\n", cursor=0)
                return
            if begin <= offset:
                data = framed.data[offset - begin:]
                self._window = max(MIN_WINDOW, min(self.tail_bytes, 2 * len(data) + MIN_WINDOW))
                yield self._chunk(b"", data, offset, framed.running)
                return
            self._window = min(self.tail_bytes, length - offset + MIN_WINDOW)
            if length - offset > self.tail_bytes:  # it grew faster than we read: skip ahead
                cut = framed.data.find(b"\n") + 1
                note = f"[opsconsole: {begin + cut - offset:,} bytes skipped (log growing faster than read)]\n"
                yield self._chunk(note.encode(), framed.data[cut:], begin + cut, framed.running)
                return
        yield StreamChunk(b"", cursor=offset)

    def _chunk(self, prefix: bytes, data: bytes, begin: int, running: bool) -> StreamChunk:
        """Whole lines only while following (the rest is read again next time); everything once
        the container has ended."""
        if running:
            cut = data.rfind(b"\n") + 1
            data = data[:cut]
        return StreamChunk(prefix + data, cursor=begin + len(data), done=not running)


class YarnLogSpool:
    """Opens container logs of one RM into a generic spool under `root`."""

    def __init__(self, client: YarnClient, root: Path, tail_bytes: int) -> None:
        self.client = client
        self.spool = LogSpool(root)
        self.tail_bytes = tail_bytes

    async def open(self, container_id: str, file: str, node_http: str) -> SpoolJob:
        return await self.spool.open(ContainerLogStream(self.client, container_id, file, node_http,
                                                        tail_bytes=self.tail_bytes))

    async def close(self) -> None:
        await self.spool.close()
