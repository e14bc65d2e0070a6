"""Remote logs of a host, three ways:

* a file, read over SFTP by byte range: :class:`SftpRangeReader` is a ``RangeReader`` for the log
  engine's block cache (logs/ranged.py), so a 1 GB file opens at its tail after a block or two;
  growth is followed by polling the size, rotation (rename + create) is detected by comparing the
  open handle with the name (its inode asked on the host when they differ) and reported as
  ``rotations``;
* a command's output followed as a stream (:class:`CommandStream`, spooled by logs/spool.py):
  ``journalctl -u UNIT -f -o short-iso``, ``docker logs -f``; after a lost connection it resumes
  by re-reading the last lines and dropping those already seen;
* a search run on the host (:func:`search_command`: rg when installed, else grep): only the
  matching lines travel, streamed into a log tab.

``opsconsole tail ssh://[user@]host[:port]/path`` opens a file alone (:func:`open_ssh_url`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from opsconsole.backends.ssh.pool import HostConn, Pool, q
from opsconsole.logs.ref import StreamChunk

if TYPE_CHECKING:
    from opsconsole.backends.ssh import HostSettings, HostsSettings
    from opsconsole.logs.ref import LogRef

READ_CHUNK = 64 * 1024
MAX_MATCHES = 100_000
RESUME_LINES = 1000


def _not_found(exc: BaseException) -> bool:
    return type(exc).__name__ in ("SFTPNoSuchFile", "SFTPNoSuchPath") or getattr(exc, "code", None) == 2


class SftpRangeReader:
    """A remote file read by byte range over the host's SFTP session (blocking methods, for the
    log engine's worker threads; the I/O runs on the pool's loop, each call under the host's
    timeout)."""

    def __init__(self, pool: Pool, host: str, path: str, *, owns_pool: bool = False) -> None:
        self.pool = pool
        self.host = host
        self.path = path
        self.name = f"ssh://{host}{path if path.startswith('/') else '/' + path}"
        self.rotations = 0
        self.bytes_read = 0
        self._owns_pool = owns_pool
        self._handle: Any = None
        self._inode: str | None = None  # the inode the name had just before the handle was opened

    # -- RangeReader ----------------------------------------------------------------------------
    def size(self) -> int:
        return self.pool.call_blocking(self.host, self._size)

    def read_range(self, offset: int, n: int) -> bytes:
        if n <= 0:
            return b""
        data = self.pool.call_blocking(self.host, lambda c: self._read(c, offset, n))
        self.bytes_read += len(data)
        return data

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if self._owns_pool:
            self.pool.close_blocking()
            return
        if handle is not None:
            try:
                self.pool.call_blocking(self.host, lambda c: _close(handle), timeout=5)
            except Exception:  # noqa: BLE001 - closing never raises
                pass

    # -- on the pool's loop ---------------------------------------------------------------------
    async def _inode_of(self, conn: HostConn) -> str | None:
        res = await conn.run(f"stat -L -c %i -- {q(self.path)}", timeout=conn.host.timeout)
        return res.stdout.strip() or None if res.ok else None

    async def _open(self, conn: HostConn) -> Any:
        if self._handle is None:
            # the inode first, then the handle: a rotation in between makes the next check see a
            # "rotation" onto the file already open (a harmless reset), never miss a real one
            inode = await self._inode_of(conn)
            self._handle = await conn.sftp_op(lambda s: s.open(self.path, "rb"))
            self._inode = inode
        return self._handle

    async def _size(self, conn: HostConn) -> int:
        try:
            st = await conn.sftp_op(lambda s: s.stat(self.path))
        except Exception as exc:
            if _not_found(exc):
                raise FileNotFoundError(f"{self.name}: no such file") from exc
            raise
        size = int(st.size or 0)
        if self._handle is None:
            await self._open(conn)
            return size
        try:
            held = await conn.sftp_op(lambda s: self._handle.stat())
            held_size = int(held.size or 0)
        except Exception:  # noqa: BLE001 - a stale handle (the connection was re-made): reopen
            held_size = -1
        if held_size != size:
            inode = await self._inode_of(conn) if held_size >= 0 else None
            if held_size < 0 or (inode is not None and inode != self._inode):
                old, self._handle = self._handle, None
                await _close(old)
                await self._open(conn)
                if held_size >= 0:
                    self.rotations += 1
        return size

    async def _read(self, conn: HostConn, offset: int, n: int) -> bytes:
        handle = await self._open(conn)
        try:
            data = await conn.sftp_op(lambda s: handle.read(n, offset))
        except Exception as exc:  # noqa: BLE001 - the handle died with its connection: once more
            if type(exc).__name__ in ("HostDown", "RemoteTimeout"):
                raise
            self._handle = None
            handle = await self._open(conn)
            data = await conn.sftp_op(lambda s: handle.read(n, offset))
        return data or b""


async def _close(handle: Any) -> None:
    if handle is None:
        return
    try:
        await asyncio.wait_for(handle.close(), 5)
    except Exception:  # noqa: BLE001
        pass


class CommandStream:
    """A remote command's output as a log stream: `follow` commands (journalctl -f) are resumed
    after a lost connection; others (a search) end the stream when the command ends."""

    def __init__(self, pool: Pool, host: str, command: str, label: str, *, follow: bool, key: str | None = None) -> None:
        self.pool = pool
        self.host = host
        self.command = command
        self.follow = follow
        self.label = label
        digest = hashlib.sha256(command.encode()).hexdigest()[:16]
        self.key = key or f"hosts/{host}/{digest}"
        self.exit_status: int | None = None

    def poll_interval(self, size: int) -> float:
        return 2.0

    async def read(self, cursor: object | None) -> AsyncIterator[StreamChunk]:
        last = cursor if isinstance(cursor, bytes) else None
        proc = await self.pool.call(self.host, lambda c: c.process(self.command))
        skipping = last is not None
        skipped = 0
        pending = b""
        try:
            while True:
                try:
                    data = await self.pool.call(self.host, lambda c: proc.stdout.read(READ_CHUNK))
                except Exception:  # noqa: BLE001 - the connection went: resume on the next read
                    if self.follow:
                        return
                    raise
                if not data:
                    break
                pending += data
                cut = pending.rfind(b"\n") + 1
                if not cut:
                    continue
                block, pending = pending[:cut], pending[cut:]
                if skipping:
                    assert last is not None
                    at = block.rfind(last)
                    if at >= 0:
                        block, skipping = block[at + len(last):], False
                    else:
                        skipped += block.count(b"\n")
                        if skipped < RESUME_LINES:
                            continue
                        # the last line seen is not among the re-read ones: say there may be a gap
                        block, skipping = b"[opsconsole: reconnected; lines may be missing here]\n" + block, False
                if block:
                    lines = block.rstrip(b"\n").rsplit(b"\n", 1)
                    yield StreamChunk(block, cursor=lines[-1] + b"\n")
            if pending:
                yield StreamChunk(pending + b"\n")
            if self.follow:
                return  # the command ended (the connection went): read again after the poll interval
            self.exit_status = await self.pool.call(self.host, lambda c: _exit_status(proc))
            if self.exit_status not in (0, 1, None):
                yield StreamChunk(f"[{self.host}: exit {self.exit_status}]\n".encode())
            yield StreamChunk(b"", done=True)
        finally:
            await self.pool.call(self.host, lambda c: _close_proc(proc))

    def resume_command(self) -> str:
        return self.command


async def _exit_status(proc: Any) -> int | None:
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except Exception:  # noqa: BLE001
        pass
    return proc.exit_status


async def _close_proc(proc: Any) -> None:
    try:
        proc.close()
    except Exception:  # noqa: BLE001
        pass


def search_command(path: str, pattern: str, *, ignore_case: bool = False, fixed: bool = False,
                   max_matches: int = MAX_MATCHES) -> str:
    """rg when the host has it, else grep -E: numbered matching lines of `path` only."""
    flags_rg = ["--line-number", "--no-heading", "--color", "never", "--max-count", str(max_matches)]
    flags_grep = ["-n", "-m", str(max_matches)]
    if ignore_case:
        flags_rg.append("-i")
        flags_grep.append("-i")
    flags_rg.append("-F" if fixed else "")
    flags_grep.append("-F" if fixed else "-E")
    rg = " ".join(f for f in flags_rg if f)
    grep = " ".join(flags_grep)
    return (f"if command -v rg >/dev/null 2>&1; then rg {rg} -e {q(pattern)} -- {q(path)}; "
            f"else grep {grep} -e {q(pattern)} -- {q(path)}; fi")


def journal_command(host: "HostSettings", unit: str, lines: int = RESUME_LINES) -> str:
    return f"{host.journalctl} -u {q(unit)} -f -o short-iso --no-pager -n {lines}"


def parse_ssh_url(url: str) -> tuple[str | None, str, int | None, str]:
    """ssh://[user@]host[:port]/path → (user, host, port, path). `/~/x` is relative to the home."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "ssh" or not parts.hostname:
        raise ValueError(f"{url}: expected ssh://[user@]host[:port]/path")
    path = unquote(parts.path)
    if not path or path == "/":
        raise ValueError(f"{url}: no file path after the host")
    if path.startswith("/~/"):
        path = path[3:]
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url}: bad port") from exc
    return parts.username, parts.hostname, port, path


def open_ssh_url(url: str, settings: "HostsSettings | None") -> "LogRef":
    """`opsconsole tail ssh://host/path`: a host named in the profile's [[hosts]] uses its settings
    (hostname, user, port, key, known_hosts); any other host uses ~/.ssh/config, the agent and
    ~/.ssh/known_hosts. Nothing connects before the viewer reads."""
    from dataclasses import replace

    from opsconsole.backends.ssh import HostSettings
    from opsconsole.logs.ref import RangedLog

    user, hostname, port, path = parse_ssh_url(url)
    known = {h.name: h for h in settings.hosts} if settings is not None else {}
    host = known.get(hostname)
    if host is None:
        host = HostSettings(name=hostname, hostname=hostname, user=user, port=port)
    else:
        changes: dict[str, Any] = {}
        if user:
            changes["user"] = user
        if port:
            changes["port"] = port
        host = replace(host, **changes)
    pool = Pool([host])
    reader = SftpRangeReader(pool, host.name, path, owns_pool=True)
    return RangedLog(reader, f"{host.name}:{path}")
