"""Pod logs and exec output as log streams for the generic spool (logs/spool.py).

A pod log opens at its tail (`tailLines`, `limitBytes`), then follows. Lines are asked with
timestamps: the last one seen is the cursor, so a follow that drops (a network blip, the
container restarting) goes on with `sinceTime` and skips what it already has. The stream ends
when the container has terminated and the pod will not restart it, or when the pod is gone.
A container in CrashLoopBackOff has no current log: its previous container's log is shown.

Long reads (a follow, an exec) run in a thread of their own, never in the event loop's small
default pool, and hand their bytes over through an asyncio queue."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from opsconsole.backends.kubernetes.client import api_error
from opsconsole.backends.kubernetes.podinfo import container_status
from opsconsole.logs.ref import StreamChunk

if TYPE_CHECKING:
    from opsconsole.backends.kubernetes.client import KubeClient

_END = object()
FOLLOW_SILENCE = 300.0


IDLE = object()  # yielded by thread_iter when nothing came for `idle` seconds


async def thread_iter(produce: Callable[[], Iterator[bytes]], name: str, *, idle: float | None = None,
                      on_stop: Callable[[], None] | None = None) -> AsyncIterator[Any]:
    """Iterate a blocking generator in a dedicated thread; items arrive through a queue.
    With `idle`, yields IDLE after that many quiet seconds (the caller may check something).
    Leaving the iteration early calls `on_stop` (which should unblock the producer: close its
    connection) and stops the thread at its next item."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
    stop = threading.Event()

    def put(item: Any) -> None:
        try:
            fut = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        except RuntimeError:  # the loop is closed
            return
        while True:  # the same put until it is done (a retried put could deliver twice)
            try:
                fut.result(timeout=0.5)
                return
            except TimeoutError:
                if stop.is_set():
                    fut.cancel()
                    return
            except Exception:  # noqa: BLE001 - cancelled, the loop went away
                return

    def work() -> None:
        try:
            for data in produce():
                if stop.is_set():
                    return
                put(data)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            if not stop.is_set():
                put(exc)
            return
        put(_END)

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while True:
            if idle is None:
                item = await queue.get()
            else:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=idle)
                except asyncio.TimeoutError:
                    yield IDLE
                    continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        if on_stop is not None:
            on_stop()


class PodLogStream:
    """One container's log: its tail, then followed (or the previous container's, whole)."""

    def __init__(self, client: "KubeClient", namespace: str, pod: str, container: str | None, *,
                 previous: bool = False, tail_lines: int = 2000, limit_bytes: int = 4 << 20,
                 get_pod: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.client = client
        self.namespace, self.pod, self.container = namespace, pod, container
        self.previous = previous
        self.tail_lines, self.limit_bytes = tail_lines, limit_bytes
        ctx = client.context_name or client.settings.context or "-"
        self.key = f"k8s/{ctx}/{namespace}/{pod}/{container or ''}{'/previous' if previous else ''}"
        self.label = f"pod {namespace}/{pod}" + (f" [{container}]" if container else "") + (" (previous)" if previous else "")
        self._response: Any = None
        self.follows = 0  # follow requests made (a resumed follow counts again)
        self.check_every = 5.0  # seconds of a quiet follow before checking whether the pod ended

    def poll_interval(self, size: int) -> float:
        return 1.0

    def _args(self, **extra: Any) -> dict[str, Any]:
        args: dict[str, Any] = {"timestamps": True}
        if self.container:
            args["container"] = self.container
        args.update({k: v for k, v in extra.items() if v is not None})
        return args

    async def read(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        last = cursor if isinstance(cursor, str) else None
        if cursor is None:  # the tail first: bounded in lines and bytes
            text = await self.client.call(self._read_tail)
            data, last = split_timestamps(text, None)
            yield StreamChunk(data, cursor=last or "")
            if self.previous:
                yield StreamChunk(b"", done=True)
                return
        if self.previous:
            yield StreamChunk(b"", done=True)
            return
        # then follow from the last line seen (sinceTime has second precision: the lines of
        # that second come again and are skipped by their full timestamps)
        self.follows += 1
        try:
            async for raw in thread_iter(lambda: self._follow(last or None), f"k8s-log {self.pod}",
                                         idle=self.check_every, on_stop=self._stop_follow):
                if raw is IDLE:  # quiet: has the pod ended (a kubelet that keeps following)?
                    if await self.client.call(self._finished):
                        yield StreamChunk(b"", cursor=last or "", done=True)
                        return
                    continue
                data, new_last = split_timestamps(raw.decode("utf-8", "replace"), last or None)
                if new_last:
                    last = new_last
                if data:
                    yield StreamChunk(data, cursor=last or "")
        except Exception as exc:  # noqa: BLE001 - a container waiting to start, a dropped follow
            err = api_error(exc)
            if err.status == 404:  # the pod is gone: nothing more will come
                yield StreamChunk(f"── pod {self.namespace}/{self.pod} is gone ──\n".encode(), done=True)
                return
            if err.status != 400 and not _dropped(exc):  # 400: the container is not running (yet)
                raise err from None
        # the follow ended: has the container ended for good?
        if await self.client.call(self._finished):
            yield StreamChunk(b"", cursor=last or "", done=True)

    def _stop_follow(self) -> None:
        resp = self._response
        if resp is not None:
            from opsconsole.backends.kubernetes.watch import _interrupt

            _interrupt(resp)

    def _read_tail(self) -> str:
        kw = self._args(tail_lines=self.tail_lines, limit_bytes=self.limit_bytes, previous=self.previous or None)
        resp = self.client.open_stream("read_namespaced_pod_log", self.pod, self.namespace, **kw)
        try:
            return resp.data.decode("utf-8", "replace")
        finally:
            resp.release_conn()

    def _follow(self, since: str | None) -> Iterator[bytes]:
        kw = self._args(follow=True, since_seconds=_since_seconds(since) if since else None,
                        tail_lines=None if since else 0)
        # a follow silent this long is taken as a dead connection: it resumes from the last line
        resp = self.client.open_stream("read_namespaced_pod_log", self.pod, self.namespace,
                                       read_timeout=FOLLOW_SILENCE, **kw)
        self._response = resp
        try:
            buf = b""
            for chunk in resp.stream(amt=None, decode_content=True):
                buf += chunk
                nl = buf.rfind(b"\n")
                if nl >= 0:
                    yield buf[:nl + 1]
                    buf = buf[nl + 1:]
            if buf:
                yield buf + b"\n"
        finally:
            self._response = None
            resp.release_conn()

    def _finished(self) -> bool:
        """(Blocking.) The container terminated and will not be restarted, or the pod is gone."""
        try:
            pod = self.client.json("read_namespaced_pod", self.pod, self.namespace)
        except Exception as exc:  # noqa: BLE001
            if api_error(exc).status == 404:
                return True
            raise api_error(exc) from None
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return True
        state = container_status(pod, self.container).get("state") or {}
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        return bool(state.get("terminated")) and policy == "Never"


def _since_seconds(ts: str) -> int:
    """sinceSeconds that reaches back to the line stamped `ts`, with a margin for clock skew
    (the client takes no sinceTime; what comes twice is skipped by its timestamp)."""
    import math
    from datetime import datetime, timezone

    try:
        then = datetime.fromisoformat(ts.rstrip("Z")[:26]).replace(tzinfo=timezone.utc)
    except ValueError:
        return 3600
    return max(1, math.ceil(time.time() - then.timestamp())) + 5


def _dropped(exc: BaseException) -> bool:
    """A connection that broke or timed out (the follow goes on), not a refusal."""
    import urllib3

    return isinstance(exc, (urllib3.exceptions.HTTPError, OSError))


def split_timestamps(text: str, after: str | None) -> tuple[bytes, str | None]:
    """Lines "<RFC3339Nano> msg" → (b"msg\\n"..., the last timestamp), skipping the lines at or
    before `after` (already shown)."""
    out: list[str] = []
    last = after
    for line in text.splitlines():
        ts, sep, msg = line.partition(" ")
        if not sep or not ts[:4].isdigit() or "T" not in ts:
            out.append(line)  # no timestamp (kept as is)
            continue
        if after is not None and _ts_key(ts) <= _ts_key(after):
            continue
        out.append(msg)
        last = ts
    return ("".join(f"{line}\n" for line in out).encode("utf-8", "replace"), last)


def _ts_key(ts: str) -> str:
    """Timestamps compare as text once their fraction has a fixed width (the kubelet trims
    trailing zeros: 12:00:00.5Z < 12:00:00.123Z is false as text)."""
    head, _, frac = ts.rstrip("Z").partition(".")
    return f"{head}.{frac.split('+')[0]:0<9}"


class ExecStream:
    """A command run once in a container: stdout and stderr as they come, then its exit code."""

    def __init__(self, client: "KubeClient", namespace: str, pod: str, container: str | None,
                 command: list[str], timeout: float = 3600.0) -> None:
        self.client = client
        self.namespace, self.pod, self.container, self.command = namespace, pod, container, command
        self.timeout = timeout
        ctx = client.context_name or client.settings.context or "-"
        self.key = f"k8s-exec/{ctx}/{namespace}/{pod}/{container or ''}/{time.time_ns()}"
        self.label = f"exec {namespace}/{pod}: {' '.join(command)}"
        self.exit_code: int | None = None
        self.status_message = ""
        self._ws: Any = None

    def poll_interval(self, size: int) -> float:
        return 0.5

    async def read(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        if cursor is not None:  # an exec runs once: a re-read after its end has nothing more
            yield StreamChunk(b"", done=True)
            return
        async for data in thread_iter(self._run, f"k8s-exec {self.pod}", on_stop=self._close):
            yield StreamChunk(data, cursor="ran")  # (no idle: thread_iter yields only bytes here)
        code = self.exit_code
        tail = f"── exit code {code} ──\n" if code is not None else f"── exit code unknown: {self.status_message} ──\n"
        yield StreamChunk(tail.encode("utf-8", "replace"), cursor="ran", done=True)

    def _close(self) -> None:
        ws = self._ws
        if ws is not None and ws.is_open():
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - closing a stream nobody reads any more
                pass

    def _run(self) -> Iterator[bytes]:
        from kubernetes.stream import stream

        kw: dict[str, Any] = {"command": self.command, "stderr": True, "stdin": False, "stdout": True,
                              "tty": False, "_preload_content": False}
        if self.container:
            kw["container"] = self.container
        try:
            ws = stream(self.client.core.connect_get_namespaced_pod_exec, self.pod, self.namespace, **kw)
        except Exception as exc:  # noqa: BLE001
            raise api_error(exc) from None
        self._ws = ws
        end = time.monotonic() + self.timeout
        pending = b""
        try:
            while ws.is_open() and time.monotonic() < end:
                ws.update(timeout=0.5)
                for ch in (1, 2):  # stdout, stderr, in arrival order per channel
                    if ws.peek_channel(ch):
                        text = ws.read_channel(ch)
                        pending += text.encode("utf-8", "replace") if isinstance(text, str) else text
                nl = pending.rfind(b"\n")
                if nl >= 0:
                    yield pending[:nl + 1]
                    pending = pending[nl + 1:]
            for ch in (1, 2):
                if ws.peek_channel(ch):
                    text = ws.read_channel(ch)
                    pending += text.encode("utf-8", "replace") if isinstance(text, str) else text
            if pending:
                yield pending if pending.endswith(b"\n") else pending + b"\n"
            self.exit_code, self.status_message = exec_status(ws)
        finally:
            ws.close()


def exit_code(ws: Any) -> int | None:
    """The command's exit code, from the exec's status channel; None when no status came."""
    return exec_status(ws)[0]


def exec_status(ws: Any) -> tuple[int | None, str]:
    """(exit code, message) from the exec's status channel (3): Success is 0; a failure names
    the code in its causes (reason ExitCode, as a kubelet sends it) or, from some kubelets
    (kwok), only in its message ("... exit status 3")."""
    import re

    try:
        raw = ws.read_channel(3)
    except Exception:  # noqa: BLE001
        raw = ""
    if not raw:
        return None, "no exit status (the connection ended first)"
    try:
        status = json.loads(raw)
    except ValueError:
        return None, str(raw)[:300]
    if status.get("status") == "Success":
        return 0, ""
    message = str(status.get("message") or "")
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), message
            except (TypeError, ValueError):
                pass
    found = re.search(r"exit (?:status|code) (\d+)", message)
    return (int(found.group(1)) if found else None), message
