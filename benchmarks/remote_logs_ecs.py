"""Benchmark: huge remote logs opened at their tail vs downloaded whole, against moto in server mode.

    python benchmarks/remote_logs_ecs.py [--size-mb 900] [--events 200000] [--runs 3]

Starts moto (a ThreadedMotoServer in a child process of its own process group, on 127.0.0.1,
stopped at the end and on SIGINT/SIGTERM), then:

- S3: writes a ~900 MB log object (multipart), then measures, median of `--runs`:
  * opsconsole: `S3RangeReader` + the log engine (`LogDocument` over a `RangedLog`): one GET of
    the object's last 512 KB (size and tail at once), the tail window split into lines, the last
    line read — the time to the last line on screen (minus painting) and the bytes transferred;
  * one bare ranged GET of 512 KB with boto3: the server's own cost per request (moto reads and
    copies the whole object for every GET, ranged or not: on S3 this is one round trip);
  * the baseline: `get_object` of the whole object with boto3, then its last line.
- CloudWatch: a stream of `--events` events; the time and calls to the newest line with
  `CloudWatchStream` (tail first: `startFromHead=False`), vs paging `get_log_events` from the
  head with `nextForwardToken` to the end (what a naive client does).

Goal (issue 12): a 900 MB object's tail with < 1 MB transferred in < 1 s. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MB = 1 << 20
LINE = "2023-10-05 07:40:{s:02d}.078250 DEBUG ccxt_broker.py:412 child order {n:010d} submitted notional=12.5 passivity=0.55\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """moto in a child process (own process group); stopped on exit and on signals."""

    def __init__(self) -> None:
        self.port = free_port()
        code = ("import logging, time; logging.getLogger('werkzeug').setLevel(logging.WARNING)\n"
                "from moto.server import ThreadedMotoServer\n"
                f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={self.port}, verbose=False); s.start()\n"
                "print('ready', flush=True)\n"
                "while True: time.sleep(3600)\n")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == b"ready"
        self.url = f"http://127.0.0.1:{self.port}"
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.stop()
        raise SystemExit(128 + signum)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)


class Generated:
    """A file-like object yielding ~`size` bytes of log lines (no 900 MB in memory)."""

    def __init__(self, size: int) -> None:
        self.size, self.sent, self.n = size, 0, 0
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.sent if n is None or n < 0 else min(n, self.size - self.sent)
        if n <= 0:
            return b""
        while len(self._buf) < n:
            self._buf += "".join(LINE.format(s=i % 60, n=i) for i in range(self.n, self.n + 20000)).encode()
            self.n += 20000
        out, self._buf = self._buf[:n], self._buf[n:]
        if self.sent + len(out) >= self.size and not out.endswith(b"\n"):
            out = out[:-1] + b"\n"
        self.sent += len(out)
        return out


def s3_rows(aws, size_mb: int, runs: int, spool: Path) -> list[list[str]]:
    from boto3.s3.transfer import TransferConfig

    from opsconsole.logs.aws import S3RangeReader, client
    from opsconsole.logs.follow import LogDocument
    from opsconsole.logs.ref import RangedLog

    s3 = client("s3", aws)
    s3.create_bucket(Bucket="bench")
    t0 = time.perf_counter()
    s3.upload_fileobj(Generated(size_mb * MB), "bench", "system_log_dir/log.manual.txt",
                      Config=TransferConfig(multipart_chunksize=64 * MB, max_concurrency=2))
    size = s3.head_object(Bucket="bench", Key="system_log_dir/log.manual.txt")["ContentLength"]
    print(f"uploaded {size / MB:,.0f} MB in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    tail_times, tail_bytes, last_lines = [], [], set()
    for _ in range(runs):
        t = time.perf_counter()
        reader = S3RangeReader("bench", "system_log_dir/log.manual.txt", aws, spool_dir=spool)
        doc = LogDocument(RangedLog(reader)).start()
        assert doc.wait_tail(60), doc.error
        lines = doc.lines
        start, end = lines.line_span(lines.line_count - 1)
        last_lines.add(doc.source.read(start, end - start))
        tail_times.append(time.perf_counter() - t)
        tail_bytes.append(reader.bytes_transferred)
        doc.close(wait=True)

    floor = []  # the server's own cost of one 512 KB ranged GET (moto reads the whole object for it)
    for _ in range(runs):
        t = time.perf_counter()
        s3.get_object(Bucket="bench", Key="system_log_dir/log.manual.txt", Range="bytes=-524288")["Body"].read()
        floor.append(time.perf_counter() - t)

    whole_times, whole_bytes = [], []
    for _ in range(runs):
        t = time.perf_counter()
        body = s3.get_object(Bucket="bench", Key="system_log_dir/log.manual.txt")["Body"]
        got, last = 0, b""
        while True:
            chunk = body.read(8 * MB)
            if not chunk:
                break
            got += len(chunk)
            last = (last + chunk)[-4096:]
        last_lines.add(last.rstrip(b"\n").rsplit(b"\n", 1)[-1])
        whole_times.append(time.perf_counter() - t)
        whole_bytes.append(got)
    assert len(last_lines) == 1, last_lines  # both found the same last line
    med = statistics.median
    return [
        [f"S3 {size / MB:,.0f} MB: opsconsole tail (one ranged GET)", f"{med(tail_times):.3f} s",
         f"{med(tail_bytes) / 1024:,.0f} KB", "goal < 1 s, < 1 MB"],
        ["S3: opsconsole's own share (tail − one bare GET)", f"{max(0.0, med(tail_times) - med(floor)):.3f} s", "",
         "the rest is the server's"],
        ["S3: one bare ranged GET of 512 KB (the server's cost)", f"{med(floor):.3f} s", "512 KB",
         "moto reads the whole object per GET"],
        ["S3: boto3 get_object whole", f"{med(whole_times):.3f} s", f"{med(whole_bytes) / MB:,.0f} MB", ""],
    ]


def cloudwatch_rows(aws, events: int, runs: int) -> list[list[str]]:
    from opsconsole.logs.aws import CloudWatchStream, client

    logs = client("logs", aws)
    group, stream = "/ecs/bench", "ecs/main/0123456789abcdef"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000) - events
    batch: list[dict] = []
    for i in range(events):
        batch.append({"timestamp": now + i, "message": LINE.format(s=i % 60, n=i).rstrip("\n")})
        if len(batch) == 5000:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch = []
    if batch:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
    newest = LINE.format(s=(events - 1) % 60, n=events - 1)

    async def tail_once() -> tuple[float, int]:
        cw = CloudWatchStream(group, stream, aws)
        t = time.perf_counter()
        reader = cw.read(None)
        first = await reader.__anext__()  # the tail page: what the viewer shows first
        elapsed = time.perf_counter() - t
        await reader.aclose()
        assert first.data.decode().endswith(newest), "the tail ends with the newest event"
        return elapsed, cw.calls

    tail = [asyncio.run(tail_once()) for _ in range(runs)]

    head_times, head_calls = [], []
    for _ in range(runs):
        t = time.perf_counter()
        token, calls, last = None, 0, ""
        while True:
            kw = {"nextToken": token} if token else {}
            page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, **kw)
            calls += 1
            if page["events"]:
                last = page["events"][-1]["message"]
            if page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
        assert last + "\n" == newest
        head_times.append(time.perf_counter() - t)
        head_calls.append(calls)
    med = statistics.median
    return [
        [f"CloudWatch {events:,} events: opsconsole tail (startFromHead=False)", f"{med(t for t, _ in tail):.3f} s",
         f"{med(c for _, c in tail):.0f} call(s)", ""],
        ["CloudWatch: get_log_events from the head", f"{med(head_times):.3f} s", f"{med(head_calls):.0f} calls", ""],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=900)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for k, v in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        os.environ.setdefault(k, v)
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    from opsconsole.logs.aws import AwsConfig

    moto = Moto()
    try:
        aws = AwsConfig(region="us-east-1", endpoint_url=moto.url, timeout=120)
        with tempfile.TemporaryDirectory() as spool:
            rows = s3_rows(aws, args.size_mb, args.runs, Path(spool))
        rows += cloudwatch_rows(aws, args.events, args.runs)
    finally:
        moto.stop()
    header = ["what", "time to the last line", "transferred", "note"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\nmedian of {args.runs} runs, moto server mode on 127.0.0.1, {os.cpu_count()} cores")
    for r in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
