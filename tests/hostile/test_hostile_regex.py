"""Regex search never freezes: checked before it runs, ripgrep first, the Python engine
with the GIL released and a time budget, cancellable; `ctrl+k` arms while it runs."""

from __future__ import annotations

import threading
import time

import pytest
from hostile_corpus import CATASTROPHIC, CATASTROPHIC_LINE

from opsconsole.logs.follow import LogDocument
from opsconsole.logs.query import Query, RegexTooSlow, finditer_text
from opsconsole.logs.ref import as_ref


@pytest.fixture
def slow_log(tmp_path):
    path = tmp_path / "slow.log"
    with open(path, "w") as out:
        for i in range(400):
            out.write(f"line {i} ok\n" if i % 4 else CATASTROPHIC_LINE + "\n")
    return path


def _indexed(path) -> LogDocument:
    doc = LogDocument(as_ref(path), on_change=lambda: None)
    doc.start()
    deadline = time.monotonic() + 20
    while not doc.indexed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert doc.indexed
    return doc


@pytest.mark.parametrize("pattern", ["a" * 1001, "a{5000}", "(unclosed", "x\x00"])
def test_a_regex_is_checked_before_it_runs(pattern):
    assert Query(pattern, regex=True).problem


def test_nested_quantifiers_are_flagged_risky():
    assert all(Query(p, regex=True).risky for p in CATASTROPHIC)
    assert not Query(r"ERROR \d+", regex=True).risky
    assert Query(r"(?=a)(a+)+$", regex=True).problem is None  # allowed: it runs with a budget


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_python_engine_search_never_holds_the_gil_and_ends(slow_log, pattern, monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_NO_RG", "1")  # the fallback engine, whatever is installed
    doc = _indexed(slow_log)
    try:
        ticks = []
        stop = threading.Event()

        def ticker():
            while not stop.is_set():
                ticks.append(time.monotonic())
                time.sleep(0.005)

        t = threading.Thread(target=ticker)
        t.start()
        search = doc.start_search(Query(pattern, regex=True))
        assert search.scanner == "python"
        assert search.wait(30), "the search never ended"
        stop.set()
        t.join()
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        assert max(gaps) < 0.25, f"another thread was starved for {max(gaps):.2f}s"
        # either it finished, or it gave up with the reason
        assert search.error is None or "backtracks" in search.error
    finally:
        doc.close()


def test_python_engine_search_is_cancellable(slow_log, monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_NO_RG", "1")
    doc = _indexed(slow_log)
    try:
        search = doc.start_search(Query(r"(a|aa)+$", regex=True))
        time.sleep(0.05)
        search.cancel()
        # the budget is CPU time per 64 KB window: on a loaded machine the wall time stretches
        assert search.wait(10), "cancel did not end the scan within a window's budget"
    finally:
        doc.close()


def test_highlighting_gives_up_on_a_slow_pattern():
    pattern = Query(r"(a|aa)+$", regex=True).compile_text()
    with pytest.raises(RegexTooSlow):
        finditer_text(pattern, CATASTROPHIC_LINE, timeout=0.01)
    assert finditer_text(Query("ok").compile_text(), "ok ok") == [(0, 2), (3, 5)]


def test_a_slow_pattern_on_appended_lines_stops_the_search_not_the_following(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_NO_RG", "1")
    path = tmp_path / "grow.log"
    path.write_text("start\n")
    doc = _indexed(path)
    try:
        search = doc.start_search(Query(r"(a|aa)+$", regex=True))
        assert search.wait(10)
        with open(path, "a") as out:
            out.write(CATASTROPHIC_LINE * 300 + "\n" + "after\n")
        deadline = time.monotonic() + 30
        while (search.error is None or doc.size < path.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert search.error and "backtracks" in search.error
        assert doc.error is None  # the document still follows the file
        with open(path, "a") as out:
            out.write("more\n")
        deadline = time.monotonic() + 10
        while doc.size < path.stat().st_size and time.monotonic() < deadline:
            time.sleep(0.05)
        assert doc.size == path.stat().st_size
    finally:
        doc.close()
