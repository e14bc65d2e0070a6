"""A running task log at production size against the real Airflow 3: followed past 100 MB
without falling behind or dying on a read timeout, and opened at 50 MB with a visible download.

CPU heavy (the task writes ~150 MB of structured log, the server re-renders all of it on every
poll): it runs one DAG run and checks everything on it."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime


from airflow_helpers import run_id, running_task, until
from opsconsole.backends.airflow.logs import DONE, AirflowLogStream
from opsconsole.logs.spool import LogSpool

DEMO = "opsconsole_demo"
LINES = 380_000  # ~280 bytes a rendered line: past 100 MB
BIG = 100e6


def _last_line(path, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(max(0, size - 4096))
        lines = f.read().splitlines()
    return lines[-1] if lines else b""


def _task_lines(path) -> list[int]:
    """The numbers of the task's `line NNNNNN` lines, in the order the spool has them."""
    import re

    found = re.compile(rb"task\.stdout line (\d{6}) ")
    with open(path, "rb") as f:
        return [int(m.group(1)) for m in found.finditer(f.read())]


def _stamp(line: bytes) -> float | None:
    try:
        return datetime.fromisoformat(line.split(b" ", 1)[0].decode().replace("Z", "+00:00")).timestamp()
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


async def test_following_a_log_past_100_mb_keeps_up_and_opening_at_50_mb_shows_the_download(airflow3, tmp_path):
    from opsconsole.backends.airflow.client import AirflowClient, AirflowSettings

    client = AirflowClient(AirflowSettings(url=airflow3.url, username="admin", password="admin", timeout=30))
    try:
        await client.set_paused(DEMO, False)
        rid = run_id("big")
        await client.trigger(DEMO, {"lines": LINES, "sleep": 0.1, "experiment": "x" * 200}, run_id=rid)
        ti = await running_task(client, DEMO, rid, "emit_lines")
        follow = AirflowLogStream(client, ti, ti.try_number, running=True)
        job = await LogSpool(tmp_path / "spool").open(follow)
        late = late_stream = None
        samples: list[tuple[float, float, float]] = []  # (wall time, size, lag of the newest line)
        downloading: list[str] = []
        notes: set[str] = set()
        watcher = None

        async def watch_late(late_job) -> None:
            """What the status line says while the late opener's bytes arrive and nothing is
            shown yet (sampled often: that stretch can be short)."""
            while not late_job.size and not late_job.complete:
                if late_job.received:
                    downloading.append(late_job.describe())
                await asyncio.sleep(0.05)
        while not job.complete:
            await asyncio.sleep(1.0)
            notes.add(job.note)
            size = job.size
            stamp = _stamp(_last_line(job.path, size)) if size else None
            if stamp is not None:
                now = time.time()
                samples.append((now, size, now - stamp))
            if late is None and size >= 50e6:  # a second operator opens it now: no token yet
                late_stream = AirflowLogStream(client, ti, ti.try_number, running=True)
                late = await LogSpool(tmp_path / "late").open(late_stream)
                watcher = asyncio.create_task(watch_late(late))
        polls = list(follow.polls)
        print("\npolls (start offset s, seconds):", [(round(a - polls[0][0]), round(b - a)) for a, b in polls])
        print("size MB, lag s:", [(round(s / 1e6), round(lag)) for _, s, lag in samples[::10]])
        print("late opener:", downloading[:2], "…", downloading[-1:], late and late.state)
        assert job.state == DONE, job.error
        with open(job.path, "rb") as f:
            f.seek(job.size - 65536)
            assert b"line %06d" % (LINES - 1) in f.read()  # then Airflow's own post-execute lines
        assert job.size > BIG and samples[-1][1] > BIG
        assert notes <= {""}, f"a read failed on the way: {notes}"  # no ReadTimeout, no retry
        starts = [a for a, _ in polls]
        for t, size, lag in samples:
            done = [a for a in starts if a <= t]
            if len(done) < 2:
                continue
            # keeps up: the newest line is at most two poll periods (start to start) old...
            period = max(done[-1] - done[-2], t - done[-1])
            assert lag <= 2 * period + 1.0, (size, lag, period)
        last_written = samples[-1][0] - samples[-1][2]  # the task's last line: it writes nothing after
        for start, end in polls[1:]:
            # ...and every poll brings the log up to (about) the moment it was asked
            after = next(((t, lag) for t, _, lag in samples if t >= end + 1.0), None)
            if after is not None:
                newest = after[0] - after[1]
                assert newest >= min(start, last_written) - 5.0, (start, end, after)
        # opened at 50 MB: the status says how much has arrived, then the log's tail is there
        assert late is not None and watcher is not None
        await asyncio.wait_for(watcher, 600)
        assert downloading and all(d.startswith("⬇ downloading ") for d in downloading), downloading
        await until(lambda: _done(late), 600, "the late opener's spool")
        assert late.state == DONE and late.note == ""
        # both have every line the task printed, once each, in order (no gap or repeat where a
        # poll took over from the one before); Airflow's own header and footer lines may differ
        assert _task_lines(job.path) == _task_lines(late.path) == list(range(LINES))
    finally:
        await client.aclose()


async def _done(job):
    return job.complete
