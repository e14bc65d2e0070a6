"""Line index and tail window: exact line numbers and contents anywhere in the file."""

from __future__ import annotations

import numpy as np
import pytest

from opsconsole.logs.index import LineIndex
from opsconsole.logs.tail import TailWindow, read_line
from opsconsole.logs.levels import parse_timestamp
from opsconsole.logs.source import LocalFileSource


def build(path, block_size=1 << 20):
    source = LocalFileSource(path)
    index = LineIndex(source, block_size=block_size)
    index.extend(source.size())
    return source, index


def line_bytes(source, index, n):
    start, end = index.line_span(n)
    return source.read(start, end - start)


@pytest.mark.parametrize("block_size", [4096, 1 << 20])
def test_lines_at_start_middle_end(make_log, block_size):
    path, lines = make_log(30_000)
    source, index = build(path, block_size)
    assert index.line_count == len(lines)
    for n in [0, 1, 2, len(lines) // 2, len(lines) // 2 + 1, len(lines) - 2, len(lines) - 1]:
        assert line_bytes(source, index, n) == lines[n]


def test_tens_of_megabytes(make_log):
    path, lines = make_log(250_000)  # ~20 MB: spans many 1 MB blocks
    assert path.stat().st_size > 15 << 20
    source, index = build(path)
    assert index.line_count == len(lines)
    rng = np.random.default_rng(1)
    for n in [0, len(lines) - 1, *rng.integers(0, len(lines), 50)]:
        assert line_bytes(source, index, int(n)) == lines[n]
    # offsets back to line numbers, vectorised
    picks = np.sort(rng.integers(0, len(lines), 200))
    offsets = np.array([index.line_span(int(n))[0] + 3 for n in picks])
    assert (index.lines_at_offsets(offsets) == picks).all()


def test_line_at_offset_boundaries(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"ab\ncd\n\nef")
    source, index = build(path, block_size=4)
    assert index.line_count == 4  # "ef" has no newline but is a line
    assert [line_bytes(source, index, n) for n in range(4)] == [b"ab", b"cd", b"", b"ef"]
    assert [index.line_at_offset(o) for o in (0, 2, 3, 6, 7, 8)] == [0, 0, 1, 2, 3, 3]


def test_incremental_extend_matches_full(make_log):
    path, lines = make_log(5000)
    source = LocalFileSource(path)
    index = LineIndex(source, block_size=8192)
    size = source.size()
    for limit in range(0, size + 7000, 7000):  # limits not aligned to blocks or lines
        index.extend(min(limit, size))
    assert index.line_count == len(lines)
    assert line_bytes(source, index, 4321) == lines[4321]


def test_tail_window_is_the_end_of_the_file(make_log):
    path, lines = make_log(20_000)
    source = LocalFileSource(path)
    tail = TailWindow(source, nbytes=64 * 1024)
    n = tail.line_count
    assert 0 < n < len(lines)
    got = [source.read(*(lambda s, e: (s, e - s))(*tail.line_span(i))) for i in range(n)]
    assert got == lines[-n:]


def test_tail_window_small_file_and_empty(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo")
    tail = TailWindow(LocalFileSource(path))
    assert tail.line_count == 2 and tail.line_span(0) == (0, 3)
    path.write_bytes(b"")
    assert TailWindow(LocalFileSource(path)).line_count == 0


def test_jump_to_time_is_exact(make_log):
    path, lines = make_log(60_000)
    source, index = build(path, block_size=16384)
    stamps = [parse_timestamp(line) for line in lines]
    target = stamps[41_234]
    expected = next(i for i, t in enumerate(stamps) if t is not None and t >= target)
    assert index.line_at_time(target) == expected
    assert index.line_at_time(stamps[0] - 100) == 0


def test_index_memory_is_per_block(make_log):
    path, _ = make_log(100_000)
    _, index = build(path, block_size=1 << 20)
    # 16 bytes per block, not per line
    assert len(index._cum) * 16 < 1000


def test_read_line_cuts_long_lines(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 10_000 + b"\nshort\n")
    source, index = build(path)
    data, cut = read_line(source, index.line_span(0), 4096)
    assert len(data) == 4096 and cut == 10_000 - 4096
    assert read_line(source, index.line_span(1), 4096) == (b"short", 0)
