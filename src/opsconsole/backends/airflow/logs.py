"""Airflow task logs as log-engine streams: each try's log is a :class:`AirflowLogStream` that the
generic spool (logs/spool.py) writes into a local file the viewer opens (and follows while it
grows). Nothing here writes files or runs threads of its own.

* A finished try is streamed once (Airflow 3: NDJSON, rendered as `timestamp level logger event`
  lines; Airflow 2: plain text), with no read timeout; the spool caches it (the next open costs
  nothing).
* A running try is followed by polling the JSON endpoint with the continuation token. Every poll
  makes the server re-read (and render) the whole log before its first byte, so the body's read
  timeout is long (client.LOG_READ_TIMEOUT) and the next poll waits as long as the last one
  took; a poll that times out or loses its connection is retried from the same token (the
  status line says "retrying after ReadTimeout ×N"), never the end of the job.
* The server thinks before its first byte (about 0.14 s per MB on Airflow 3): the spool job says
  "preparing" until then, then "downloading N MB" while a big body arrives.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from opsconsole.backends.airflow.client import AirflowClient, AirflowError, AirflowTaskInstance, redact_url
from opsconsole.backends.airflow.models import LogChunk, render_structured
from opsconsole.logs.ref import StreamChunk
from opsconsole.logs.spool import DONE, FAILED, FOLLOWING, PREPARING, STREAMING, LogSpool, SpoolJob

__all__ = ["AirflowLogSpool", "AirflowLogStream", "DONE", "FAILED", "FOLLOWING", "LogJob", "PREPARING",
           "STREAMING", "follow_interval"]

LogJob = SpoolJob  # what an opened task log is
BATCH = 1 << 20  # bytes of a streamed log rendered and handed to the spool at once
PIPELINE = 8  # batches downloaded ahead of the one being rendered
MIN_POLL, MAX_POLL = 2.0, 60.0
POLL_SECONDS_PER_MB = 0.5  # a 100 MB running log is polled every 50 s (until a poll was timed)
SERVER_SHARE = 1.0  # seconds waited between polls per second the last poll took: the server idles half the time
PROGRESS_EVERY = 0.5  # seconds between "downloading N MB" reports of a long read


def follow_interval(size: int) -> float:
    """Seconds between two polls of a running log of `size` bytes (each poll re-parses it all)."""
    return max(MIN_POLL, min(MAX_POLL, POLL_SECONDS_PER_MB * size / 1e6))


def _json_loads() -> Callable[[bytes], Any]:
    """orjson's parser when installed (a few times quicker on big logs), else the standard one."""
    try:
        from orjson import loads
    except ImportError:  # pragma: no cover - the standard one does the same, slower
        return json.loads
    return loads


_loads = _json_loads()


def _render_ndjson(data: bytes) -> bytes:
    out = []
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            msg = _loads(raw)
        except ValueError:
            out.append(raw.decode("utf-8", "replace"))
            continue
        out.append(render_structured(msg) if isinstance(msg, dict) else str(msg))
    return "".join(line + "\n" for line in out).encode("utf-8", "replace")


class AirflowLogStream:
    """One try's log. `running`: follow it with the continuation token until the try ends;
    otherwise stream the whole log once."""

    def __init__(self, client: AirflowClient, ti: AirflowTaskInstance, try_number: int, running: bool) -> None:
        self.client = client
        self.ti = ti
        self.try_number = try_number
        self.running = running
        mi = "" if ti.map_index < 0 else f"/map{ti.map_index}"
        self.key = (f"airflow/{redact_url(client.settings.url)}/{ti.dag_id}/{ti.run_id}/{ti.task_id}{mi}"
                    f"/try{try_number}")
        self.label = f"{ti.dag_id} {ti.run_id} {ti.label} try {try_number}"
        self._last_poll: float | None = None  # seconds the last successful poll took
        self._failures = 0  # polls failed in a row (timeouts, lost connections, 5xx)
        self._last_line = ""  # the last line handed to the spool (to drop a repeated part)
        self.polls: deque[tuple[float, float]] = deque(maxlen=64)  # (start, end), wall clock, of the last polls

    def poll_interval(self, size: int) -> float:
        if self._failures:  # the last poll failed: back off (the cursor is kept)
            return min(MAX_POLL, MIN_POLL * 2 ** min(self._failures, 5))
        if self._last_poll is not None:
            # each poll makes the server render the whole log: wait as long again as it took
            # (the server idles half the time); a new line is shown within two poll periods
            # (start to start) at worst
            return max(MIN_POLL, SERVER_SHARE * self._last_poll)
        return follow_interval(size)

    async def read(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        if self.running:
            async for chunk in self._follow(cursor):
                yield chunk
        else:
            async for chunk in self._download():
                yield chunk

    async def _download(self) -> AsyncIterator[StreamChunk]:
        """The whole log, rendered while it downloads: a pump task reads the body into ~1 MB
        batches of whole lines while the previous batch is rendered (in a thread), so the last
        line lands about when the last byte does."""
        async with self.client.stream_log(self.ti, self.try_number) as (kind, chunks):
            batches: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=PIPELINE)

            async def pump() -> None:
                pending = bytearray()
                try:
                    async for data in chunks:
                        pending += data
                        if len(pending) >= BATCH:
                            cut = pending.rfind(b"\n") + 1
                            if cut:
                                await batches.put(bytes(pending[:cut]))
                                del pending[:cut]
                    if pending:
                        await batches.put(bytes(pending))
                finally:
                    await batches.put(None)

            reader = asyncio.create_task(pump())
            try:
                while (batch := await batches.get()) is not None:
                    yield StreamChunk(await self._render(kind, batch))
                await reader  # raises what the download raised
            finally:
                if not reader.done():
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
        yield StreamChunk(b"", done=True)

    @staticmethod
    async def _render(kind: str, data: bytes) -> bytes:
        if kind == "ndjson":
            return await asyncio.to_thread(_render_ndjson, data)
        return data

    async def _follow(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        """One poll: what the try wrote after `cursor` (the continuation token). A read that
        times out or loses its connection is retried at the next poll from the same token (the
        note says so); only an answer from the server (404, 403...) ends the job."""
        import httpx

        ti, tn = self.ti, self.try_number
        token = cursor if isinstance(cursor, str) else None
        started = time.monotonic()
        wall = time.time()
        try:
            chunk = None
            async for report in self._read_with_progress(token):
                if isinstance(report, int):
                    yield StreamChunk(b"", received=report)
                else:
                    chunk = report
            assert chunk is not None
            self._last_poll = time.monotonic() - started
            self.polls.append((wall, time.time()))
            token = chunk.token or token
            note = "" if self._failures else None
            self._failures = 0
            yield StreamChunk(self._fresh(chunk.text).encode("utf-8", "replace"), cursor=token, note=note)
            current = await self.client.get_task_instance(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
            if current.try_number != tn or not current.state.active:
                # the try is over: one last read for what it wrote since, then the spool is whole
                last = await self.client.read_log(ti, tn, token)
                yield StreamChunk(self._fresh(last.text).encode("utf-8", "replace"), cursor=last.token or token,
                                  done=True)
        except (httpx.TransportError, AirflowError) as exc:
            if isinstance(exc, AirflowError) and exc.status < 500:
                raise  # the server answered: not found, refused... retrying would not help
            self._failures += 1
            reason = f"HTTP {exc.status}" if isinstance(exc, AirflowError) else type(exc).__name__
            yield StreamChunk(b"", note=f"retrying after {reason} ×{self._failures}")

    def _fresh(self, text: str) -> str:
        """`text` without what the spool already has. Airflow 3 may answer the read after a try
        ended with lines its last poll already gave (measured: the last 17,000 lines of a 100 MB
        log twice): a part that starts no later than our last line and contains it is cut there."""
        last = self._last_line
        if last and text and text.split(" ", 1)[0] <= last.split(" ", 1)[0]:
            at = text.find(last + "\n")
            if at == 0 or (at > 0 and text[at - 1] == "\n"):
                text = text[at + len(last) + 1:]
        tail = text.rstrip("\n").rsplit("\n", 1)[-1]
        if tail:
            self._last_line = tail
        return text

    async def _read_with_progress(self, token: str | None) -> AsyncIterator["int | LogChunk"]:
        """The poll's LogChunk, after the bytes received so far (every PROGRESS_EVERY s) while
        the body downloads: the first read of a running 50 MB log is a long download."""
        received = [0]
        task = asyncio.create_task(self.client.read_log(self.ti, self.try_number, token,
                                                        progress=lambda n: received.__setitem__(0, n)))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=PROGRESS_EVERY)
                if done:
                    break
                if received[0]:
                    yield received[0]
            yield task.result()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


class AirflowLogSpool:
    """Opens task logs of one Airflow into a generic spool under `root`."""

    def __init__(self, client: AirflowClient, root: Path) -> None:
        self.client = client
        self.spool = LogSpool(root)

    @property
    def _jobs(self) -> dict[Path, SpoolJob]:
        return self.spool._jobs

    async def open(self, ti: AirflowTaskInstance, try_number: int | None = None, *,
                   running: bool | None = None) -> SpoolJob:
        """The job spooling this try's log: cached when complete, shared while in progress,
        else started now (streamed if the try is over, followed if it runs). Returns without
        waiting for the log."""
        tn = try_number or ti.try_number
        if running is None:
            running = ti.state.active and tn == ti.try_number
        return await self.spool.open(AirflowLogStream(self.client, ti, tn, running))

    async def close(self) -> None:
        await self.spool.close()
