"""Airflow task logs as log-engine streams: each try's log is a :class:`AirflowLogStream` that the
generic spool (logs/spool.py) writes into a local file the viewer opens (and follows while it
grows). Nothing here writes files or runs threads of its own.

* A finished try is streamed once (Airflow 3: NDJSON, rendered as `timestamp level logger event`
  lines; Airflow 2: plain text), with no read timeout; the spool caches it (the next open costs
  nothing).
* A running try is followed by polling the JSON endpoint with the continuation token. Every poll
  makes the server re-read the whole log, so the interval grows with the log's size.
* The server thinks before its first byte (about 0.14 s per MB on Airflow 3): the spool job says
  "preparing" until then, and the viewer shows it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from opsconsole.backends.airflow.client import AirflowClient, AirflowTaskInstance, redact_url
from opsconsole.backends.airflow.models import render_structured
from opsconsole.logs.ref import StreamChunk
from opsconsole.logs.spool import DONE, FAILED, FOLLOWING, PREPARING, STREAMING, LogSpool, SpoolJob

__all__ = ["AirflowLogSpool", "AirflowLogStream", "DONE", "FAILED", "FOLLOWING", "LogJob", "PREPARING",
           "STREAMING", "follow_interval"]

LogJob = SpoolJob  # what an opened task log is
BATCH = 1 << 20  # bytes of a streamed log rendered and handed to the spool at once
MIN_POLL, MAX_POLL = 2.0, 60.0
POLL_SECONDS_PER_MB = 0.5  # a 100 MB running log is polled every 50 s


def follow_interval(size: int) -> float:
    """Seconds between two polls of a running log of `size` bytes (each poll re-parses it all)."""
    return max(MIN_POLL, min(MAX_POLL, POLL_SECONDS_PER_MB * size / 1e6))


def _render_ndjson(data: bytes) -> bytes:
    out = []
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            msg = json.loads(raw)
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

    def poll_interval(self, size: int) -> float:
        return follow_interval(size)

    async def read(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        if self.running:
            async for chunk in self._follow(cursor):
                yield chunk
        else:
            async for chunk in self._download():
                yield chunk

    async def _download(self) -> AsyncIterator[StreamChunk]:
        async with self.client.stream_log(self.ti, self.try_number) as (kind, chunks):
            pending = bytearray()
            async for data in chunks:
                if not data:
                    continue
                pending += data
                if len(pending) >= BATCH:
                    cut = pending.rfind(b"\n") + 1
                    if cut:
                        yield StreamChunk(await self._render(kind, bytes(pending[:cut])))
                        del pending[:cut]
            if pending:
                yield StreamChunk(await self._render(kind, bytes(pending)))
        yield StreamChunk(b"", done=True)

    @staticmethod
    async def _render(kind: str, data: bytes) -> bytes:
        if kind == "ndjson":
            return await asyncio.to_thread(_render_ndjson, data)
        return data

    async def _follow(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        ti, tn = self.ti, self.try_number
        token = cursor if isinstance(cursor, str) else None
        chunk = await self.client.read_log(ti, tn, token)
        token = chunk.token or token
        yield StreamChunk(chunk.text.encode("utf-8", "replace"), cursor=token)
        current = await self.client.get_task_instance(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
        if current.try_number != tn or not current.state.active:
            # the try is over: one last read for what it wrote since, then the spool is whole
            last = await self.client.read_log(ti, tn, token)
            yield StreamChunk(last.text.encode("utf-8", "replace"), cursor=last.token or token, done=True)


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
