"""Search and filter results against Python's own line-by-line answer, rg and fallback."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from opsconsole.logs.index import LineIndex
from opsconsole.logs.search import Query, Search
from opsconsole.logs.source import LocalFileSource

SCANNERS = [
    pytest.param(True, id="ripgrep", marks=pytest.mark.skipif(not shutil.which("rg"), reason="no rg")),
    pytest.param(False, id="python"),
]


def expected(lines: list[bytes], query: Query) -> list[int]:
    flags = 0 if query.case_sensitive else re.IGNORECASE
    pattern = re.compile(query.pattern.encode() if query.regex else re.escape(query.pattern.encode()), flags)
    return [i for i, line in enumerate(lines) if pattern.search(line)]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    from logtools import write_log

    path = tmp_path_factory.mktemp("search") / "run.log"
    lines = write_log(path, 120_000)
    source = LocalFileSource(path)
    index = LineIndex(source, block_size=64 * 1024)
    index.extend(source.size())
    return index, lines


QUERIES = [
    Query("RARE_TOKEN"),
    Query("rare_token", case_sensitive=False),
    Query("rare_token", case_sensitive=True),  # no hits
    Query("ERROR"),
    Query("error", case_sensitive=False),
    Query("done waiting"),
    Query(r"USDT': 61\d\d\.5", regex=True),
    Query(r"order_id=\d+7 fill", regex=True, case_sensitive=True),
    Query("{'BTC': 0.0"),  # regex metacharacters taken literally
]


@pytest.mark.parametrize("use_rg", SCANNERS)
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.pattern}-{'re' if q.regex else 'lit'}-{'cs' if q.case_sensitive else 'ci'}")
def test_search_matches_python(indexed, use_rg, query):
    index, lines = indexed
    search = Search(index, query, use_rg=use_rg).start(index.indexed_bytes)
    assert search.wait(120)
    assert search.error is None
    want = expected(lines, query)
    assert search.lines().tolist() == want
    assert search.count == len(want)


@pytest.mark.parametrize("use_rg", SCANNERS)
def test_next_previous_wrap(indexed, use_rg):
    index, lines = indexed
    search = Search(index, Query("RARE_TOKEN"), use_rg=use_rg).start(index.indexed_bytes)
    assert search.wait(120)
    hits = search.lines().tolist()
    assert len(hits) > 3
    assert search.next_after(hits[0]) == hits[1]
    assert search.next_after(hits[-1]) == hits[0]  # wraps
    assert search.previous_before(hits[1]) == hits[0]
    assert search.previous_before(hits[0]) == hits[-1]
    assert search.next_after(-1) == hits[0]


@pytest.mark.parametrize("use_rg", SCANNERS)
def test_counts_stream_and_cancel(indexed, use_rg):
    index, _ = indexed
    updates = []
    search = Search(index, Query("INFO"), use_rg=use_rg, on_update=lambda: updates.append(1))
    search.start(index.indexed_bytes)
    search.cancel()
    assert search.wait(60)  # cancelled promptly, with partial or no results, no error
    assert search.error is None
    assert updates  # at least the final notification


def test_bad_regex_raises_early(indexed):
    index, _ = indexed
    with pytest.raises(re.error):
        Search(index, Query("(unclosed", regex=True))


@pytest.mark.parametrize("use_rg", SCANNERS)
def test_extend_scans_appended_lines(tmp_path, use_rg):
    path = tmp_path / "grow.log"
    path.write_bytes(b"a needle\nb\npartial nee")
    source = LocalFileSource(path)
    index = LineIndex(source, block_size=8)
    index.extend(source.size())
    search = Search(index, Query("needle"), use_rg=use_rg).start(index.indexed_bytes)
    assert search.wait(30)
    assert search.lines().tolist() == [0]
    with open(path, "ab") as f:
        f.write(b"dle done\nno\nneedle again\n")  # completes the partial line
    index.extend(source.size())
    search.extend(index.indexed_bytes)
    assert search.lines().tolist() == [0, 2, 4]
    assert search.count == 3


def test_search_waits_for_the_index(tmp_path):
    """A search may start while the index is still being built; offsets map once it catches up."""
    from logtools import write_log

    path = tmp_path / "slow.log"
    lines = write_log(path, 30_000)
    source = LocalFileSource(path)
    index = LineIndex(source, block_size=4096)
    search = Search(index, Query("RARE_TOKEN"), use_rg=None).start(source.size())
    index.extend(source.size())
    assert search.wait(60)
    assert search.lines().tolist() == expected(lines, Query("RARE_TOKEN"))


def test_result_arrays_are_compact(indexed):
    index, _ = indexed
    search = Search(index, Query("INFO"), use_rg=False).start(index.indexed_bytes)
    assert search.wait(120)
    assert search.lines().dtype == np.uint32 and search.lines().nbytes == 4 * search.count


def test_results_widen_past_four_billion_lines(indexed):
    index, _ = indexed
    search = Search(index, Query("x"), use_rg=False)
    search._add(np.array([5, 7], dtype=np.int64))
    search._add(np.array([2**32 + 3], dtype=np.int64))
    assert search.lines().dtype == np.int64
    assert search.lines().tolist() == [5, 7, 2**32 + 3] and search.count == 3


@pytest.mark.parametrize("use_rg", SCANNERS)
def test_case_folding_does_not_confuse_punctuation(tmp_path, use_rg):
    """The Python scanner folds case by OR-ing 0x20, which also maps '@' to '`' and '_' to DEL."""
    path = tmp_path / "p.log"
    lines = [b"x A@B y", b"x a`b y", b"x a_b", b"x A\x7fB", b"x a@b", b"nothing"]
    path.write_bytes(b"\n".join(lines) + b"\n")
    source = LocalFileSource(path)
    index = LineIndex(source, block_size=16)
    index.extend(source.size())
    for pattern, want in [("a@b", [0, 4]), ("A_B", [2])]:
        search = Search(index, Query(pattern), use_rg=use_rg).start(index.indexed_bytes)
        assert search.wait(30)
        assert search.lines().tolist() == want


@pytest.mark.parametrize("use_rg", SCANNERS)
def test_appends_during_the_main_scan_are_not_lost(tmp_path, use_rg):
    from logtools import write_log

    path = tmp_path / "busy.log"
    lines = write_log(path, 60_000)
    source = LocalFileSource(path)
    index = LineIndex(source, block_size=1 << 16)
    index.extend(source.size())
    search = Search(index, Query("RARE_TOKEN"), use_rg=use_rg).start(index.indexed_bytes)
    with open(path, "ab") as f:  # likely while the scan still runs; correct either way
        f.write(b"late RARE_TOKEN line\n")
    index.extend(source.size())
    search.extend(index.indexed_bytes)
    assert search.wait(60)
    want = expected(lines + [b"late RARE_TOKEN line"], Query("RARE_TOKEN"))
    assert search.lines().tolist() == want


def test_python_only_regex_falls_back_from_rg(indexed):
    """A lookahead is valid Python but not ripgrep syntax: the search still answers."""
    index, lines = indexed
    query = Query(r"RARE_TOKEN_(?=\d+3 )", regex=True, case_sensitive=True)
    search = Search(index, query).start(index.indexed_bytes)
    assert search.wait(120) and search.error is None
    assert search.lines().tolist() == expected(lines, query)
