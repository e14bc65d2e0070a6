"""The generic stream spool, driven by a fake `LogStream` (a real async generator, no mocks)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from opsconsole.logs.ref import LogStream, StreamChunk, StreamLog
from opsconsole.logs.spool import DONE, FAILED, FOLLOWING, PREPARING, STREAMING, JobSource, LogSpool, spool_name


class FakeStream:
    """A stream whose reads return pages after an integer cursor.

    `pages` are served one per read (a read after the last page yields nothing). The stream
    is done once `finished` is set and every page was read. `gate` holds the first read until
    the test opens it (to see PREPARING); `fail_at` raises on that read number.
    """

    def __init__(self, key: str, pages: list[bytes], *, finished: bool = True, per_read: int = 1,
                 fail_at: int | None = None, label: str = "fake stream") -> None:
        self.key = key
        self.label = label
        self.pages = list(pages)
        self.finished = asyncio.Event()
        if finished:
            self.finished.set()
        self.per_read = per_read
        self.fail_at = fail_at
        self.gate = asyncio.Event()
        self.gate.set()
        self.cursors: list[object | None] = []  # the cursor of every read, in order
        self.polled = asyncio.Event()  # set on every read after the first

    async def read(self, cursor):
        self.cursors.append(cursor)
        if len(self.cursors) > 1:
            self.polled.set()
        await self.gate.wait()
        if self.fail_at is not None and len(self.cursors) >= self.fail_at:
            raise ConnectionError("server went away")
        start = 0 if cursor is None else int(cursor)
        end = min(len(self.pages), start + self.per_read)
        for i in range(start, end):
            yield StreamChunk(self.pages[i], cursor=i + 1)
        if end >= len(self.pages) and self.finished.is_set():
            yield StreamChunk(b"", cursor=end, done=True)

    def poll_interval(self, size: int) -> float:
        return 0.001


async def settle(job) -> None:
    if job.task is not None:
        await asyncio.wait_for(asyncio.shield(job.task), 30)


def test_the_fake_is_a_log_stream():
    assert isinstance(FakeStream("k", []), LogStream)


async def test_finished_stream_is_spooled_then_cached(tmp_path: Path):
    spool = LogSpool(tmp_path / "spool")
    stream = FakeStream("airflow/dag/run/task/1", [b"one\n", b"two\n", b"three\n"], per_read=3)
    job = await spool.open(stream)
    await settle(job)
    assert job.state is DONE and job.error is None
    assert job.path.read_bytes() == b"one\ntwo\nthree\n"
    assert (job.size, job.lines) == (14, 3)
    assert job.ready and job.first_byte is not None
    assert stream.cursors == [None]

    again = FakeStream(stream.key, [b"never read\n"])
    cached = await LogSpool(tmp_path / "spool").open(again)  # a new app run: the disk says it is whole
    assert cached.state is DONE and cached.size == 14 and cached.task is None
    assert again.cursors == []  # not fetched a second time
    assert cached.path.read_bytes() == b"one\ntwo\nthree\n"

    fresh = await spool.open(again, fresh=True)
    await settle(fresh)
    assert again.cursors == [None]
    assert fresh.path.read_bytes() == b"never read\n"


async def test_one_job_is_shared_while_in_progress(tmp_path: Path):
    spool = LogSpool(tmp_path)
    stream = FakeStream("shared", [b"a\n"])
    stream.gate.clear()
    first = await spool.open(stream)
    second = await spool.open(stream)
    assert first is second and first.state is PREPARING and not first.ready
    assert first.path.exists()  # the viewer can open the (empty) spool at once
    stream.gate.set()
    await first.wait_ready()
    await settle(first)
    assert first.state is DONE and stream.cursors == [None]


async def test_following_stream_polls_with_the_cursor_until_done(tmp_path: Path):
    spool = LogSpool(tmp_path)
    stream = FakeStream("following", [b"line 0\n", b"line 1\n", b"line 2\n", b"line 3\n"], finished=False)
    states = []
    job = await spool.open(stream)
    await job.wait_ready()
    states.append(job.state)
    await asyncio.wait_for(stream.polled.wait(), 30)
    # the stream keeps being read, each read after the last cursor
    while len(stream.cursors) < 6:
        await asyncio.sleep(0.001)
    assert job.state is FOLLOWING
    stream.finished.set()
    await settle(job)
    assert states[0] in (STREAMING, FOLLOWING)
    assert job.state is DONE
    assert stream.cursors[:5] == [None, 1, 2, 3, 4]
    assert all(c == 4 for c in stream.cursors[4:])
    assert job.path.read_bytes() == b"line 0\nline 1\nline 2\nline 3\n"
    assert (tmp_path / (job.path.name + ".complete")).exists()


async def test_streaming_state_while_the_first_read_yields(tmp_path: Path):
    gate = asyncio.Event()
    seen = []

    class Slow:
        key, label = "slow", "slow"

        async def read(self, cursor):
            yield StreamChunk(b"first\n", cursor=1)
            await gate.wait()
            yield StreamChunk(b"last\n", cursor=2, done=True)

        def poll_interval(self, size):
            return 1.0

    job = await LogSpool(tmp_path).open(Slow())
    await job.wait_ready()
    seen.append((job.state, job.describe()))
    gate.set()
    await settle(job)
    assert seen == [(STREAMING, "streaming 6 B")]
    assert job.describe() == "done"


async def test_error_ends_the_job_failed_with_its_message_and_can_be_reopened(tmp_path: Path):
    spool = LogSpool(tmp_path)
    stream = FakeStream("flaky", [b"partial\n", b"more\n"], finished=False, fail_at=2)
    job = await spool.open(stream)
    await settle(job)
    assert job.state is FAILED and job.complete and job.ready
    assert job.error == "ConnectionError: server went away"
    assert job.describe() == "failed: ConnectionError: server went away"
    assert b"server went away" in job.path.read_bytes()  # the spool says so too
    assert not (tmp_path / (job.path.name + ".complete")).exists()

    stream.fail_at = None
    stream.finished.set()
    stream.cursors.clear()
    again = await spool.open(stream)
    assert again is not job
    await settle(again)
    assert again.state is DONE and stream.cursors == [None, 1]
    assert again.path.read_bytes() == b"partial\nmore\n"
    assert job.state is FAILED  # the old job (and a viewer of it) is left as it was


async def test_spool_paths_are_hashed_inside_the_root(tmp_path: Path):
    root = tmp_path / "spool"
    spool = LogSpool(root)
    keys = ["../../etc/passwd", "a/b/../../../c", "/abs/olute", "x" * 300, "x" * 300 + "y", "..", "", "é ✓ \0"]
    paths = [spool.path_for(FakeStream(k, [])) for k in keys]
    assert len(set(paths)) == len(keys)  # no collision from truncating the readable part
    for path in paths:
        assert path.parent == root
        assert path.resolve().is_relative_to(root.resolve())
        assert len(path.name) < 120 and not path.name.startswith(".")
    assert spool_name("../../etc/passwd").startswith("etc_passwd-")
    for key in keys[:4]:
        job = await spool.open(FakeStream(key, [b"x\n"]))
        await settle(job)
        assert job.state is DONE and job.path.parent == root


async def test_a_deleted_spool_root_is_recreated_on_the_next_open(tmp_path: Path):
    root = tmp_path / "spool"
    spool = LogSpool(root)
    stream = FakeStream("gone", [b"a\n"])
    job = await spool.open(stream)
    await settle(job)
    shutil.rmtree(root)
    again = await spool.open(stream)
    await settle(again)
    assert again is not job and again.state is DONE
    assert again.path.read_bytes() == b"a\n"


async def test_close_cancels_running_jobs(tmp_path: Path):
    spool = LogSpool(tmp_path)
    stream = FakeStream("forever", [b"a\n"], finished=False)
    job = await spool.open(stream)
    await job.wait_ready()
    await spool.close()
    assert job.state is FAILED and job.error == "cancelled"
    with pytest.raises(RuntimeError):
        await spool.open(stream)


async def test_job_source_is_complete_when_the_job_ended(tmp_path: Path):
    stream = FakeStream("src", [b"a\n"])
    stream.gate.clear()
    job = await LogSpool(tmp_path).open(stream)
    source = JobSource(job)
    try:
        assert not source.complete
        stream.gate.set()
        await settle(job)
        assert source.complete and source.read(0, 10) == b"a\n"
        assert StreamLog(job).path == str(job.path) and StreamLog(job).label == "fake stream"
    finally:
        source.close()


async def test_a_big_stream_is_written_in_batches_without_losing_bytes(tmp_path: Path):
    pages = [(f"{i:08d} ".encode() * 100)[:-1] + b"\n" for i in range(3000)]  # ~2.7 MB
    stream = FakeStream("big", pages, per_read=len(pages))
    job = await LogSpool(tmp_path).open(stream)
    await settle(job)
    assert job.path.read_bytes() == b"".join(pages)
    assert job.lines == 3000


async def test_a_spool_folder_deleted_while_following_is_recreated_and_refilled(tmp_path: Path):
    """`rm -rf` of the log cache while a log is followed: the job writes its file again (from
    the stream's start) instead of writing into a deleted file until restart."""
    root = tmp_path / "spool"
    spool = LogSpool(root)
    stream = FakeStream("followed", [b"line 0\n", b"line 1\n", b"line 2\n"], finished=False)
    job = await spool.open(stream)
    for _ in range(3000):
        if job.path.exists() and job.path.read_bytes() == b"line 0\nline 1\nline 2\n":
            break
        await asyncio.sleep(0.01)
    shutil.rmtree(root)
    for _ in range(3000):
        if job.path.exists() and job.path.read_bytes() == b"line 0\nline 1\nline 2\n":
            break
        await asyncio.sleep(0.01)
    assert job.path.read_bytes() == b"line 0\nline 1\nline 2\n"
    assert None in stream.cursors[1:], "read again from the start"
    stream.pages.append(b"line 3\n")
    stream.finished.set()
    await settle(job)
    assert job.state is DONE and job.path.read_bytes().endswith(b"line 3\n")
    assert job.size == len(b"line 0\nline 1\nline 2\nline 3\n")


class ReportingStream:
    """A first read that reports its download progress, then a failed poll noted, then data."""

    key, label = "reporting", "reporting stream"

    def __init__(self) -> None:
        self.reads = 0
        self.go = asyncio.Event()
        self.seen: list[str] = []

    async def read(self, cursor):
        self.reads += 1
        if self.reads == 1:
            yield StreamChunk(b"", received=5 << 20)
            await self.go.wait()
            yield StreamChunk(b"first\n", cursor=1)
        elif self.reads == 2:
            yield StreamChunk(b"", note="retrying after ReadTimeout ×1")
        else:
            yield StreamChunk(b"second\n", cursor=2, note="", done=True)

    def poll_interval(self, size: int) -> float:
        return 0.01


async def test_download_progress_and_notes_are_shown_by_the_job(tmp_path: Path):
    stream = ReportingStream()
    job = await LogSpool(tmp_path).open(stream)
    for _ in range(3000):
        if job.received:
            break
        await asyncio.sleep(0.01)
    assert job.describe() == "⬇ downloading 5.0 MB" and job.status().busy and job.size == 0
    stream.go.set()
    for _ in range(3000):
        if job.note:
            break
        await asyncio.sleep(0.01)
    assert "retrying after ReadTimeout ×1" in job.describe() and job.status().busy
    assert job.received is None
    await settle(job)
    assert job.state is DONE and job.note == "" and job.path.read_bytes() == b"first\nsecond\n"
