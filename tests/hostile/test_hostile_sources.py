"""Log sources the viewer cannot follow say why: corrupt .gz, FIFO, directory, /dev/zero,
/proc files. No silent empty view, no hang."""

from __future__ import annotations

import gzip
import os
import threading
import time

import pytest
from ui_helpers import wait_for

from opsconsole.logs.follow import LogDocument
from opsconsole.logs.ref import as_ref
from opsconsole.logs.source import SpoolWriter, UnsupportedSource, open_source
from opsconsole.ui.tail_app import TailApp, gunzip_to_spool
from opsconsole.ui.widgets.log_status import status_text
from opsconsole.ui.widgets.log_view import LogView


def _fifo(tmp_path):
    path = tmp_path / "pipe.log"
    os.mkfifo(path)
    return path


def _dir(tmp_path):
    path = tmp_path / "adir"
    path.mkdir()
    return path


CASES = {
    "fifo": (_fifo, "FIFO"),
    "directory": (_dir, "directory"),
    "dev_zero": (lambda tmp_path: "/dev/zero", "device"),
    "proc": (lambda tmp_path: "/proc/self/status", "size 0 but has content"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unfollowable_paths_are_refused_with_the_reason_at_once(case, tmp_path):
    make, reason = CASES[case]
    path = make(tmp_path)
    raised: list[BaseException] = []

    def open_it() -> None:
        try:
            open_source(path)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            raised.append(exc)

    opener = threading.Thread(target=open_it, daemon=True)
    opener.start()
    opener.join(30)
    assert not opener.is_alive(), "the open blocked (a FIFO without a writer must not)"
    (err,) = raised
    assert isinstance(err, UnsupportedSource), err
    assert reason in str(err) and str(path) in str(err)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_document_reports_the_reason_instead_of_an_empty_view(case, tmp_path):
    make, reason = CASES[case]
    doc = LogDocument(as_ref(make(tmp_path)), on_change=lambda: None)
    doc.start()
    try:
        deadline = time.monotonic() + 10
        while doc.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert doc.error is not None and reason in doc.error
    finally:
        doc.close()


def _corrupt_gz(tmp_path):
    good = gzip.compress(b"".join(f"line {i}\n".encode() for i in range(50_000)))
    path = tmp_path / "corrupt.log.gz"
    data = bytearray(good)
    for i in range(200, 260):  # damage the deflate stream, keep the header
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def test_a_corrupt_gzip_ends_its_spool_with_the_reason(tmp_path):
    path = _corrupt_gz(tmp_path)
    writer = SpoolWriter(tmp_path / "spool")
    gunzip_to_spool(path, writer, threading.Event())
    assert writer.complete and writer.error and "not readable as gzip" in writer.error
    assert b"stream ended with error" in (tmp_path / "spool").read_bytes()


def test_a_fifo_named_gz_is_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe.gz"
    os.mkfifo(path)
    writer = SpoolWriter(tmp_path / "spool")
    t = threading.Thread(target=gunzip_to_spool, args=(path, writer, threading.Event()), daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive() and "FIFO" in (writer.error or "")


async def test_tail_shows_why_in_the_status_line(tmp_path):
    fifo = _fifo(tmp_path)
    gz = _corrupt_gz(tmp_path)
    app = TailApp([str(fifo), str(gz), "/dev/zero"])
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: len(app.query(LogView)) == 3)
        views = {v.id: v for v in app.query(LogView)}
        await wait_for(pilot, lambda: views["log-0"].document.error is not None)
        assert "FIFO" in status_text(views["log-0"])
        await wait_for(pilot, lambda: views["log-2"].document.error is not None)
        assert "device" in status_text(views["log-2"])
        await wait_for(pilot, lambda: views["log-1"].document.lines is not None
                       and b"stream ended with error" in open(views["log-1"].path, "rb").read())


def test_a_new_file_whose_first_line_lands_while_it_is_opened_is_a_log_not_a_pseudo_file(tmp_path, monkeypatch):
    """Empty when its size is read, a line by the time it is read (a spool, a run's new log):
    that is a regular file growing, not a /proc pseudo-file (CI once saw a .gz spool refused)."""
    import opsconsole.logs.source as source_mod

    path = tmp_path / "new.log"
    path.write_bytes(b"first line\n")
    real_fstat, calls = os.fstat, []

    def fstat_before_the_write(fd):
        st = real_fstat(fd)
        calls.append(st.st_size)
        if len(calls) == 1:  # the size as it was an instant before the writer's first line
            return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 0,
                                   st.st_atime, st.st_mtime, st.st_ctime))
        return st

    monkeypatch.setattr(source_mod.os, "fstat", fstat_before_the_write)
    fd, st = source_mod.open_regular(path)
    os.close(fd)
    assert st.st_size == len(b"first line\n") and len(calls) == 2
