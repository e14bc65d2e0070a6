"""Remote logs against moto in server mode: a 200 MB S3 object opens at its tail with < 1 MB
transferred and is streamed once into the spool when searched; a 200k-event CloudWatch stream
opens at its tail (one page) and is followed with the forward token; `opsconsole tail s3://…`
and `cloudwatch://…`. (The big object and stream are made once per module: no test here
resets moto.)"""

from __future__ import annotations

import asyncio
import time

import pytest

from aws_peer import ecs_config
from ecs_helpers import put_events
from opsconsole.config.settings import parse_config
from opsconsole.logs.aws import CloudWatchStream, S3RangeReader, parse_cloudwatch_url, parse_s3_url
from opsconsole.logs.follow import LogDocument
from opsconsole.logs.query import Query
from opsconsole.logs.ref import RangedLog, StreamLog
from opsconsole.logs.spool import LogSpool
from opsconsole.services.urls import open_url

MB = 1 << 20
BIG = 200 * MB
LINE = "2023-10-05 07:40:00.078250 DEBUG ccxt_broker.py:412 submitted child order {n:09d} notional=12.5\n"


def _wait(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def big_object() -> bytes:
    """~200 MB of log lines; a marker line in the middle, the last line numbered."""
    line = LINE.format(n=0).encode()
    n = BIG // len(line)
    body = bytearray(line * n)
    mid = (n // 2) * len(line)
    body[mid:mid + len(line)] = LINE.format(n=123456789).encode().replace(b"DEBUG", b"ERROR")
    last = LINE.format(n=n - 1).encode()
    body[-len(last):] = last
    return bytes(body)


@pytest.fixture(scope="module")
def s3_object(moto_server):
    from aws_peer import Aws

    aws = Aws(moto_server)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="ck-logs")
    data = big_object()
    s3.put_object(Bucket="ck-logs", Key="system_log_dir/log.manual.txt", Body=data)
    yield ("ck-logs", "system_log_dir/log.manual.txt", len(data), data[data.rfind(b"\n", 0, len(data) - 1) + 1:])


def test_a_200mb_s3_object_opens_at_its_tail_with_under_1mb_transferred(moto_server, s3_object, tmp_path):
    from aws_peer import Aws

    bucket, key, size, last = s3_object
    reader = S3RangeReader(bucket, key, Aws(moto_server).config, spool_dir=tmp_path / "spool")
    doc = LogDocument(RangedLog(reader)).start()
    try:
        assert doc.wait_tail(30)
        lines = doc.lines
        start, end = lines.line_span(lines.line_count - 1)
        assert doc.source.read(start, end - start) + b"\n" == last
        assert doc.size == size
        assert reader.bytes_transferred < MB, reader.bytes_transferred
        assert reader.requests == 1  # one ranged GET: the size and the tail window at once
        assert not doc.indexed  # a remote object is not indexed unless asked
        assert not (tmp_path / "spool").exists() or not any((tmp_path / "spool").iterdir())
    finally:
        doc.close(wait=True)


def test_searching_a_remote_object_streams_it_once_into_the_spool(moto_server, s3_object, tmp_path):
    from aws_peer import Aws

    bucket, key, size, _ = s3_object
    spool = tmp_path / "spool"
    reader = S3RangeReader(bucket, key, Aws(moto_server).config, spool_dir=spool)
    doc = LogDocument(RangedLog(reader)).start()
    try:
        assert doc.wait_tail(30)
        doc.request_index()
        _wait(lambda: doc.indexed, 120, "the index")
        streamed = reader.bytes_transferred
        assert size <= streamed < size + 2 * MB  # the object once, plus the tail read before
        search = doc.start_search(Query("ERROR"))
        assert search.wait(60)
        assert search.count == 1
        again = doc.start_search(Query("child order 000000000"))
        assert again.wait(60) and again.count > 1000
        assert reader.bytes_transferred == streamed  # searches read the spool, not S3
        assert reader.wait_spooled(30)
    finally:
        doc.close(wait=True)
    # the next open of the same object version reads the kept spool: nothing but a HEAD
    second = S3RangeReader(bucket, key, Aws(moto_server).config, spool_dir=spool)
    doc = LogDocument(RangedLog(second)).start()
    try:
        doc.request_index()
        _wait(lambda: doc.indexed, 120, "the index")
        assert second.bytes_transferred <= 512 * 1024  # the first GET of the tail, then the kept spool
    finally:
        doc.close(wait=True)


def test_urls_are_parsed_with_clear_errors():
    assert parse_s3_url("s3://b/a/b c.log") == ("b", "a/b c.log")
    assert parse_cloudwatch_url("cloudwatch:///ecs/trading//ecs/main/abc") == ("/ecs/trading", "ecs/main/abc")
    assert parse_cloudwatch_url("cloudwatch://group/stream") == ("group", "stream")
    with pytest.raises(ValueError, match="names a bucket and a key"):
        parse_s3_url("s3://bucket-only")
    with pytest.raises(ValueError, match="log group and a stream"):
        parse_cloudwatch_url("cloudwatch://group-only")


def test_tail_s3_url_with_the_profiles_settings(moto_server, s3_object, tmp_path):
    bucket, key, size, last = s3_object
    profile = parse_config(ecs_config(moto_server), str(tmp_path / "c.toml")).profile(None)
    ref = open_url(f"s3://{bucket}/{key}", profile)
    assert isinstance(ref, RangedLog) and ref.reader.endpoint_url if hasattr(ref.reader, "endpoint_url") else True
    doc = LogDocument(ref).start()
    try:
        assert doc.wait_tail(30)
        lines = doc.lines
        start, end = lines.line_span(lines.line_count - 1)
        assert doc.source.read(start, end - start) + b"\n" == last
        assert ref.reader.bytes_transferred < MB
    finally:
        doc.close(wait=True)
    missing = open_url(f"s3://{bucket}/no/such.log", profile)
    with pytest.raises(FileNotFoundError, match="no such object"):
        missing.reader.size()


# -- CloudWatch --------------------------------------------------------------------------------

EVENTS = 200_000


@pytest.fixture(scope="module")
def big_stream(moto_server):
    from aws_peer import Aws

    aws = Aws(moto_server)
    lines = [f"2023-10-05 07:40:{i % 60:02d} INFO event {i}" for i in range(EVENTS)]
    put_events(aws, "/ecs/big", "ecs/main/big", lines)
    return "/ecs/big", "ecs/main/big"


async def test_a_200k_event_stream_opens_at_its_tail_then_follows(moto_server, big_stream, tmp_path):
    from aws_peer import Aws

    aws = Aws(moto_server)
    group, name = big_stream
    stream = CloudWatchStream(group, name, aws.config, tail_events=1000, interval=0.1)
    spool = LogSpool(tmp_path / "spool")
    job = await spool.open(stream)
    try:
        for _ in range(600):
            if job.lines >= 1000 and job.state == "following":
                break
            await asyncio.sleep(0.05)
        text = job.path.read_text().splitlines()
        assert len(text) == 1000 and text[-1].endswith(f"event {EVENTS - 1}") and text[0].endswith(f"event {EVENTS - 1000}")
        assert stream.calls <= 3  # the tail page and one forward read that found nothing new
        # new events are followed with the forward token
        put_events(aws, group, name, ["after the tail 1", "after the tail 2"], start_ms=int(time.time() * 1000) + 1000)
        for _ in range(200):
            if job.lines >= 1002:
                break
            await asyncio.sleep(0.05)
        assert job.path.read_text().splitlines()[-2:] == ["after the tail 1", "after the tail 2"]
        assert stream.events == 1002
    finally:
        await spool.close()


def test_tail_cloudwatch_url(moto_server, big_stream, tmp_path):
    group, name = big_stream
    profile = parse_config(ecs_config(moto_server), str(tmp_path / "c.toml")).profile(None)
    ref = open_url(f"cloudwatch://{group}//{name}", profile)
    assert isinstance(ref, StreamLog)
    _wait(lambda: ref.job.lines >= 2000 or ref.job.complete, 60, "the tail")
    assert ref.job.error is None
    from aws_peer import Aws

    newest = Aws(moto_server).client("logs").get_log_events(logGroupName=group, logStreamName=name,
                                                             startFromHead=False, limit=1)["events"][0]["message"]
    assert ref.job.path.read_text().splitlines()[-1] == newest


async def test_opsconsole_tail_shows_an_s3_objects_last_line_and_a_cloudwatch_streams(moto_server, s3_object,
                                                                                    big_stream, tmp_path):
    """`opsconsole tail s3://… cloudwatch://…`: the viewer alone, one tab per URL."""
    from opsconsole.ui.tail_app import TailApp
    from opsconsole.ui.widgets.log_view import LogView

    bucket, key, size, last = s3_object
    group, name = big_stream
    profile = parse_config(ecs_config(moto_server), str(tmp_path / "c.toml")).profile(None)
    urls = [f"s3://{bucket}/{key}", f"cloudwatch://{group}//{name}"]
    refs = {u: open_url(u, profile) for u in urls}
    app = TailApp(urls, refs)

    def text(view: LogView) -> str:
        return "\n".join(view.render_line(y).text for y in range(view.scrollable_content_region.height))

    async with app.run_test(size=(160, 30)) as pilot:
        for _ in range(600):
            if len(app.query(LogView)) == 2 and last.decode().strip() in text(app.query(LogView).first()):
                break
            await pilot.pause(0.05)
        views = sorted(app.query(LogView), key=lambda v: v.id)
        assert last.decode().strip() in text(views[0])
        assert refs[urls[0]].reader.bytes_transferred < MB
        app.query_one("TabbedContent").active = "tab-1"
        for _ in range(600):
            if "event " in text(views[1]):
                break
            await pilot.pause(0.05)
        assert "event " in text(views[1])


def test_whole_object_spools_are_trimmed_least_recently_used_first(tmp_path):
    import os

    from opsconsole.logs.aws import _trim_spools

    for n, age in (("a", 300), ("b", 200), ("c", 100)):
        path = tmp_path / f"s3-{n}.obj"
        path.write_bytes(b"x" * 1000)
        path.with_suffix(".complete").touch()
        os.utime(path, (time.time() - age, time.time() - age))
    _trim_spools(tmp_path, keep=500, budget=3000)  # 3000 + 500 > 3000: the oldest goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s3-b.complete", "s3-b.obj", "s3-c.complete", "s3-c.obj"]
    _trim_spools(tmp_path, keep=1500, budget=2000)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
