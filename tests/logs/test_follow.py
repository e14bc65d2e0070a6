"""Follow: appends, bursts, truncation, rename rotation, copytruncate, spooled streams."""

from __future__ import annotations

import os
import shutil
import threading

from logtools import wait_for, write_log

from opsconsole.logs.follow import LogDocument
from opsconsole.logs.tail import read_line
from opsconsole.logs.search import Query
from opsconsole.logs.source import Change, LocalFileSource, SpoolSource, SpoolWriter


def text_of(doc, line):
    return read_line(doc.source, doc.index.line_span(line), 1 << 16)[0]


def opened(path, **kw):
    calls = []
    doc = LogDocument(path, on_change=lambda: calls.append(1), **kw).start()
    wait_for(lambda: doc.indexed, what="index")
    return doc


def test_appends_are_indexed_and_notified(tmp_path):
    path = tmp_path / "a.log"
    lines = write_log(path, 1000)
    doc = opened(path)
    try:
        doc.take_changes()
        with open(path, "ab") as f:
            f.write(b"new line 1\nnew line 2\n")
        wait_for(lambda: doc.index.line_count == 1002, what="append")
        wait_for(lambda: doc.take_changes() or doc.index.line_count == 1002)
        assert text_of(doc, 1001) == b"new line 2"
        assert text_of(doc, 999) == lines[999]
    finally:
        doc.close()


def test_burst_is_absorbed_in_batches(tmp_path):
    path = tmp_path / "a.log"
    write_log(path, 100)
    notified = []
    # The callback never acknowledges (no take_changes), as a busy viewer would not: from the
    # first notification on, everything the thread finds must pile up behind that one call.
    doc = LogDocument(path, on_change=lambda: notified.append(1)).start()
    try:
        wait_for(lambda: doc.indexed and doc.index.line_count == 100, what="index")
        burst = b"".join(b"burst %d\n" % i for i in range(200_000))
        with open(path, "ab") as f:
            f.write(burst)
        wait_for(lambda: doc.index.line_count == 200_100, what="burst")
        assert text_of(doc, 200_099) == b"burst 199999"
        assert text_of(doc, 100) == b"burst 0"
        assert len(notified) == 1  # tail, index and the whole burst: one pending callback
        assert doc.take_changes() == 200_000  # every appended line counted exactly once
        # Acknowledged: the next growth calls back again, once, with just its own lines.
        with open(path, "ab") as f:
            f.write(b"one more\ntwo more\n")
        wait_for(lambda: len(notified) == 2, what="notification after acknowledging")
        wait_for(lambda: doc.index.line_count == 200_102, what="two more lines")
        assert doc.take_changes() == 2
        assert len(notified) == 2
    finally:
        doc.close()


def test_appended_lines_are_counted_as_soon_as_they_are_visible(tmp_path):
    """Regression: the follow thread used to count appended lines only after `extend()`
    returned, so a reader seeing the new `line_count` in between got 0 from `take_changes()`
    (and the lines came later, in a second callback). Hold the thread in exactly that window."""
    path = tmp_path / "a.log"
    write_log(path, 100)
    notified = []
    doc = LogDocument(path, on_change=lambda: notified.append(1)).start()
    try:
        wait_for(lambda: doc.indexed and doc.index.line_count == 100, what="index")
        doc.take_changes()
        acknowledged = len(notified)
        appended = b"".join(b"appended %d\n" % i for i in range(1000))
        target = path.stat().st_size + len(appended)
        index, source = doc.index, doc.source
        extended, release = threading.Event(), threading.Event()
        real_extend, real_check = index.extend, source.check
        checks = []

        def held_extend(*args, **kw):  # the follow thread stops right after indexing it all
            end = real_extend(*args, **kw)
            if end >= target:
                extended.set()
                release.wait(30)
            return end

        def counted_check():
            checks.append(1)
            return real_check()

        index.extend = held_extend
        source.check = counted_check
        with open(path, "ab") as f:
            f.write(appended)
        assert extended.wait(30), "the follow thread never indexed the appended lines"
        assert index.line_count == 1100
        assert doc.take_changes() == 1000  # visible, so already counted
        release.set()
        polls = len(checks)
        wait_for(lambda: len(checks) > polls, what="the follow thread to finish that poll")
        assert doc.take_changes() == 0  # not counted a second time
        assert len(notified) == acknowledged  # and no late callback for lines already taken
        assert doc.generation == 0 and doc.event is None  # a pure append never resets
        with open(path, "ab") as f:
            f.write(b"one more\n")
        wait_for(lambda: len(notified) == acknowledged + 1, what="notification of the next append")
        assert doc.take_changes() == 1 and index.line_count == 1101
    finally:
        release.set()
        doc.close()


def test_truncation_resets(tmp_path):
    path = tmp_path / "a.log"
    write_log(path, 5000)
    doc = opened(path)
    try:
        gen = doc.generation
        with open(path, "wb") as f:
            f.write(b"fresh start\n")
        wait_for(lambda: doc.generation > gen and doc.indexed, what="reset")
        assert doc.event == "truncated"
        assert doc.index.line_count == 1 and text_of(doc, 0) == b"fresh start"
    finally:
        doc.close()


def test_rename_rotation_follows_the_new_file(tmp_path):
    path = tmp_path / "a.log"
    write_log(path, 3000)
    doc = opened(path)
    try:
        gen = doc.generation
        os.rename(path, tmp_path / "a.log.1")
        path.write_bytes(b"after rotation\n")
        wait_for(lambda: doc.generation > gen and doc.indexed, what="rotation")
        assert doc.event == "rotated"
        assert doc.index.line_count == 1 and text_of(doc, 0) == b"after rotation"
        with open(path, "ab") as f:
            f.write(b"second\n")
        wait_for(lambda: doc.index.line_count == 2, what="append after rotation")
    finally:
        doc.close()


def test_copytruncate_even_when_regrown_past_old_size(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"old line\n" * 100)
    doc = opened(path, poll_interval=0.5)  # slow poll: truncate + regrow between two checks
    try:
        gen = doc.generation
        shutil.copy(path, tmp_path / "a.log.1")
        with open(path, "r+b") as f:  # copytruncate: same inode
            f.truncate(0)
            f.write(b"new content line\n" * 200)
        wait_for(lambda: doc.generation > gen and doc.indexed, what="copytruncate")
        assert doc.index.line_count == 200 and text_of(doc, 0) == b"new content line"
    finally:
        doc.close()


def test_search_survives_truncation_and_follows_appends(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"x needle\ny\n")
    doc = opened(path)
    try:
        search = doc.start_search(Query("needle"))
        assert search.wait(30) and search.lines().tolist() == [0]
        with open(path, "ab") as f:
            f.write(b"z\nneedle 2\n")
        wait_for(lambda: doc.search.lines().tolist() == [0, 3], what="appended match")
        with open(path, "wb") as f:
            f.write(b"needle after truncate\n")
        wait_for(lambda: doc.generation > 0 and doc.search is not None and doc.search.done
                 and doc.search.lines().tolist() == [0], what="search restarted")
    finally:
        doc.close()


def test_deleted_then_recreated_is_a_rotation(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"one\n")
    doc = opened(path)
    try:
        os.unlink(path)
        wait_for(lambda: doc.event == "deleted")
        path.write_bytes(b"two\nthree\n")
        wait_for(lambda: doc.event == "rotated" and doc.indexed and doc.index.line_count == 2)
    finally:
        doc.close()


def test_source_check_kinds(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"abc\n")
    src = LocalFileSource(path)
    assert src.check().change is Change.SAME
    with open(path, "ab") as f:
        f.write(b"def\n")
    assert src.check().change is Change.GREW
    os.truncate(path, 2)
    assert src.check().change is Change.TRUNCATED
    os.rename(path, tmp_path / "b.log")
    assert src.check().change is Change.GONE
    path.write_bytes(b"new\n")
    assert src.check().change is Change.ROTATED
    src.reopen()
    assert src.read(0, 10) == b"new\n"
    src.close()


def test_spooled_stream_is_followed_and_completes(tmp_path):
    writer = SpoolWriter(tmp_path / "spool.log")
    source = SpoolSource(writer)
    doc = LogDocument(source=source).start()
    go = threading.Event()

    def stream():
        for i in range(50):
            writer.write(b"chunk %d line\n" % i)
            if i == 10:
                go.wait(30)
        writer.finish()

    t = threading.Thread(target=stream)
    t.start()
    try:
        wait_for(lambda: doc.indexed and doc.index.line_count >= 11, what="early lines")
        assert not source.complete
        go.set()
        wait_for(lambda: doc.index.line_count == 50, what="all lines")
        wait_for(lambda: source.complete)
        assert text_of(doc, 49) == b"chunk 49 line"
    finally:
        t.join()
        doc.close()


def test_spool_error_is_visible(tmp_path):
    writer = SpoolWriter(tmp_path / "spool.log")
    writer.write(b"partial\n")
    writer.finish(error="connection reset")
    assert b"connection reset" in (tmp_path / "spool.log").read_bytes()
    assert writer.complete and writer.error == "connection reset"
