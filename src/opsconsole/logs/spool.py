"""Streams into local spool files: one generic spooler for every backend's log stream.

A backend that can only *stream* a log (Airflow's log API, CloudWatch, a pod log, journald
over SSH) does not write files or threads of its own. It writes a :class:`~opsconsole.logs.ref.LogStream`:

.. code-block:: python

    class PodLogStream:
        def __init__(self, client, pod):
            self.key = f"k8s/{client.context}/{pod.namespace}/{pod.name}"  # stable identity
            self.label = f"pod {pod.name}"                                  # for the operator
            self._client, self._pod = client, pod

        async def read(self, cursor):          # an async generator
            async for lines, since in self._client.logs(self._pod, since=cursor):
                yield StreamChunk(render(lines), cursor=since)   # whole display lines
            if await self._client.finished(self._pod):
                yield StreamChunk(b"", done=True)                # never grows again

        def poll_interval(self, size):         # seconds until the next read(cursor)
            return 2.0

``read(cursor)`` yields what is available after ``cursor`` (``None`` the first time) and
ends; ``done=True`` on a chunk says the stream is over (the spool is then whole and cached).
When a read ends without ``done`` the spool sleeps ``poll_interval(size)`` and reads again
from the last cursor it was given (a chunk with ``cursor=None`` keeps the previous one).
An exception ends the job in FAILED with its message; the caller may open it again.

:class:`LogSpool` turns that into a local file the viewer reads like any other (through a
:class:`~opsconsole.logs.ref.StreamLog` carrying the :class:`SpoolJob`): it caches finished
streams (a ``.complete`` marker next to the spool file, so the next open reads nothing),
shares one job per stream while it runs, writes batches in a thread (nothing here blocks the
event loop), and says how far each job got (preparing, streaming, following, done, failed).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from opsconsole.domain.items import human_bytes
from .ref import LogStream
from .source import LocalFileSource, SpoolWriter

BATCH = 1 << 20  # bytes held back (while a write is in flight) before the reader waits for the disk
_PREFIX = 40  # readable part of a spool file name
_SUFFIX = ".log"
_MARKER = ".complete"


class SpoolState(str, enum.Enum):
    """How far a stream got into its spool. A `str`, so `job.state == "done"` works too."""

    PREPARING = "preparing"  # asked, no byte yet (the server thinks: ~0.14 s per MB on Airflow 3)
    STREAMING = "streaming"  # the first read is yielding
    FOLLOWING = "following"  # the first read ended without `done`: polling for more
    DONE = "done"  # whole; cached for the next open
    FAILED = "failed"  # ended by an error (or cancelled); `error` says why

    def __str__(self) -> str:
        return self.value


PREPARING, STREAMING, FOLLOWING, DONE, FAILED = (SpoolState.PREPARING, SpoolState.STREAMING,
                                                 SpoolState.FOLLOWING, SpoolState.DONE, SpoolState.FAILED)


@dataclass(frozen=True)
class SpoolStatus:
    """A snapshot of a job, cheap to take and compare (observers poll this, any thread)."""

    state: SpoolState
    size: int
    lines: int
    waiting: float
    error: str | None
    version: int
    received: int | None = None
    note: str = ""

    @property
    def complete(self) -> bool:
        return self.state in (DONE, FAILED)

    def describe(self) -> str:
        """Short status-line text: "⏳ preparing 12s", "⬇ downloading 12.3 MB", "streaming 4.2 MB",
        "following", "done", "failed: …"; then the stream's note ("retrying after ReadTimeout")."""
        if self.state is FAILED:
            return f"failed: {self.error or 'unknown error'}"
        if self.received is not None:
            text = f"⬇ downloading {human_bytes(self.received)}"
        elif self.state is PREPARING:
            text = f"⏳ preparing {self.waiting:.0f}s"
        elif self.state is STREAMING:
            text = f"streaming {human_bytes(self.size)}"
        else:
            text = self.state.value
        return f"{text} ({self.note})" if self.note else text

    @property
    def busy(self) -> bool:
        """Worth showing first: waiting for the server, downloading, or in trouble."""
        return not self.complete and (self.state is PREPARING or self.received is not None or bool(self.note))


@dataclass(eq=False)
class SpoolJob:
    """One stream on its way into a spool file.

    Mutated only on the event loop that runs the spool; its fields are plain attributes, so
    another thread (the viewer's engine thread) may read them, or take a `status()` snapshot.
    `version` goes up on every change, so an observer can tell "nothing new" with one compare.
    """

    path: Path
    label: str
    key: str = ""
    state: SpoolState = PREPARING
    started: float = field(default_factory=time.monotonic)
    first_byte: float | None = None
    size: int = 0
    lines: int = 0
    error: str | None = None
    received: int | None = None  # bytes of the response in flight, while a read downloads
    note: str = ""  # the stream's condition worth showing ("retrying after ReadTimeout")
    task: asyncio.Task | None = None
    version: int = 0
    _first: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def waiting(self) -> float:
        """Seconds the stream has been preparing (until its first byte, or until now)."""
        return (self.first_byte or time.monotonic()) - self.started

    @property
    def ready(self) -> bool:
        """The first bytes are in the spool, or the job is following an empty stream, or ended."""
        return self._first.is_set()

    @property
    def complete(self) -> bool:
        """The spool will not grow any more (DONE or FAILED)."""
        return self.state in (DONE, FAILED)

    async def wait_ready(self) -> None:
        """Until `ready` (first bytes, following, or the end of the job, maybe in error)."""
        await self._first.wait()

    def status(self) -> SpoolStatus:
        """A consistent-enough snapshot for a status line (no lock: every field is one read)."""
        return SpoolStatus(self.state, self.size, self.lines, self.waiting, self.error, self.version,
                           self.received, self.note)

    def describe(self) -> str:
        """Status-line text for the job's state (see `SpoolStatus.describe`)."""
        return self.status().describe()

    # -- transitions (the spool's event loop only) --------------------------------------

    def _set(self, state: SpoolState) -> None:
        if self.state is not state:
            self.state = state
            self.version += 1

    def _wrote(self, size: int, lines: int) -> None:
        self.size += size
        self.lines += lines
        self.version += 1
        if size:
            if self.first_byte is None:
                self.first_byte = time.monotonic()
            self._first.set()

    def _ready(self) -> None:
        self._first.set()

    def _report(self, received: int | None, note: str | None) -> None:
        """A chunk's reports: bytes downloaded so far (None once its data arrived), its note."""
        if received != self.received:
            self.received = received
            self.version += 1
        if note is not None and note != self.note:
            self.note = note
            self.version += 1

    def _end(self, error: str | None) -> None:
        self.error = error
        self._set(FAILED if error else DONE)
        self.version += 1
        self._first.set()


def spool_name(key: str) -> str:
    """File name of a stream's spool: a short readable prefix and a hash of the whole key.

    The hash makes names unique however long or alike the keys are (truncating the prefix
    cannot make two keys collide); the prefix keeps only ``[A-Za-z0-9._-]`` and never starts
    with a dot, so a key such as ``../../etc/passwd`` still names a file inside the root.
    """
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    prefix = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:_PREFIX].strip("._-")
    return f"{prefix}-{digest}{_SUFFIX}" if prefix else f"{digest}{_SUFFIX}"


def _marker(path: Path) -> Path:
    return path.with_name(path.name + _MARKER)


class LogSpool:
    """Spools `LogStream`s into files under `root` (e.g. the profile's `spool/` folder)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._jobs: dict[Path, SpoolJob] = {}
        self._closed = False

    def path_for(self, stream: LogStream) -> Path:
        """Where `stream` is spooled (always directly inside `root`)."""
        return self.root / spool_name(stream.key)

    def job(self, stream: LogStream) -> SpoolJob | None:
        """The latest job of `stream`, if it was opened (no I/O)."""
        return self._jobs.get(self.path_for(stream))

    async def open(self, stream: LogStream, *, fresh: bool = False) -> SpoolJob:
        """The job spooling `stream`: shared while in progress, cached (DONE at once, nothing
        read) when a previous run completed, else started now. `fresh` ignores the cache (a
        job in progress is still shared). A FAILED job is started again. Returns without
        waiting for data; the spool file exists (maybe empty) when this returns.

        Raises OSError if the spool file cannot be created (the job is then FAILED).
        """
        if self._closed:
            raise RuntimeError("the log spool is closed")
        path = self.path_for(stream)
        job = self._jobs.get(path)
        if job is not None and not job.complete:
            return job
        job = SpoolJob(path, stream.label, stream.key)
        self._jobs[path] = job  # claimed before the thread hop: an open meanwhile shares it
        try:
            prepared = await asyncio.to_thread(self._prepare, path, fresh)
        except BaseException as exc:  # the claim would wait forever: release it, say why
            if self._jobs.get(path) is job:
                del self._jobs[path]
            job._end(f"{type(exc).__name__}: {exc}")
            raise
        if isinstance(prepared, int):
            job.size = prepared
            job._end(None)
            return job
        job.task = asyncio.create_task(self._run(stream, job, prepared), name=f"log-spool {stream.label}")
        return job

    def _prepare(self, path: Path, fresh: bool) -> int | SpoolWriter:
        """(In a thread.) The size of a complete cached spool, else a writer on a new spool file.

        The folder is made on every open, so a spool root deleted under a running app comes
        back. An old spool is unlinked rather than truncated: a viewer still reading it keeps
        its bytes.
        """
        marker = _marker(path)
        if not fresh and marker.exists():
            try:
                return path.stat().st_size
            except FileNotFoundError:
                pass
        path.parent.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        return SpoolWriter(path)

    async def _run(self, stream: LogStream, job: SpoolJob, writer: SpoolWriter) -> None:
        batches = _Batches(writer, job)
        error: str | None = None
        cursor: object | None = None
        try:
            first = True
            while True:
                if not first and not await asyncio.to_thread(job.path.exists):
                    # the spool (or its whole folder) was deleted while following: start the
                    # file again from the stream's start; a viewer sees it as a rotation
                    await batches.settle()
                    await asyncio.to_thread(writer.finish)
                    fresh = await asyncio.to_thread(self._prepare, job.path, True)
                    assert isinstance(fresh, SpoolWriter)  # fresh: never the cached size
                    writer = fresh
                    batches = _Batches(writer, job)
                    cursor = None
                    job.size = job.lines = 0
                    job._report(None, "")
                done = False
                chunks = stream.read(cursor)
                try:
                    async for chunk in chunks:
                        job._report(chunk.received, chunk.note)
                        if chunk.received is not None:
                            continue  # a progress report, no data
                        if first and job.state is PREPARING:
                            job._set(STREAMING)
                        if chunk.data:
                            await batches.add(chunk.data)
                        if chunk.cursor is not None:
                            cursor = chunk.cursor
                        if chunk.done:
                            done = True
                            break
                finally:
                    aclose = getattr(chunks, "aclose", None)
                    if aclose is not None:
                        await aclose()
                await batches.flush()
                if done:
                    break
                first = False
                job._set(FOLLOWING)
                job._ready()  # even an empty stream is ready: the viewer follows it
                await asyncio.sleep(stream.poll_interval(job.size))
        except asyncio.CancelledError:
            error = "cancelled"
            batches.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - the job says what went wrong, the spool too
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            batches.cancel()
        finally:
            await self._finish(job, writer, batches, error)

    async def _finish(self, job: SpoolJob, writer: SpoolWriter, batches: "_Batches", error: str | None) -> None:
        def work() -> None:
            writer.finish(error)
            if not error:
                try:
                    _marker(job.path).touch()
                except OSError:  # whole but not cached (the root was deleted?): fetched again next time
                    pass

        try:
            await batches.settle()
            await asyncio.to_thread(work)
        except OSError as exc:
            error = error or f"{type(exc).__name__}: {exc}"
        finally:
            job._end(error)

    async def close(self) -> None:
        """Stop every job in progress (their spools stay, without the complete marker)."""
        self._closed = True
        tasks = [j.task for j in self._jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class JobSource(LocalFileSource):
    """A spool file read like a local file; `complete` once its job is DONE or FAILED, so the
    engine stops polling it (the job ends only after the last byte is written)."""

    def __init__(self, job: SpoolJob) -> None:
        super().__init__(job.path)
        self.job = job

    @property
    def complete(self) -> bool:
        return self.job.complete


class _Batches:
    """Chunks to the spool file in a thread, batched: while one write is in flight the next
    chunks gather, so a trickle is written at once and a flood in ~1 MB writes."""

    def __init__(self, writer: SpoolWriter, job: SpoolJob) -> None:
        self._writer = writer
        self._job = job
        self._pending = bytearray()
        self._task: asyncio.Task | None = None

    async def add(self, data: bytes) -> None:
        self._pending += data
        if self._task is None or self._task.done():
            if self._task is not None:
                self._task.result()  # a failed write ends the job
            self._task = asyncio.create_task(self._drain())
        elif len(self._pending) >= BATCH:  # the disk is slower than the stream: wait for it
            await self.flush()

    async def _drain(self) -> None:
        while self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            lines = await asyncio.to_thread(self._write, data)
            self._job._wrote(len(data), lines)

    def _write(self, data: bytes) -> int:
        self._writer.write(data)
        return data.count(b"\n")

    async def flush(self) -> None:
        """Until everything added is written (raises what a write raised)."""
        while True:
            task = self._task
            if task is not None and not task.done():
                await asyncio.shield(task)
                continue
            if task is not None:
                task.result()
            if not self._pending:
                return
            self._task = asyncio.create_task(self._drain())

    def cancel(self) -> None:
        """Drop what is not written yet; a write in flight finishes (`settle` waits for it)."""
        self._pending.clear()

    async def settle(self) -> None:
        """Until no write is in flight (before the writer is closed); errors were reported."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
