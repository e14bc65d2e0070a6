"""Airflow task logs into the log engine: each try's log is spooled to a local file that the
viewer opens by path (and follows while it grows).

* A finished try is streamed once (Airflow 3: NDJSON, rendered as `timestamp level logger event`
  lines; Airflow 2: plain text), with no read timeout, and cached per (dag, run, task, map index,
  try): a `.complete` marker next to the spool says it is whole, and the next open costs nothing.
* A running try is followed by polling the JSON endpoint with the continuation token. Every poll
  makes the server re-read the whole log, so the interval grows with the log's size.
* The server thinks before its first byte (about 0.14 s per MB on Airflow 3): a `LogJob` says
  whether it is still "preparing", so the UI can say so; nothing here blocks the event loop
  (every file operation, parsing and writing run in a thread, in batches).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from opsconsole.backends.airflow import AirflowClient, AirflowTaskInstance
from opsconsole.backends.airflow_models import render_structured
from opsconsole.logs.source import SpoolWriter

BATCH = 1 << 20  # bytes handed to the writer thread at once
MIN_POLL, MAX_POLL = 2.0, 60.0
POLL_SECONDS_PER_MB = 0.5  # a 100 MB running log is polled every 50 s


def follow_interval(size: int) -> float:
    """Seconds between two polls of a running log of `size` bytes (each poll re-parses it all)."""
    return max(MIN_POLL, min(MAX_POLL, POLL_SECONDS_PER_MB * size / 1e6))


PREPARING, STREAMING, FOLLOWING, DONE, FAILED = "preparing", "streaming", "following", "done", "failed"


@dataclass
class LogJob:
    """One try's log on its way into a spool file."""

    path: Path
    label: str
    state: str = PREPARING
    started: float = field(default_factory=time.monotonic)
    first_byte: float | None = None
    size: int = 0
    lines: int = 0
    error: str | None = None
    task: asyncio.Task | None = None
    _first: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def waiting(self) -> float:
        """Seconds the server has been preparing (until its first byte)."""
        return (self.first_byte or time.monotonic()) - self.started

    @property
    def ready(self) -> bool:
        return self._first.is_set()

    def _got_data(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.monotonic()
        self._first.set()

    async def wait_ready(self) -> None:
        """Until the first bytes are in the spool (or the job ended, maybe with an error)."""
        await self._first.wait()


def _safe(part: object) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]", "_", str(part))[:120]


def _render_ndjson(data: bytes) -> tuple[bytes, int]:
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
    text = "".join(line + "\n" for line in out)
    return text.encode("utf-8", "replace"), len(out)


class AirflowLogSpool:
    """Spools Airflow task logs under `root` (the profile's `spool/airflow`)."""

    def __init__(self, client: AirflowClient, root: Path) -> None:
        self.client = client
        self.root = Path(root)
        self._jobs: dict[Path, LogJob] = {}

    def path_for(self, ti: AirflowTaskInstance, try_number: int | None = None) -> Path:
        tn = try_number or ti.try_number
        mi = "" if ti.map_index < 0 else f".map{ti.map_index}"
        return (self.root / _safe(ti.dag_id) / _safe(ti.run_id) / f"{_safe(ti.task_id)}{mi}.try{tn}.log")

    @staticmethod
    def _marker(path: Path) -> Path:
        return path.with_name(path.name + ".complete")

    async def open(self, ti: AirflowTaskInstance, try_number: int | None = None, *,
                   running: bool | None = None) -> LogJob:
        """The job spooling this try's log: cached when complete, shared while in progress,
        else started now (streamed if the try is over, followed if it runs). Returns without
        waiting for the log (the disk is looked at in a thread)."""
        tn = try_number or ti.try_number
        path = self.path_for(ti, tn)
        job = self._jobs.get(path)
        if job is not None and job.state != FAILED:
            return job
        label = f"{ti.dag_id} {ti.run_id} {ti.label} try {tn}"
        job = LogJob(path, label)
        self._jobs[path] = job  # claimed before the thread hop: a second open meanwhile shares it
        try:
            cached = await asyncio.to_thread(self._prepare, path)
        except BaseException as exc:  # the claimed job would wait forever: release it, then say why
            self._jobs.pop(path, None)
            job.error = f"{type(exc).__name__}: {exc}"
            job.state = FAILED
            job._got_data()
            raise
        if cached is not None:
            job.state, job.size = DONE, cached
            job._got_data()
            return job
        if running is None:
            running = ti.state.active and tn == ti.try_number
        job.task = asyncio.create_task(self._follow(ti, tn, job) if running else self._download(ti, tn, job),
                                       name=f"airflow-log {label}")
        return job

    def _prepare(self, path: Path) -> int | None:
        """(In a thread.) The size of a complete cached spool, else None after making its folder."""
        if self._marker(path).exists() and path.exists():
            return path.stat().st_size
        path.parent.mkdir(parents=True, exist_ok=True)
        return None

    async def _open_writer(self, job: LogJob) -> SpoolWriter | None:
        """The job's spool file (in a thread); None, with the job finished in error, if it fails."""
        try:
            return await asyncio.to_thread(SpoolWriter, job.path)
        except OSError as exc:
            await self._finish(job, f"{type(exc).__name__}: {exc}")
            return None

    async def _download(self, ti: AirflowTaskInstance, try_number: int, job: LogJob) -> None:
        writer = await self._open_writer(job)
        if writer is None:
            return
        error = None
        try:
            async with self.client.stream_log(ti, try_number) as (kind, chunks):
                job.state = STREAMING
                pending = bytearray()
                async for chunk in chunks:
                    if not chunk:
                        continue
                    pending += chunk
                    if len(pending) >= BATCH:
                        cut = pending.rfind(b"\n") + 1
                        if cut:
                            await self._write(writer, job, kind, bytes(pending[:cut]))
                            del pending[:cut]
                if pending:
                    await self._write(writer, job, kind, bytes(pending))
        except asyncio.CancelledError:
            error = "cancelled"
            raise
        except Exception as exc:  # noqa: BLE001 - the spool says what went wrong, the job too
            error = f"{type(exc).__name__}: {exc}"
        finally:
            await asyncio.to_thread(writer.finish, error)
            await self._finish(job, error)

    async def _write(self, writer: SpoolWriter, job: LogJob, kind: str, data: bytes) -> None:
        def work() -> tuple[int, int]:
            if kind == "ndjson":
                out, lines = _render_ndjson(data)
            else:
                out, lines = data, data.count(b"\n")
            writer.write(out)
            return len(out), lines

        size, lines = await asyncio.to_thread(work)
        job.size += size
        job.lines += lines
        if size:
            job._got_data()

    async def _follow(self, ti: AirflowTaskInstance, try_number: int, job: LogJob) -> None:
        writer = await self._open_writer(job)
        if writer is None:
            return
        error = None
        token: str | None = None
        try:
            while True:
                chunk = await self.client.read_log(ti, try_number, token)
                job.state = FOLLOWING
                if chunk.text:
                    await self._write(writer, job, "text", chunk.text.encode("utf-8", "replace"))
                job._got_data()  # even an empty log is "ready": the viewer follows it
                if chunk.token:
                    token = chunk.token
                current = await self.client.get_task_instance(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
                if current.try_number != try_number or not current.state.active:
                    # the try is over: one last read for what it wrote since, then the spool is whole
                    last = await self.client.read_log(ti, try_number, token)
                    if last.text:
                        await self._write(writer, job, "text", last.text.encode("utf-8", "replace"))
                    break
                await asyncio.sleep(follow_interval(job.size))
        except asyncio.CancelledError:
            error = "cancelled"
            raise
        except Exception as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {exc}"
        finally:
            await asyncio.to_thread(writer.finish, error)
            await self._finish(job, error)

    async def _finish(self, job: LogJob, error: str | None) -> None:
        if not error:
            try:
                await asyncio.to_thread(self._marker(job.path).touch)
            except OSError:  # the spool is whole, only not cached: the next open fetches it again
                pass
        job.error = error
        job.state = FAILED if error else DONE
        job._got_data()

    async def close(self) -> None:
        """Stop every download and follow (their spools stay, without the complete marker)."""
        tasks = [j.task for j in self._jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
