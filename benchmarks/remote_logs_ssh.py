"""Remote logs over SSH: a 900 MB log on a real OpenSSH sshd (started here on 127.0.0.1, as in
the tests), read by opsconsole's SFTP range reader and searched on the host.

    python benchmarks/remote_logs_ssh.py [--mb 900] [--keep]

Measures, in one run:
- opening the file at its tail in the real log viewer (Textual LogView, headless): time until the
  last line is painted, and the bytes read over SFTP (goal: < 1 MB, < 0.5 s on loopback);
- the same through the engine alone (RangedSource: size + the last 64 KB);
- a search run on the host (rg/grep there, only matches stream back) vs downloading the whole
  file over SFTP and searching it locally: time and bytes transferred.
Bytes are SFTP/command payload bytes (what crossed the SSH channel as data, not TCP framing).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ssh"))
sys.path.insert(0, str(ROOT / "src"))

from sshd_peer import PeerGroup, ensure_installed, make_keys, start_sshd  # noqa: E402

NEEDLE = "ORDER REJECTED venue=alpaca reason=risk_limit"
LAST = "2026-11-29T23:59:59 INFO the last line of the benchmark log"


def write_log(path: Path, mb: int, needles: int = 20) -> int:
    line = b"2026-11-29T12:00:00.000 INFO execution_engine order filled id=0000000000 qty=100 px=101.25 venue=alpaca\n"
    block = line * ((1 << 20) // len(line))
    total = mb << 20
    every = max(1, mb // needles)
    with open(path, "wb") as f:
        for i in range(mb - 1):
            f.write(block)
            if i % every == every - 1:
                f.write(f"2026-11-29T12:30:00.000 ERROR {NEEDLE} seq={i}\n".encode())
        f.write(block[: max(0, total - f.tell() - len(LAST) - 1)])
        f.write(LAST.encode() + b"\n")
    return path.stat().st_size


async def viewer_tail(session, host, path: str) -> tuple[float, int]:
    from textual.app import App

    from opsconsole.backends.ssh.sources import ranged_log
    from opsconsole.ui.widgets.log_view import LogView

    ref = ranged_log(session, host, path)

    class One(App):
        def compose(self):
            yield LogView(ref)

    app = One()
    async with app.run_test(size=(120, 30)) as pilot:
        start = time.perf_counter()
        view = app.query_one(LogView)
        while True:
            height = view.scrollable_content_region.height
            if view.visible_lines() and any(LAST in view.render_line(y).text for y in range(height)):
                break
            if time.perf_counter() - start > 60:
                raise RuntimeError("last line never painted")
            await pilot.pause(0.005)
        took = time.perf_counter() - start
    return took, ref.reader.bytes_read


def engine_tail(session, host, path: str) -> tuple[float, int]:
    from opsconsole.backends.ssh.sources import ranged_log
    from opsconsole.logs.ranged import RangedSource

    ref = ranged_log(session, host, path)
    start = time.perf_counter()
    src = RangedSource(ref.reader)
    size = src.size()
    data = src.read(max(0, size - 65536), 65536)
    took = time.perf_counter() - start
    assert data.rstrip(b"\n").endswith(LAST.encode())
    read = ref.reader.bytes_read
    src.close()
    return took, read


async def remote_search(session, host, path: str) -> tuple[float, int, int]:
    from opsconsole.backends.ssh.logs import CommandStream, search_command

    stream = CommandStream(session.pool, host.name, search_command(path, NEEDLE, fixed=True), "bench", follow=False)
    start = time.perf_counter()
    got = bytearray()
    async for chunk in stream.read(None):
        got += chunk.data
    took = time.perf_counter() - start
    return took, len(got), got.count(b"\n")


async def download_then_grep(session, host, path: str, scratch: Path) -> tuple[float, int, int]:
    local = scratch / "downloaded.log"
    start = time.perf_counter()
    await session.pool.call(host.name, lambda c: c.sftp_op(lambda s: s.get(path, str(local)), timeout=3600))
    size = local.stat().st_size
    pattern = re.compile(re.escape(NEEDLE).encode())
    matches = 0
    with open(local, "rb") as f:
        for line in f:
            if pattern.search(line):
                matches += 1
    took = time.perf_counter() - start
    local.unlink()
    return took, size, matches


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=900, help="size in MiB (default 900)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()

    ensure_installed()
    scratch = Path(tempfile.mkdtemp(prefix="opsconsole-bench-ssh-"))
    group = PeerGroup()
    session = None
    try:
        keys = make_keys(scratch / "keys")
        sshd = start_sshd(scratch, keys, group)
        log = scratch / "big.log"
        t = time.perf_counter()
        size = write_log(log, args.mb)
        print(f"wrote {size / 1e6:.0f} MB ({args.mb} MiB) in {time.perf_counter() - t:.1f}s; sshd on 127.0.0.1:{sshd.port}")

        from opsconsole.backends.base import SessionEnv
        from opsconsole.backends.ssh import BACKEND
        from opsconsole.domain.models import utcnow

        settings = BACKEND.settings([{"name": "bench", "hostname": "127.0.0.1", "port": sshd.port,
                                      "user": getpass.getuser(), "identity": str(keys.client_key),
                                      "known_hosts": str(sshd.known_hosts), "timeout": 60.0}])
        env = SessionEnv("bench", "bench", False, settings, lambda: None, scratch / "data", utcnow)
        session = BACKEND.open(env)
        host = settings.hosts[0]
        await session.pool.run(host.name, "true")  # connect first: the pane's connection already exists

        rows = []
        took, read = await viewer_tail(session, host, str(log))
        rows.append(("viewer: open at tail, last line painted", took, read, "goal < 0.5 s, < 1 MB"))
        took, read = await asyncio.to_thread(engine_tail, session, host, str(log))
        rows.append(("engine: size + last 64 KB", took, read, ""))
        took, got, n = await remote_search(session, host, str(log))
        rows.append((f"search on the host ({n} matches)", took, got, "rg/grep there, matches only"))
        took, got, n2 = await download_then_grep(session, host, str(log), scratch)
        rows.append((f"download over SFTP + local search ({n2} matches)", took, got, ""))
        assert n == n2, (n, n2)

        print()
        print(f"{'what':48} {'seconds':>9} {'bytes transferred':>18}  note")
        print("-" * 100)
        for what, secs, nbytes, note in rows:
            print(f"{what:48} {secs:9.3f} {nbytes:18,d}  {note}")
    finally:
        if session is not None:
            await session.aclose()
        group.close()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
