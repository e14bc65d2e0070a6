"""AWS log readers shared by every backend that meets AWS logs: an S3 object read by byte range
(:class:`S3RangeReader`, a :class:`~opsconsole.logs.ranged.RangeReader`) and a CloudWatch Logs
stream (:class:`CloudWatchStream`, a :class:`~opsconsole.logs.ref.LogStream`).

Why here and not in a backend: the ECS backend (task logs, ``opsconsole tail s3://…``) and the
Airflow backend (task logs written by Airflow's remote logging to S3 or CloudWatch) both read
them, and backends may not import each other. boto3 is never imported at module level: the
first client made (in a worker thread) imports it, so importing this module costs nothing and
a profile without AWS never loads boto3.

* **S3**: the first ``size()`` is one ``GET`` of the object's last 512 KB (``Range: bytes=-N``:
  its Content-Range carries the size), which also serves the viewer's tail window; later
  ``size()`` calls are HEADs and ``read_range`` one ``GET`` with ``Range: bytes=a-b``. Opened at
  its tail a 900 MB object costs that one request (512 KB). When a reader asks
  for the object's start on a large object (the line index is being built: a search or a jump
  needs the whole object), the object is streamed **once** into a local spool file (one GET,
  in a thread) and every later range is read from that file: indexing, then each search, read
  the local copy instead of transferring the object again. The spool is named from the
  bucket, key and ETag, and kept: the next open of the same object version reads nothing but
  that first tail request.
* **CloudWatch**: the first read asks for the stream's tail (``startFromHead=False``, bounded),
  then follows with ``nextForwardToken`` (pages bounded per read; the end is the token coming
  back unchanged). An optional ``finished()`` says the writer has stopped (an ECS task that
  STOPPED): the stream then ends ``done`` once it is read to its end.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .ref import StreamChunk

TAIL_PREFETCH = 512 * 1024  # the first GET: the object's end (the viewer's tail window and its blocks)
SPOOL_WHOLE_ABOVE = 4 << 20  # objects larger than this are streamed once when read from their start
SPOOL_BUDGET = 8 << 30  # whole-object spools kept, least recently used deleted first
STREAM_CHUNK = 1 << 20  # bytes per read() of a whole-object GET
TAIL_EVENTS = 2000  # CloudWatch events fetched for the first screen
PAGE_EVENTS = 10000  # events per forward page (the API's maximum)
MAX_PAGES = 20  # forward pages per read(): a huge backlog is caught up over several reads
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                            "RequestLimitExceeded", "SlowDown", "ProvisionedThroughputExceededException"})


@dataclass(frozen=True)
class AwsConfig:
    """Where and as whom to call AWS: an ~/.aws profile (or the standard credential chain when
    None), a region, an endpoint (private endpoints, tests) and a timeout per call. Never keys."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    timeout: float = 20.0


_clients: dict[tuple[str, AwsConfig], Any] = {}
_clients_lock = threading.Lock()


def client(service: str, aws: AwsConfig) -> Any:
    """A boto3 client for `service` (cached per config; boto3 clients are thread-safe, sessions
    are not, so they are made under a lock). Blocking: call from a worker thread. boto3 is
    imported here, on first use."""
    key = (service, aws)
    with _clients_lock:
        found = _clients.get(key)
        if found is not None:
            return found
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=aws.profile, region_name=aws.region)
        config = Config(connect_timeout=min(aws.timeout, 10.0), read_timeout=aws.timeout,
                        retries={"mode": "standard", "max_attempts": 3})
        made = session.client(service, endpoint_url=aws.endpoint_url, config=config,
                              region_name=aws.region or session.region_name or "us-east-1")
        _clients[key] = made
        return made


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLE_CODES


def call_with_backoff(fn: Callable[[], Any], *, budget: float = 20.0, base: float = 0.2,
                      sleep: Callable[[float], None] = time.sleep) -> Any:
    """`fn()`, retried with exponential backoff and jitter while AWS throttles it, for at most
    `budget` seconds (botocore's own retries come first). Other errors are raised at once.
    Blocking: call from a worker thread."""
    deadline = time.monotonic() + budget
    delay = base
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_throttling(exc) or time.monotonic() + delay > deadline:
                raise
        sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 5.0)


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/key` → (bucket, key); ValueError naming what is missing."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() != "s3" or not sep:
        raise ValueError(f"{url}: not an s3:// URL")
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ValueError(f"{url}: an S3 URL names a bucket and a key: s3://bucket/path/to/object")
    return bucket, unquote(key)


def parse_cloudwatch_url(url: str) -> tuple[str, str]:
    """`cloudwatch://group/stream` → (group, stream). Groups and streams hold slashes (group
    `/ecs/app`, awslogs stream `ecs/main/<task id>`): a `//` separates them when present
    (`cloudwatch:///ecs/app//ecs/main/abc`), else the last `/` does."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in ("cloudwatch", "logs") or not sep:
        raise ValueError(f"{url}: not a cloudwatch:// URL")
    if "//" in rest:
        group, _, stream = rest.partition("//")
    else:
        group, _, stream = rest.rpartition("/")
    group, stream = unquote(group), unquote(stream)
    if not group or not stream:
        raise ValueError(f"{url}: a CloudWatch URL names a log group and a stream: cloudwatch://group/stream")
    return group, stream


class S3RangeReader:
    """An S3 object as a `RangeReader` (see the module doc): the tail and size in one GET, ranged GETs, and
    a one-time whole-object stream into `spool_dir` when the object is read from its start.
    Thread-safe. `bytes_transferred` counts every body byte received from S3."""

    complete = True  # an S3 object does not grow: the viewer does not poll it

    def __init__(self, bucket: str, key: str, aws: AwsConfig, *, spool_dir: Path | None = None,
                 spool_whole_above: int = SPOOL_WHOLE_ABOVE) -> None:
        self.bucket, self.key, self.aws = bucket, key, aws
        self.name = f"s3://{bucket}/{key}"
        self.spool_dir = spool_dir
        self.spool_whole_above = spool_whole_above
        self.bytes_transferred = 0
        self.requests = 0
        self._size: int | None = None
        self._tail: tuple[int, bytes] | None = None  # (offset, bytes) of the object's end, from the first GET
        self._etag = ""
        self._lock = threading.Condition()
        self._spooled = 0  # bytes of the object in the local spool file
        self._spool_path: Path | None = None
        self._spool_error: BaseException | None = None
        self._spool_thread: threading.Thread | None = None
        self._spool_fd: int | None = None
        self._closed = False

    def _client(self) -> Any:
        return client("s3", self.aws)

    def size(self) -> int:
        """The object's size. The first call is one GET of the object's last `TAIL_PREFETCH`
        bytes (`Range: bytes=-N`, whose Content-Range carries the size): the viewer's tail
        window is then served without another request. Later calls are HEADs."""
        if self._size is None and self._tail is None:
            try:
                return self._first_size()
            except Exception as exc:  # an empty object has no range: ask HEAD
                if error_code(exc) != "InvalidRange":
                    raise
        try:
            head = call_with_backoff(lambda: self._client().head_object(Bucket=self.bucket, Key=self.key),
                                     budget=self.aws.timeout)
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"{self.name}: no such object") from None
            raise
        with self._lock:
            self.requests += 1
            self._size = int(head["ContentLength"])
            self._etag = str(head.get("ETag", "")).strip('"')
            self._adopt_cached_spool()
            return self._size

    def _first_size(self) -> int:
        try:
            response = call_with_backoff(lambda: self._client().get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes=-{TAIL_PREFETCH}"), budget=self.aws.timeout)
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(f"{self.name}: no such object") from None
            raise
        data = bytes(response["Body"].read())
        total = str(response.get("ContentRange") or "").rpartition("/")[2]
        size = int(total) if total.isdigit() else len(data)
        with self._lock:
            self.requests += 1
            self.bytes_transferred += len(data)
            self._size = size
            self._tail = (size - len(data), data)
            self._etag = str(response.get("ETag", "")).strip('"')
            self._adopt_cached_spool()
            return size

    # -- ranges -----------------------------------------------------------------------

    def read_range(self, offset: int, n: int) -> bytes:
        if n <= 0:
            return b""
        if self._size is None:
            self.size()
        size = self._size or 0
        end = min(offset + n, size)
        if offset >= end:
            return b""
        if offset == 0 and size > self.spool_whole_above:
            self._start_spool()  # the whole object is wanted (index, search): stream it once
        tail = self._tail
        if tail is not None and tail[0] <= offset and end <= tail[0] + len(tail[1]):
            return tail[1][offset - tail[0]:end - tail[0]]
        local = self._read_spooled(offset, end)
        if local is not None:
            return local
        return self._get(offset, end)

    def _get(self, offset: int, end: int) -> bytes:
        response = call_with_backoff(lambda: self._client().get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={offset}-{end - 1}"), budget=self.aws.timeout)
        data = response["Body"].read()
        with self._lock:
            self.bytes_transferred += len(data)
            self.requests += 1
        return bytes(data)

    def _read_spooled(self, offset: int, end: int) -> bytes | None:
        """From the spool file when it holds [offset, end) or is about to (the stream is running
        and the range starts within what it has reached + one chunk); else None."""
        with self._lock:
            if self._spool_path is None:
                return None
            while self._spooled < end and self._spool_error is None and not self._closed:
                running = self._spool_thread is not None and self._spool_thread.is_alive()
                if not running or offset > self._spooled + 4 * STREAM_CHUNK:
                    return None  # far ahead of the stream (the viewer's tail): ask S3 for it
                self._lock.wait(0.5)
            if self._spooled < end:
                return None
            fd = self._spool_fd
        if fd is None:
            return None
        return os.pread(fd, end - offset, offset)

    # -- the whole-object spool -------------------------------------------------------

    def _spool_file(self) -> Path | None:
        if self.spool_dir is None:
            return None
        ident = f"{self.aws.endpoint_url or ''}|{self.bucket}|{self.key}|{self._etag}"
        digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.spool_dir / f"s3-{digest}.obj"

    def _adopt_cached_spool(self) -> None:
        """(Under the lock.) A complete spool of this very object version from an earlier open."""
        path = self._spool_file()
        if path is None or self._spool_path is not None:
            return
        try:
            if path.with_suffix(".complete").exists() and path.stat().st_size == self._size:
                self._spool_fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                self._spool_path, self._spooled = path, self._size or 0
        except OSError:
            pass

    def _start_spool(self) -> None:
        with self._lock:
            if self._spool_path is not None or self._closed:
                return
            path = self._spool_file()
            if path is None:
                return
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _trim_spools(path.parent, keep=self._size or 0)
                part = path.with_suffix(".part")
                writer = open(part, "wb", buffering=0)
                self._spool_fd = os.open(part, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                return
            self._spool_path = part
            thread = threading.Thread(target=self._stream, args=(writer, part, path), daemon=True,
                                      name=f"s3-spool {self.key[-40:]}")
            self._spool_thread = thread
        thread.start()

    def _stream(self, writer: Any, part: Path, final: Path) -> None:
        try:
            with writer:
                response = self._client().get_object(Bucket=self.bucket, Key=self.key)
                with self._lock:
                    self.requests += 1
                body = response["Body"]
                while not self._closed:
                    data = body.read(STREAM_CHUNK)
                    if not data:
                        break
                    writer.write(data)
                    with self._lock:
                        self.bytes_transferred += len(data)
                        self._spooled += len(data)
                        self._lock.notify_all()
                body.close()
            if not self._closed and self._spooled == self._size:
                os.replace(part, final)
                final.with_suffix(".complete").touch()
        except Exception as exc:  # readers fall back to ranged GETs
            with self._lock:
                self._spool_error = exc
        finally:
            with self._lock:
                self._lock.notify_all()

    def wait_spooled(self, timeout: float) -> bool:
        """(Tests, tools.) Until the whole-object spool is complete; True if it is."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._spooled < (self._size or 0) and self._spool_error is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._spool_thread is None:
                    break
                self._lock.wait(min(left, 0.5))
            return self._size is not None and self._spooled >= self._size

    def close(self) -> None:
        with self._lock:
            self._closed = True
            fd, self._spool_fd = self._spool_fd, None
            self._lock.notify_all()
        thread = self._spool_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        if fd is not None:
            os.close(fd)


def _trim_spools(folder: Path, keep: int, budget: int = SPOOL_BUDGET) -> None:
    """Delete the least recently used whole-object spools until `keep` more bytes fit in `budget`."""
    try:
        spools = sorted((p.stat().st_atime, p.stat().st_size, p) for p in folder.glob("s3-*.obj"))
    except OSError:
        return
    total = sum(size for _, size, _ in spools)
    for _, size, path in spools:
        if total + keep <= budget:
            break
        path.unlink(missing_ok=True)
        path.with_suffix(".complete").unlink(missing_ok=True)
        total -= size


def render_event(event: dict[str, Any]) -> str:
    """One CloudWatch event as a display line: the message as the program wrote it (the
    awslogs driver keeps the container's own line, timestamps included)."""
    message = str(event.get("message", ""))
    return message if message.endswith("\n") else message + "\n"


def event_time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


class CloudWatchStream:
    """A CloudWatch Logs stream as a `LogStream`: its tail first, then followed forward.

    `finished()` (optional, blocking, called from a thread) returns True once nothing will be
    written any more (the task stopped): the stream then ends when a read finds nothing new.
    `tail_events` bounds the first read; `page_events`/`max_pages` bound each following read.
    """

    def __init__(self, group: str, stream: str, aws: AwsConfig, *, tail_events: int = TAIL_EVENTS,
                 page_events: int = PAGE_EVENTS, max_pages: int = MAX_PAGES, interval: float = 2.0,
                 finished: Callable[[], bool] | None = None, label: str | None = None) -> None:
        self.group, self.stream, self.aws = group, stream, aws
        self.tail_events, self.page_events, self.max_pages = tail_events, page_events, max_pages
        self.interval = interval
        self.finished = finished
        where = aws.endpoint_url or aws.region or "default"
        self.key = f"cloudwatch/{where}/{group}/{stream}/tail{tail_events}"
        self.label = label or f"cloudwatch://{group}/{stream}"
        self.calls = 0
        self.events = 0

    def poll_interval(self, size: int) -> float:
        return self.interval

    def _page(self, **kw: Any) -> dict[str, Any]:
        logs = client("logs", self.aws)
        self.calls += 1
        result: dict[str, Any] = call_with_backoff(
            lambda: logs.get_log_events(logGroupName=self.group, logStreamName=self.stream, **kw),
            budget=self.aws.timeout)
        return result

    def _render(self, events: list[dict[str, Any]]) -> bytes:
        self.events += len(events)
        return "".join(render_event(e) for e in events).encode("utf-8", "replace")

    async def read(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        import asyncio

        token = cursor if isinstance(cursor, str) else None
        if token is None:  # the tail: the last `tail_events` events, in order
            page = await asyncio.to_thread(self._page, startFromHead=False, limit=self.tail_events)
            token = page.get("nextForwardToken")
            yield StreamChunk(self._render(page.get("events", [])), cursor=token)
        pages = 0
        got_any = False
        while token is not None and pages < self.max_pages:
            page = await asyncio.to_thread(self._page, startFromHead=True, nextToken=token, limit=self.page_events)
            pages += 1
            events = page.get("events", [])
            new = page.get("nextForwardToken")
            if events:
                got_any = True
                yield StreamChunk(self._render(events), cursor=new)
            if not events or new == token:
                token = new
                break
            token = new
        if not got_any and pages < self.max_pages and self.finished is not None:
            if await asyncio.to_thread(self.finished):
                yield StreamChunk(b"", cursor=token, done=True)


class BackgroundSpool:
    """A :class:`~opsconsole.logs.spool.LogSpool` on an event loop of its own (a daemon thread),
    for references made before any loop runs (``opsconsole tail cloudwatch://…`` builds its
    references before the viewer starts). The job's fields are plain attributes that the
    viewer reads from its own thread, as with any spool job."""

    _instance: "BackgroundSpool | None" = None
    _lock = threading.Lock()

    def __init__(self, root: Path) -> None:
        import asyncio

        from .spool import LogSpool

        self.spool = LogSpool(root)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="log-spool-loop", daemon=True)
        self._thread.start()

    @classmethod
    def shared(cls, root: Path) -> "BackgroundSpool":
        with cls._lock:
            if cls._instance is None or cls._instance.spool.root != Path(root):
                cls._instance = cls(Path(root))
            return cls._instance

    def open(self, stream: Any, timeout: float = 10.0) -> Any:
        """The spool job of `stream` (started on the background loop; waits only for its file)."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(self.spool.open(stream), self.loop).result(timeout)
