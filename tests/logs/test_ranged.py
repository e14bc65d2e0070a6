"""Ranged (remote random-access) sources: block cache, read-ahead, growth, and tails that cost
only the last blocks, through the engine (`LogDocument`) too."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest
from logtools import wait_for

from opsconsole.logs.follow import LogDocument
from opsconsole.logs.ranged import LocalRangeReader, RangedSource, RangeReader
from opsconsole.logs.ref import RangedLog, open_ref
from opsconsole.logs.source import Change, Source

BIG = 200 * 1024 * 1024


class CountingReader(LocalRangeReader):
    """A LocalRangeReader that records the threads it was called from."""

    def __init__(self, path, **kw) -> None:
        super().__init__(path, **kw)
        self.threads: set[str] = set()

    def read_range(self, offset: int, n: int) -> bytes:
        self.threads.add(threading.current_thread().name)
        return super().read_range(offset, n)


def numbered(start: int, n: int) -> bytes:
    return b"".join(f"2023-10-05 07:00:00,000 INFO line {i}\n".encode() for i in range(start, start + n))


def span_bytes(source, span: tuple[int, int]) -> bytes:
    start, end = span
    return source.read(start, end - start)


@pytest.fixture
def big_log(tmp_path: Path) -> Path:
    """200 MB, written fast: sparse up to the last MB (a few real lines on the way), lines at the end."""
    path = tmp_path / "big.log"
    with open(path, "wb") as f:
        for mb in range(0, 199, 20):  # some real lines in the middle, the rest a sparse hole
            f.seek(mb << 20)
            f.write(numbered(mb * 1000, 10))
        tail = numbered(1_000_000, 20_000)
        f.seek(BIG - len(tail) - 1)
        f.write(b"\n" + tail)
    assert path.stat().st_size == BIG
    return path


def test_reader_and_source_satisfy_the_protocols(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(b"x\n")
    reader = LocalRangeReader(path)
    source = RangedSource(reader)
    assert isinstance(reader, RangeReader) and isinstance(source, Source)
    assert isinstance(open_ref(RangedLog(reader)), RangedSource)
    source.close()


def test_reads_match_the_file_across_blocks(tmp_path: Path):
    path = tmp_path / "a.log"
    data = bytes(random.Random(3).randrange(256) for _ in range(100_000))
    path.write_bytes(data)
    source = RangedSource(LocalRangeReader(path), block_size=4096, cache_blocks=4)
    rng = random.Random(5)
    for _ in range(300):
        offset = rng.randrange(0, 110_000)
        n = rng.randrange(0, 20_000)
        assert source.read(offset, n) == data[offset:offset + n]
    assert source.read(len(data), 10) == b"" and source.read(0, 0) == b""
    assert len(source._blocks) <= 4  # memory stays bounded
    source.close()


def test_read_cached_never_does_io_and_read_ahead_fetches_the_next_block(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(numbered(0, 5000))
    reader = CountingReader(path)
    source = RangedSource(reader, block_size=4096)
    source.size()
    assert source.read_cached(0, 100) is None and source.stats.bytes_read == 0
    assert source.read(0, 100) == path.read_bytes()[:100]
    assert source.read_cached(0, 100) == path.read_bytes()[:100]
    wait_for(lambda: source.read_cached(4096, 4096) is not None, what="read-ahead of block 1")
    assert any(name.startswith("range-ahead") for name in reader.threads)
    source.close()


def test_check_notices_growth_and_truncation_at_most_every_n_seconds(tmp_path: Path):
    path = tmp_path / "a.log"
    path.write_bytes(b"one\n")
    source = RangedSource(LocalRangeReader(path), check_every=3600)
    assert source.read(0, 100) == b"one\n"
    with open(path, "ab") as f:
        f.write(b"two\n")
    assert source.check().change is Change.SAME  # not asked again within check_every
    assert source.stats.size_checks == 1
    source.check_every = 0
    check = source.check()
    assert (check.change, check.size) == (Change.GREW, 8)
    assert source.read(0, 100) == b"one\ntwo\n"  # the short last block was dropped and re-read
    path.write_bytes(b"x\n")
    assert source.check().change is Change.TRUNCATED
    assert source.read(0, 100) == b"x\n"
    source.close()


def test_the_tail_of_a_200_mb_remote_log_costs_less_than_1_mb(big_log: Path):
    source = RangedSource(LocalRangeReader(big_log))
    doc = LogDocument(source=source, paint_first=False).start()
    try:
        assert doc.wait_tail(30)
        wait_for(lambda: doc.polls >= 3, what="the follow loop (the load is over)")
        assert doc.remote and doc.index is None and not doc.index_wanted
        lines = doc.lines
        last = lines.line_span(lines.line_count - 1)
        assert span_bytes(source, last) == b"2023-10-05 07:00:00,000 INFO line 1019999"
        assert source.stats.bytes_read < 1 << 20
    finally:
        doc.close(wait=True)


def test_a_remote_tail_follows_growth_without_indexing(tmp_path: Path):
    path = tmp_path / "grow.log"
    path.write_bytes(numbered(0, 100) + b"partial")
    source = RangedSource(LocalRangeReader(path), check_every=0)
    doc = LogDocument(source=source).start()
    try:
        assert doc.wait_tail(30)
        assert doc.lines.line_count == 101
        with open(path, "ab") as f:
            f.write(b" line\n" + numbered(100, 50))
        wait_for(lambda: doc.lines.line_count == 151, what="growth in the tail window")
        assert doc.take_changes() == 50
        lines = doc.lines
        assert span_bytes(source, lines.line_span(100)) == b"partial line"
        assert span_bytes(source, lines.line_span(150)) == numbered(149, 1)[:-1]
        assert doc.index is None
    finally:
        doc.close(wait=True)


def test_a_remote_log_is_indexed_on_request_and_scrolled_back_before(tmp_path: Path):
    path = tmp_path / "r.log"
    content = numbered(0, 20_000)
    path.write_bytes(content)
    source = RangedSource(LocalRangeReader(path), block_size=8192)
    doc = LogDocument(source=source, tail_bytes=16_384).start()
    try:
        assert doc.wait_tail(30)
        window = doc.lines
        first = window.first_offset
        doc.request_earlier(50_000)
        wait_for(lambda: doc.lines is not window, what="earlier lines")
        earlier = doc.lines
        assert earlier.first_offset < first and earlier.line_count > window.line_count
        assert span_bytes(source, earlier.line_span(earlier.line_count - 1)) == numbered(19_999, 1)[:-1]
        start, end = earlier.line_span(0)
        assert content[start - 1:start] == b"\n" and content[start:end].startswith(b"2023")
        doc.request_index()
        wait_for(lambda: doc.indexed, what="the index")
        assert doc.lines.line_count == 20_000
        assert span_bytes(source, doc.lines.line_span(12_345)) == numbered(12_345, 1)[:-1]
    finally:
        doc.close(wait=True)


def test_a_complete_remote_object_is_not_polled_after_it_is_loaded(tmp_path: Path):
    path = tmp_path / "s3.log"
    path.write_bytes(numbered(0, 10))
    source = RangedSource(LocalRangeReader(path, complete=True), check_every=0)
    doc = LogDocument(source=source).start()
    try:
        wait_for(lambda: doc.finished, what="finished")
        polls = doc.polls
        doc.request_index()  # a finished document still serves requests
        wait_for(lambda: doc.indexed, what="the index")
        assert doc.polls == polls and doc.lines.line_count == 10
    finally:
        doc.close(wait=True)


def test_growth_of_a_huge_line_at_the_start_is_read_back_whole(tmp_path: Path):
    # one 1 MB line without newline, then more: a window with no newline must still grow
    path = tmp_path / "huge.log"
    path.write_bytes(b"a" * (1 << 20))
    source = RangedSource(LocalRangeReader(path), check_every=0)
    doc = LogDocument(source=source).start()
    try:
        assert doc.wait_tail(30)
        assert doc.lines.line_count == 1
        with open(path, "ab") as f:
            f.write(b"b\nnext\n")
        wait_for(lambda: doc.lines.line_count == 2, what="growth")
        start, end = doc.lines.line_span(0)
        assert end == (1 << 20) + 1 and doc.lines.line_span(1) == ((1 << 20) + 2, (1 << 20) + 6)
    finally:
        doc.close(wait=True)
    assert os.path.getsize(path) == (1 << 20) + 7
