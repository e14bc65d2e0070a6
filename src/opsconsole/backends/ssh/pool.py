"""One SSH connection per host, reused by everything (panes, actions, log readers, kill steps),
reconnected with backoff.

The connections live on the pool's own event loop, in a daemon thread: asyncssh connections
belong to the loop that made them, and the callers are of three kinds — coroutines on the UI's
loop (:meth:`Pool.call`), worker threads of the log viewer (:meth:`Pool.call_blocking`, for
the SFTP range reader) and the CLI. Every remote operation has a timeout. A host whose connect
failed is not retried before its backoff delay (1 s doubling to 60 s): calls in that window
fail at once with :class:`HostDown`, so a dead host never holds a pane or a kill step.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shlex
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from opsconsole.backends.ssh import HostSettings

T = TypeVar("T")
BACKOFF_MIN, BACKOFF_MAX = 1.0, 60.0
CHANNELS_PER_HOST = 8  # concurrent sessions on one connection (sshd's MaxSessions is 10 by default)
KEEPALIVE = 15.0


class HostDown(ConnectionError):
    """The host cannot be reached now (the message says why and when it is retried)."""


class RemoteTimeout(TimeoutError):
    pass


@dataclass(frozen=True)
class Completed:
    """A remote command's outcome."""

    command: str
    exit_status: int | None  # None: killed by a signal, or no status
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def error(self) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return f"exit {self.exit_status}: {text[-1] if text else '(no output)'}"


class IoLoop:
    """An event loop in a daemon thread."""

    def __init__(self, name: str = "ssh-io") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> "concurrent.futures.Future[T]":
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    @property
    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


class HostConn:
    """The connection to one host (runs only on the pool's loop)."""

    def __init__(self, host: "HostSettings") -> None:
        self.host = host
        self._conn: Any = None
        self._sftp: Any = None
        self._lock: asyncio.Lock | None = None
        self._channels: asyncio.Semaphore | None = None
        self.failures = 0
        self.next_try = 0.0
        self.last_error: str | None = None
        self.down_since: float | None = None
        self.connected_at: float | None = None

    # -- connecting ----------------------------------------------------------------------------
    def connect_options(self) -> dict[str, Any]:
        h = self.host
        opts: dict[str, Any] = {"connect_timeout": h.connect_timeout, "keepalive_interval": KEEPALIVE,
                                "keepalive_count_max": 3}
        if h.port:
            opts["port"] = h.port
        if h.user:
            opts["username"] = h.user
        if h.identity:
            opts["client_keys"] = [os.path.expanduser(h.identity)]
        if h.known_hosts:
            # checked against this file; never disabled (asyncssh's known_hosts=None would)
            opts["known_hosts"] = os.path.expanduser(h.known_hosts)
        return opts

    async def connection(self) -> Any:
        if self._lock is None:
            self._lock = asyncio.Lock()
            self._channels = asyncio.Semaphore(CHANNELS_PER_HOST)
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            self._conn = self._sftp = None
            now = time.monotonic()
            if now < self.next_try:
                raise HostDown(f"{self.host.name}: unreachable ({self.last_error}); retry in {self.next_try - now:.0f}s")
            import asyncssh

            try:
                conn = await asyncio.wait_for(asyncssh.connect(self.host.address, **self.connect_options()),
                                              self.host.connect_timeout + 1)
            except Exception as exc:  # noqa: BLE001 - every reason a host is unreachable
                self.failures += 1
                delay = min(BACKOFF_MAX, BACKOFF_MIN * 2 ** (self.failures - 1))
                self.next_try = time.monotonic() + delay
                self.last_error = describe_error(exc)
                if self.down_since is None:
                    self.down_since = time.time()
                raise HostDown(f"{self.host.name}: {self.last_error}") from exc
            self._conn = conn
            self.failures, self.next_try, self.last_error, self.down_since = 0, 0.0, None, None
            self.connected_at = time.time()
            return conn

    def _lost(self, exc: BaseException) -> None:
        """A call failed with the connection: drop it (the next call reconnects)."""
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.abort()
        self.last_error = describe_error(exc)
        if self.down_since is None:
            self.down_since = time.time()

    async def _guard(self, what: Callable[[Any], Awaitable[T]], timeout: float) -> T:
        conn = await self.connection()
        assert self._channels is not None
        try:
            async with self._channels:
                return await asyncio.wait_for(what(conn), timeout)
        except asyncio.TimeoutError as exc:
            raise RemoteTimeout(f"{self.host.name}: no answer within {timeout:g}s") from exc
        except (OSError, EOFError) as exc:
            self._lost(exc)
            raise HostDown(f"{self.host.name}: connection lost ({describe_error(exc)})") from exc
        except Exception as exc:
            if _is_disconnect(exc):
                self._lost(exc)
                raise HostDown(f"{self.host.name}: connection lost ({describe_error(exc)})") from exc
            raise

    # -- operations ----------------------------------------------------------------------------
    async def run(self, command: str, timeout: float | None = None, stdin: str | None = None) -> Completed:
        t = timeout or self.host.timeout
        start = time.monotonic()

        async def go(conn: Any) -> Any:
            return await conn.run(command, check=False, input=stdin, timeout=t)

        try:
            res = await self._guard(go, t + 1)
        except Exception as exc:
            if type(exc).__name__ == "TimeoutError" and type(exc).__module__.startswith("asyncssh"):
                raise RemoteTimeout(f"{self.host.name}: `{command[:60]}` timed out after {t:g}s") from exc
            raise
        out, err = res.stdout or "", res.stderr or ""
        if isinstance(out, bytes):
            out = out.decode("utf-8", "replace")
        if isinstance(err, bytes):
            err = err.decode("utf-8", "replace")
        return Completed(command, res.exit_status, out, err, time.monotonic() - start)

    async def run_capped(self, command: str, limit: int, timeout: float | None = None) -> Completed:
        """`command` with stdout and stderr merged, keeping at most `limit` bytes of output: past
        it the session is closed (the exit status is then unknown) and the output says so."""
        t = timeout or self.host.timeout
        start = time.monotonic()

        async def go(conn: Any) -> Completed:
            import asyncssh

            proc = await conn.create_process(command, encoding=None, stderr=asyncssh.STDOUT)
            out = bytearray()
            try:
                while len(out) <= limit:
                    data = await proc.stdout.read(65536)
                    if not data:
                        break
                    out += data
                cut = len(out) > limit
                if not cut:
                    await proc.wait()
            finally:
                proc.close()
            text = bytes(out[:limit]).decode("utf-8", "replace")
            if cut:
                text += f"\n[opsconsole: output cut at {limit} bytes; the command was ended]\n"
            return Completed(command, None if cut else proc.exit_status, text, "", time.monotonic() - start)

        return await self._guard(go, t)

    async def sftp(self) -> Any:
        if self._sftp is None:
            conn = await self.connection()
            self._sftp = await asyncio.wait_for(conn.start_sftp_client(), self.host.timeout)
        return self._sftp

    async def sftp_op(self, op: Callable[[Any], Awaitable[T]], timeout: float | None = None) -> T:
        t = timeout or self.host.timeout
        try:
            sftp = await asyncio.wait_for(self.sftp(), t)
            return await asyncio.wait_for(op(sftp), t)
        except asyncio.TimeoutError as exc:
            raise RemoteTimeout(f"{self.host.name}: SFTP gave no answer within {t:g}s") from exc
        except Exception as exc:
            if _is_disconnect(exc) or isinstance(exc, (EOFError, ConnectionError)) and not isinstance(exc, HostDown):
                self._lost(exc)
                raise HostDown(f"{self.host.name}: connection lost ({describe_error(exc)})") from exc
            raise

    async def http_get(self, host: str, port: int, path: str, timeout: float | None = None) -> tuple[int, bytes]:
        """GET http://host:port/path from the host's side (a direct-tcpip channel: a port bound
        to the host's localhost is reachable without opening it to the network)."""
        t = timeout or self.host.timeout

        async def go(conn: Any) -> tuple[int, bytes]:
            reader, writer = await conn.open_connection(host, port, encoding=None)
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: text/plain\r\n"
                         f"Connection: close\r\n\r\n".encode())
            data = await reader.read()
            writer.close()
            return parse_http_response(data)

        return await self._guard(go, t)

    async def unix_request(self, path: str, request: bytes, timeout: float | None = None) -> bytes:
        """Send `request` to a unix socket on the host and read the answer to EOF
        (direct-streamlocal: supervisord's socket without a remote client)."""
        t = timeout or self.host.timeout

        async def go(conn: Any) -> bytes:
            reader, writer = await conn.open_unix_connection(path, encoding=None)
            writer.write(request)
            data = await reader.read()
            writer.close()
            return data

        return await self._guard(go, t)

    async def process(self, command: str) -> Any:
        """A long-running remote process (journalctl -f, grep): the caller reads and closes it."""
        conn = await self.connection()
        try:
            return await asyncio.wait_for(conn.create_process(command, encoding=None, stderr=asyncio.subprocess.STDOUT),
                                          self.host.timeout)
        except asyncio.TimeoutError as exc:
            raise RemoteTimeout(f"{self.host.name}: no session within {self.host.timeout:g}s") from exc

    async def close(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), 2)
            except Exception:  # noqa: BLE001
                pass


def parse_http_response(data: bytes) -> tuple[int, bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("not an HTTP response")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {status_line[:80]!r}")
    headers = head.decode("latin-1").lower()
    if "transfer-encoding: chunked" in headers:
        body = _dechunk(body)
    return int(parts[1]), body


def _dechunk(body: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            break
        size = int(body[pos:end].split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += body[end + 2:end + 2 + size]
        pos = end + 2 + size + 2
    return bytes(out)


def describe_error(exc: BaseException) -> str:
    """A short reason an operator understands (host key problems named as such)."""
    name = type(exc).__name__
    text = str(exc).strip() or name
    if "HostKeyNotVerifiable" in name or "Host key is not trusted" in text:
        return f"host key not trusted ({text}): add the host to known_hosts (never disabled)"
    if isinstance(exc, asyncio.TimeoutError):
        return "connect timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return text if name in text else f"{name}: {text}"


def _is_disconnect(exc: BaseException) -> bool:
    return type(exc).__name__ in ("ConnectionLost", "DisconnectError", "ChannelOpenError") and "open failed" not in str(exc).lower()


class Pool:
    """The hosts of one profile (or one URL), each with one connection, on one IoLoop."""

    def __init__(self, hosts: "tuple[HostSettings, ...] | list[HostSettings]") -> None:
        self.hosts = {h.name: h for h in hosts}
        self._io: IoLoop | None = None
        self._conns: dict[str, HostConn] = {}
        self._lock = threading.Lock()

    @property
    def io(self) -> IoLoop:
        with self._lock:
            if self._io is None:
                self._io = IoLoop()
            return self._io

    def conn(self, name: str) -> HostConn:
        with self._lock:
            c = self._conns.get(name)
            if c is None:
                if name not in self.hosts:
                    raise KeyError(f"no host {name!r} in this profile")
                c = self._conns[name] = HostConn(self.hosts[name])
            return c

    async def call(self, name: str, op: Callable[[HostConn], Coroutine[Any, Any, T]]) -> T:
        """Run `op(conn)` on the pool's loop, awaited from any loop."""
        conn = self.conn(name)
        io = self.io
        if io.in_loop:
            return await op(conn)
        return await asyncio.wrap_future(io.submit(op(conn)))

    def call_blocking(self, name: str, op: Callable[[HostConn], Coroutine[Any, Any, T]],
                      timeout: float | None = None) -> T:
        """The same from a worker thread (never from the pool's own loop)."""
        conn = self.conn(name)
        t = (timeout or conn.host.timeout) + 5
        return self.io.submit(op(conn)).result(t)

    async def run(self, name: str, command: str, timeout: float | None = None, stdin: str | None = None) -> Completed:
        return await self.call(name, lambda c: c.run(command, timeout, stdin))

    def status(self, name: str) -> HostConn:
        return self.conn(name)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close_blocking)

    def close_blocking(self) -> None:
        """Close every connection and stop the loop (not from the pool's own loop)."""
        io, self._io = self._io, None
        if io is None:
            return
        conns = list(self._conns.values())
        self._conns.clear()

        async def close_all() -> None:
            await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)

        try:
            io.submit(close_all()).result(5)
        except Exception:  # noqa: BLE001
            pass
        io.stop()


def q(arg: str) -> str:
    """Shell-quote one argument for the remote shell."""
    return shlex.quote(arg)


def home_path(path: str) -> str:
    """A remote path for the shell: `~/x` expands (the rest quoted), others are quoted whole."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)
