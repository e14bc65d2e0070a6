"""Hostile input: bad UTF-8, NUL, CRLF, a 20 MB line, empty and deleted files."""

from __future__ import annotations

import os

from opsconsole.logs.follow import LogDocument
from opsconsole.logs.index import LineIndex
from opsconsole.logs.tail import read_line
from opsconsole.logs.levels import detect_level
from opsconsole.logs.search import Query, Search
from opsconsole.logs.source import LocalFileSource
from opsconsole.logs.text import decode_for_display

from logtools import wait_for


def open_doc(path, **kw):
    doc = LogDocument(path, **kw).start()
    wait_for(lambda: doc.indexed or doc.error, what="index")
    return doc


def test_invalid_utf8_and_nul_and_escapes_display(tmp_path):
    path = tmp_path / "bad.log"
    path.write_bytes(b"ok\n\xff\xfe bad \xc3\x28\nnul\x00here\nesc\x1b[31mred\n")
    doc = open_doc(path)
    try:
        texts = [decode_for_display(read_line(doc.source, doc.index.line_span(i), 4096)[0]) for i in range(4)]
    finally:
        doc.close()
    assert texts[0] == "ok"
    assert "\ufffd" in texts[1] and "bad" in texts[1]
    assert texts[2] == "nul\u2400here"
    assert "\x1b" not in texts[3] and texts[3].startswith("esc\u241b")


def test_crlf_lines(tmp_path):
    path = tmp_path / "crlf.log"
    path.write_bytes(b"2023-10-05 07:40:00,078 INFO a\r\nb\r\n")
    doc = open_doc(path)
    try:
        assert doc.index.line_count == 2
        data, _ = read_line(doc.source, doc.index.line_span(0), 4096)
        assert decode_for_display(data) == "2023-10-05 07:40:00,078 INFO a"
    finally:
        doc.close()


def test_twenty_megabyte_single_line(tmp_path):
    path = tmp_path / "huge.log"
    with open(path, "wb") as f:
        f.write(b"first\n")
        f.write(b"{" + b'"k": "v", ' * (2 << 20) + b"NEEDLE}\n")
        f.write(b"last\n")
    doc = open_doc(path)
    try:
        index = doc.index
        assert index.line_count == 3
        start, end = index.line_span(1)
        assert end - start > 20_000_000
        data, cut = read_line(doc.source, (start, end), 4096)
        assert len(data) == 4096 and cut > 0
        assert "bytes" in decode_for_display(data, cut)
        assert read_line(doc.source, index.line_span(2), 4096)[0] == b"last"
        for use_rg in (False, None):
            s = Search(index, Query("NEEDLE"), use_rg=use_rg).start(index.indexed_bytes)
            assert s.wait(60)
            assert list(s.lines()) == [1]
    finally:
        doc.close()


def test_empty_file(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    doc = open_doc(path)
    try:
        assert doc.error is None and doc.index.line_count == 0 and doc.tail.line_count == 0
        s = doc.start_search(Query("x"))
        assert s.wait(30) and s.count == 0
    finally:
        doc.close()


def test_missing_file_is_reported(tmp_path):
    doc = LogDocument(tmp_path / "nope.log").start()
    wait_for(lambda: doc.error, what="error")
    assert "nope.log" in doc.error
    doc.close()


def test_deleted_while_open_keeps_content(tmp_path):
    path = tmp_path / "gone.log"
    path.write_bytes(b"a\nb\n")
    doc = open_doc(path)
    try:
        os.unlink(path)
        wait_for(lambda: doc.event == "deleted", what="deleted event")
        assert doc.index.line_count == 2
        assert read_line(doc.source, doc.index.line_span(1), 10)[0] == b"b"
    finally:
        doc.close()


def test_truncated_under_reader_does_not_crash(tmp_path):
    path = tmp_path / "t.log"
    path.write_bytes(b"line\n" * 100_000)
    source = LocalFileSource(path)
    index = LineIndex(source, block_size=4096)
    index.extend(source.size())
    os.truncate(path, 0)
    # Reads past the end are short, never SIGBUS (no mmap).
    assert source.read(100_000, 10) == b""
    # A stale index answers "no such line" or an empty read, until the follower resets it.
    try:
        data, _ = read_line(source, index.line_span(50_000), 100)
    except IndexError:
        data = b""
    assert data == b""


def test_levels_in_known_formats():
    assert detect_level("2023-10-05 07:40:00,078 INFO  hwcc.py:12 hello")[0] == "INFO"
    assert detect_level("[2024-01-02T03:04:05.678+0000] {taskinstance.py:12} ERROR - boom")[0] == "ERROR"
    assert detect_level("E1005 07:40:00.078250  1234 file.cc:12] failed")[0] == "ERROR"
    assert detect_level("W1005 07:40:00.078250  1234 file.cc:12] hmm")[0] == "WARN"
    assert detect_level("2023-10-05 07:40:00 WARNING x")[0] == "WARN"
    assert detect_level("2023-10-05 07:40:00 DEBUG x")[0] == "DEBUG"
    assert detect_level("no error here") is None


def test_airflow3_captured_output_is_coloured_by_its_own_level():
    """Airflow 3 logs a program's output at INFO: the level the program printed is the one shown."""
    af = "2026-11-29T22:58:39.178091Z INFO task.stdout "
    line = af + "2023-10-05 07:40:00,078 ERROR hwcc.py:12 order rejected"
    level, start, end = detect_level(line)
    assert level == "ERROR" and line[start:end] == "ERROR"
    hook = "2026-11-29T22:58:39Z INFO airflow.task.hooks.airflow.providers.standard.hooks.subprocess.SubprocessHook "
    assert detect_level(hook + "2023-10-05 07:40:00 WARNING slow fill")[0] == "WARN"
    assert detect_level(af + "line 000001 experiment=x")[0] == "INFO"  # nothing printed: Airflow's
    assert detect_level("2026-11-29T22:58:39Z ERROR airflow.task Task failed with exception")[0] == "ERROR"
    assert detect_level("2026-11-29T22:58:39Z INFO airflow.task the ERROR count is 0")[0] == "INFO"
