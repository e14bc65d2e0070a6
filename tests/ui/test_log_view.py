"""Pilot tests of LogView's keys: behaviour, never timing (we poll with generous timeouts)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical

from opsconsole.ui.screens.line_prompt import LinePrompt as Prompt
from opsconsole.ui.widgets.log_view import LogView

TIMEOUT = 30.0


def write_lines(path: Path, n: int, start: int = 0, mode: str = "w") -> None:
    levels = ["INFO", "DEBUG", "WARNING", "ERROR"]
    with open(path, mode) as f:
        for i in range(start, start + n):
            minute, second = divmod(i // 10, 60)
            f.write(f"2023-10-05 07:{minute % 60:02d}:{second:02d},{i % 1000:03d} {levels[i % 4]} "
                    f"step {i} {'needle' if i % 250 == 7 else 'hay'} qty={i * 3}\n")


class ViewApp(App):
    def __init__(self, path: Path, follow: bool = True, height: int | None = None) -> None:
        super().__init__()
        self.path = path
        self.follow = follow
        self.height = height

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield LogView(self.path, follow=self.follow)

    def on_mount(self) -> None:
        if self.height:
            self.query_one("#box").styles.height = self.height
        self.query_one(LogView).focus()


async def until(pilot, condition, what: str = "condition") -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def ready(pilot) -> LogView:
    view = pilot.app.query_one(LogView)
    doc = view.document

    def indexed_on_screen() -> bool:  # the view syncs on a message: the index can be done a moment before
        return bool(doc.error) or (doc.indexed and 0 < view.line_count == doc.lines.line_count)

    await until(pilot, indexed_on_screen, "index")
    await until(pilot, lambda: view.visible_lines(), "first paint")
    return view


def screen_text(view: LogView) -> str:
    height = view.scrollable_content_region.height
    return "\n".join(view.render_line(y).text for y in range(height))


async def type_prompt(pilot, key: str, text: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, Prompt), "prompt")
    await pilot.press(*text) if len(text) <= 1 else None
    if len(text) > 1:
        pilot.app.screen.query_one("Input").value = text
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, Prompt), "prompt closed")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "run.log"
    write_lines(path, 5000)
    return path


async def test_opens_at_the_tail_and_keys_move(log):
    app = ViewApp(log)
    async with app.run_test(size=(100, 20)) as pilot:
        view = await ready(pilot)
        await until(pilot, lambda: view.visible_lines()[-1] == 4999, "tail on screen")
        assert "step 4999 " in screen_text(view)
        await pilot.press("g")
        assert view.visible_lines()[0] == 0 and view.cursor == 0
        assert "step 0 " in screen_text(view)
        await pilot.press("pagedown")
        assert view.cursor > 0 and view.visible_lines()[0] > 0
        await pilot.press("G")
        assert view.visible_lines()[-1] == 4999 and view.cursor == 4999
        await pilot.press("home")
        assert view.cursor == 0
        await pilot.press("end")
        assert view.cursor == 4999


async def test_status_line_shows_file_lines_and_follow(log):
    app = ViewApp(log)
    async with app.run_test(size=(120, 10)) as pilot:
        view = await ready(pilot)
        status = screen_text(view).splitlines()[-1]
        assert "run.log" in status and "5,000" in status and "FOLLOW" in status
        await pilot.press("f")
        assert "paused" in screen_text(view).splitlines()[-1]


async def test_small_box(log):
    app = ViewApp(log, height=5)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await ready(pilot)
        await until(pilot, lambda: view.visible_lines() and view.visible_lines()[-1] == 4999, "tail")
        assert len(view.visible_lines()) <= 4
        await pilot.press("g")
        assert view.visible_lines()[0] == 0


async def test_goto_line_percent_and_time(log):
    app = ViewApp(log)
    async with app.run_test(size=(100, 20)) as pilot:
        view = await ready(pilot)
        await type_prompt(pilot, "colon", "1234")
        assert view.cursor == 1233 and 1233 in view.visible_lines()
        assert "step 1233 " in view.line_text(view.cursor)
        await type_prompt(pilot, "colon", "50%")
        assert abs(view.cursor - 2500) <= 1
        await type_prompt(pilot, "t", "07:05:00")  # line 3000 is the first at 07:05:00
        await until(pilot, lambda: view.cursor == 3000, "jump to time")
        assert "07:05:00" in view.line_text(view.cursor)


@pytest.mark.parametrize("scanner", ["rg", "python"])
async def test_search_jumps_counts_and_filters(log, scanner, monkeypatch):
    if scanner == "python":
        monkeypatch.setenv("OPSCONSOLE_NO_RG", "1")
    elif not __import__("shutil").which("rg"):
        pytest.skip("no rg")
    app = ViewApp(log)
    async with app.run_test(size=(120, 20)) as pilot:
        view = await ready(pilot)
        await pilot.press("g")
        await type_prompt(pilot, "slash", "needle")
        expected = [i for i in range(5000) if i % 250 == 7]
        await until(pilot, lambda: view.document.search and view.document.search.done, "search")
        await pilot.pause()
        assert "needle" in view.line_text(view.cursor)
        assert view.cursor == expected[0]
        assert f"{len(expected)} matches" in screen_text(view).splitlines()[-1]
        await pilot.press("n")
        assert view.cursor == expected[1]
        await pilot.press("N")
        assert view.cursor == expected[0]
        await pilot.press("F")
        assert view.row_count == len(expected)
        assert all("needle" in view.line_text(line) for line in view.visible_lines())
        assert "FILTER" in screen_text(view)
        await pilot.press("F")
        assert view.row_count == 5000


async def test_follow_shows_appended_lines_and_filter_follows(log):
    app = ViewApp(log)
    async with app.run_test(size=(120, 20)) as pilot:
        view = await ready(pilot)
        write_lines(log, 10, start=5000, mode="a")
        await until(pilot, lambda: view.line_count == 5010, "appended lines")
        await until(pilot, lambda: view.visible_lines()[-1] == 5009, "auto-scroll")
        assert "step 5009 " in screen_text(view)
        # scrolled away: the new lines are counted, not scrolled to
        await pilot.press("g")
        write_lines(log, 5, start=5010, mode="a")
        await until(pilot, lambda: view.new_lines == 5, "+N new lines")
        assert "+5 new lines" in screen_text(view)
        assert view.visible_lines()[0] == 0
        await pilot.press("G")
        assert view.visible_lines()[-1] == 5014
        # filter while following
        await type_prompt(pilot, "slash", "needle")
        await until(pilot, lambda: view.document.search and view.document.search.done, "search")
        await pilot.press("F")
        await pilot.press("G")
        before = view.row_count
        with open(log, "a") as f:
            f.write("2023-10-05 08:00:00,000 ERROR late needle\nno match here\n")
        await until(pilot, lambda: view.row_count == before + 1, "filtered append")
        await until(pilot, lambda: "late needle" in screen_text(view), "filtered line on screen")
        assert "no match here" not in screen_text(view)


async def test_wrap_mark_save_copy(log, tmp_path):
    app = ViewApp(log)
    async with app.run_test(size=(60, 20)) as pilot:
        view = await ready(pilot)
        await pilot.press("g")
        await pilot.press("m", "m")
        assert view.marks == {0, 1} and view.cursor == 2
        target = tmp_path / "saved.log"
        await type_prompt(pilot, "S", str(target))
        await until(pilot, lambda: target.exists() and target.read_text().count("\n") == 2, "saved")
        assert target.read_text().splitlines()[1].startswith("2023-10-05 07:00:00,001 DEBUG step 1 ")
        copied = []
        app.copy_to_clipboard = copied.append
        await pilot.press("c")
        await until(pilot, lambda: copied, "copied")
        assert "step 2 " in copied[0]
        await pilot.press("w")
        assert view.wrap
        text = screen_text(view)
        assert "qty=0" in text  # the tail of line 0 wrapped onto the next row
        await pilot.press("w")
        assert not view.wrap


async def test_hostile_lines_render(tmp_path):
    path = tmp_path / "bad.log"
    with open(path, "wb") as f:
        f.write(b"\xff\xfe bad\nnul\x00x\r\n")
        f.write(b"2023-10-05 07:40:00,078 INFO " + b"y" * (3 << 20) + b"\n")
        f.write(b"last\n")
    app = ViewApp(path)
    async with app.run_test(size=(100, 12)) as pilot:
        view = await ready(pilot)
        assert view.line_count == 4
        text = screen_text(view)
        assert "last" in text and "\u2400" in text and "\ufffd" in text
        assert "bytes, press enter" in view.line_text(2)  # cut marker at the end of the 3 MB line
        await type_prompt(pilot, "colon", "3")
        await pilot.press("enter")  # opens the whole line, folded, in its own viewer
        from opsconsole.ui.screens.whole_line import WholeLine

        await until(pilot, lambda: isinstance(app.screen, WholeLine), "whole line screen")
        inner = app.screen.query_one(LogView)
        length = len(b"2023-10-05 07:40:00,078 INFO ") + (3 << 20)
        await until(pilot, lambda: inner.document.indexed and inner.line_count == -(-length // 4096), "folded line")
        assert inner.wrap
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, WholeLine), "closed")


async def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    async with ViewApp(empty).run_test(size=(80, 10)) as pilot:
        view = pilot.app.query_one(LogView)
        await until(pilot, lambda: view.document.indexed, "index")
        await pilot.press("G", "g", "slash")
        await pilot.press("escape")
        assert view.line_count == 0
    async with ViewApp(tmp_path / "missing.log").run_test(size=(80, 10)) as pilot:
        view = pilot.app.query_one(LogView)
        await until(pilot, lambda: view.document.error, "error")
        await pilot.pause()
        assert "error" in screen_text(view)


async def test_escape_passes_through_without_a_search(log):
    """The lead's screens use escape for "back": LogView must only take it during a search."""
    app = ViewApp(log)
    async with app.run_test(size=(100, 20)) as pilot:
        view = await ready(pilot)
        assert app.active_bindings.get("escape") is None or not app.active_bindings["escape"].enabled
        await type_prompt(pilot, "slash", "needle")
        await until(pilot, lambda: view.document.search and view.document.search.done, "search")
        assert app.active_bindings["escape"].enabled
        await pilot.press("escape")
        assert view.query is None and view.document.search is None


async def test_tail_app_tabs_and_gzip(tmp_path):
    import gzip

    from opsconsole.ui.tail_app import TailApp

    plain = tmp_path / "plain.log"
    write_lines(plain, 300)
    packed = tmp_path / "old.log.gz"
    lines = "".join(f"2023-10-05 07:00:00,000 INFO gz line {i}\n" for i in range(60_000))
    with gzip.open(packed, "wt") as f:
        f.write(lines)
    app = TailApp([str(plain), str(packed)])
    async with app.run_test(size=(100, 20)) as pilot:
        # the .gz tab's LogView is mounted once a worker has created its spool file
        await until(pilot, lambda: len(app.query(LogView)) == 2, "both views mounted")
        views = sorted(app.query(LogView), key=lambda view: view.id)
        assert app.focused is views[0]
        await until(pilot, lambda: views[1].line_count == 60_000, "gunzipped spool indexed")
        await until(pilot, lambda: views[0].line_count == 300, "plain indexed")
        app.query_one("TabbedContent").active = "tab-1"
        await until(pilot, lambda: views[1].visible_lines() and views[1].visible_lines()[-1] == 59_999,
                    "gz tail on screen")
        await until(pilot, lambda: "gz line 59999" in screen_text(views[1]), "gz tail painted")


async def test_unfollowed_view_keeps_its_place_when_the_index_arrives(tmp_path):
    """follow=False opens at the tail too; when the index replaces the tail window the same
    lines stay on screen, now with real line numbers."""
    path = tmp_path / "big.log"
    write_lines(path, 60_000)  # ~4 MB: bigger than the 256 KB tail window
    app = ViewApp(path, follow=False)
    async with app.run_test(size=(100, 12)) as pilot:
        view = await ready(pilot)
        await until(pilot, lambda: view.visible_lines() and view.visible_lines()[-1] == 59_999, "tail")
        assert "step 59999 " in screen_text(view)
        assert len(view.visible_lines()) == 11  # a full screen ending at the last line
        with open(path, "a") as f:
            f.write("appended while not following\n")
        await until(pilot, lambda: view.line_count == 60_001, "append indexed")
        assert view.visible_lines()[-1] == 59_999  # not scrolled: follow is off
        assert "60,001" in screen_text(view).splitlines()[-1]


async def test_search_toggles_percent_key_and_save_visible_range(log, tmp_path):
    app = ViewApp(log)
    async with app.run_test(size=(120, 12)) as pilot:
        view = await ready(pilot)
        await pilot.press("g")
        await type_prompt(pilot, "slash", "NEEDLE")  # case-insensitive by default
        await until(pilot, lambda: view.document.search and view.document.search.done, "search")
        found = view.document.search.count
        assert found == 20 and "needle" in view.line_text(view.cursor)
        await pilot.press("I")  # case-sensitive now: no line has upper-case NEEDLE
        await until(pilot, lambda: view.document.search and view.document.search.done
                    and view.query.case_sensitive, "case-sensitive search")
        assert view.document.search.count == 0
        await pilot.press("I")
        await type_prompt(pilot, "slash", r"step \d*7 needle")
        await pilot.press("R")  # the same text as a regex
        await until(pilot, lambda: view.query.regex and view.document.search.done, "regex search")
        assert view.document.search.count == 20
        await pilot.press("escape")
        assert view.query is None
        await type_prompt(pilot, "percent_sign", "100")
        assert view.cursor == 4999
        target = tmp_path / "visible.log"
        await type_prompt(pilot, "S", str(target))  # nothing marked: the visible range
        await until(pilot, lambda: target.exists() and target.read_text().count("\n") == 11, "saved")
        assert target.read_text().splitlines()[-1].startswith("2023-10-05 07:08:19,999 ERROR step 4999 ")


async def test_save_refuses_the_viewed_file_and_survives_truncation(log, tmp_path):
    app = ViewApp(log)
    async with app.run_test(size=(120, 12)) as pilot:
        view = await ready(pilot)
        original = log.read_bytes()
        (tmp_path / "hard.log").hardlink_to(log)
        (tmp_path / "soft.log").symlink_to(log)
        for name in (log, tmp_path / "hard.log", tmp_path / "soft.log"):
            view.message = ""
            await type_prompt(pilot, "S", str(name))
            await until(pilot, lambda: "not saved" in view.message, f"save onto {name.name} refused")
            assert "being viewed" in view.message
            assert log.read_bytes() == original  # not truncated
        # Truncated under the viewer: the numbers taken before no longer apply.
        lines, generation = view._lines, view._generation
        target = tmp_path / "out.log"
        log.write_text("fresh\n")
        await until(pilot, lambda: view.document.generation > generation and view.line_count == 1, "reset")
        view.message = ""
        view._save_lines(target, lines, generation, [4000, 4999])
        await until(pilot, lambda: "not saved" in view.message, "stale save refused")
        assert "truncated" in view.message
        # A line number past the end (line_span raises IndexError) and no line map at all:
        # reported, and the app keeps running.
        view.message = ""
        view._save_lines(target, view._lines, view._generation, [10**6])
        await until(pilot, lambda: "save failed: IndexError" in view.message, "failed save reported")
        view.message = ""
        view._save_lines(target, None, view._generation, [0])
        await until(pilot, lambda: "not saved" in view.message, "nothing to save")
        assert app.is_running and app.return_code is None
        await type_prompt(pilot, "S", str(target))  # and a normal save still works
        await until(pilot, lambda: target.exists() and target.read_text() == "fresh\n", "saved")


async def test_moving_away_pauses_follow(log):
    """less/lnav: leaving the end (a search hit, a key) stops new lines from moving the view;
    they are counted instead, and G or f resumes following."""
    app = ViewApp(log)
    async with app.run_test(size=(120, 12)) as pilot:
        view = await ready(pilot)
        await until(pilot, lambda: "FOLLOW" in screen_text(view).splitlines()[-1], "following")
        await type_prompt(pilot, "slash", "needle")
        await until(pilot, lambda: view.document.search and view.document.search.done, "search")
        await until(pilot, lambda: view.cursor == 7, "first hit")
        assert view.follow and not view.tracking
        assert "paused" in screen_text(view).splitlines()[-1]
        on_screen = view.visible_lines()
        write_lines(log, 5, start=5000, mode="a")
        await until(pilot, lambda: view.new_lines == 5, "+N new lines")
        status = screen_text(view).splitlines()[-1]
        assert "+5 new lines" in status and "paused" in status
        assert view.visible_lines() == on_screen and view.cursor == 7
        await pilot.press("G")
        assert view.tracking and view.new_lines == 0 and view.visible_lines()[-1] == 5004
        assert "FOLLOW" in screen_text(view).splitlines()[-1]
        await pilot.press("escape", "k")  # one line up from the end: paused too
        assert not view.tracking and "paused" in screen_text(view).splitlines()[-1]
        write_lines(log, 1, start=5005, mode="a")
        await until(pilot, lambda: view.new_lines == 1, "counted, not followed")
        assert view.cursor == 5003 and view.visible_lines()[-1] == 5004
        await pilot.press("f")  # resumes (follow was never turned off)
        assert view.follow and view.tracking and view.visible_lines()[-1] == 5005
        await pilot.press("f")  # now it turns follow off
        assert not view.follow and "paused" in screen_text(view).splitlines()[-1]


async def test_tail_app_single_gz_is_mounted_and_focused(tmp_path):
    import gzip

    from opsconsole.ui.tail_app import TailApp

    packed = tmp_path / "only.log.gz"
    with gzip.open(packed, "wt") as f:
        f.write("".join(f"line {i}\n" for i in range(100)))
    app = TailApp([str(packed)])
    async with app.run_test(size=(100, 20)) as pilot:
        await until(pilot, lambda: app.query(LogView), "view mounted")
        view = app.query_one(LogView)
        await until(pilot, lambda: view.line_count == 100 and app.focused is view, "indexed and focused")
        await until(pilot, lambda: "line 99" in screen_text(view), "tail painted")


# -- log references: a stream's spool job, a remote ranged object ---------------------------


class GatedStream:
    """A real LogStream (async generator): the first read waits for `gate`; reads return the
    pages after an integer cursor; done once `finished` is set and all pages were read;
    `fail` makes the next read raise."""

    def __init__(self, key: str, pages: list[bytes]) -> None:
        import asyncio

        self.key, self.label = key, "dag run task try 1"
        self.pages = pages
        self.gate = asyncio.Event()
        self.finished = asyncio.Event()
        self.fail: str | None = None

    async def read(self, cursor):
        from opsconsole.logs.ref import StreamChunk

        await self.gate.wait()
        if self.fail:
            raise ConnectionError(self.fail)
        start = cursor or 0
        for i in range(start, len(self.pages)):
            yield StreamChunk(self.pages[i], cursor=i + 1)
        if self.finished.is_set():
            yield StreamChunk(b"", done=True)

    def poll_interval(self, size: int) -> float:
        return 0.01


def status_line(view: LogView) -> str:
    return view.render_line(view._content_height).text


async def test_stream_job_state_reaches_the_status_line_and_polling_stops_when_done(tmp_path):
    from opsconsole.logs.ref import StreamLog
    from opsconsole.logs.spool import LogSpool

    stream = GatedStream("airflow/dag/run/task/1", [f"step {i}\n".encode() for i in range(50)])
    spool = LogSpool(tmp_path / "spool")
    job = await spool.open(stream)
    app = ViewApp(StreamLog(job))
    async with app.run_test(size=(120, 12)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: "⏳ preparing" in status_line(view), "preparing shown")
        assert "dag run task try 1" in status_line(view)
        stream.gate.set()
        await until(pilot, lambda: "following" in status_line(view), "following shown")
        await until(pilot, lambda: "step 49" in screen_text(view), "the spooled lines")
        assert not view.document.finished
        stream.pages.append(b"the last line\n")
        stream.finished.set()
        await until(pilot, lambda: "done" in status_line(view), "done shown")
        await until(pilot, lambda: view.document.finished, "the engine stops polling")
        await until(pilot, lambda: "the last line" in screen_text(view), "the last line")
        assert "FOLLOW" not in status_line(view)
        polls = view.document.polls
        await pilot.pause(0.2)
        assert view.document.polls == polls  # a finished spool is not polled any more
    await spool.close()


async def test_failed_stream_shows_its_error(tmp_path):
    from opsconsole.logs.ref import StreamLog
    from opsconsole.logs.spool import LogSpool

    stream = GatedStream("failing", [b"a line\n"])
    stream.fail = "server went away"
    stream.gate.set()
    spool = LogSpool(tmp_path)
    job = await spool.open(stream)
    app = ViewApp(StreamLog(job))
    async with app.run_test(size=(120, 12)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: "failed: ConnectionError: server went away" in status_line(view), "error")
        await until(pilot, lambda: view.document.finished, "no more polling")


class ThreadRecordingReader:
    """A RangeReader over a local file that records which threads read it."""

    def __init__(self, path: Path) -> None:
        import threading

        from opsconsole.logs.ranged import LocalRangeReader

        self._inner = LocalRangeReader(path)
        self.name = f"sftp://host{path}"
        self.threads: set[str] = set()
        self._current = threading.current_thread

    def size(self) -> int:
        return self._inner.size()

    def read_range(self, offset: int, n: int) -> bytes:
        self.threads.add(self._current().name)
        return self._inner.read_range(offset, n)


async def test_ranged_log_shows_its_last_line_without_reading_on_the_ui_thread(log):
    import threading

    from opsconsole.logs.ref import RangedLog

    reader = ThreadRecordingReader(log)
    app = ViewApp(RangedLog(reader))
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: "step 4999 " in screen_text(view), "the last line")
        assert view.document.remote and not view.document.indexed
        assert "tail L" in status_line(view) and "read" in status_line(view)
        await pilot.press("g")  # the top of the tail window: earlier lines are loaded
        await until(pilot, lambda: view.document.tail.at_start, "earlier lines")
        await pilot.press("g")
        await until(pilot, lambda: "step 0 " in screen_text(view), "the first line")
        await type_prompt(pilot, "slash", "needle")  # a search asks for the whole index
        await until(pilot, lambda: view.document.indexed, "index on request")
        await until(pilot, lambda: view.document.search is not None and view.document.search.done, "search")
        assert view.document.search.count == 20
        await until(pilot, lambda: "needle" in view.line_text(view.cursor), "jumped to a hit")
    assert threading.main_thread().name not in reader.threads


async def test_follow_survives_resizing(log):
    """Shrinking the terminal (re-attaching from a smaller screen) and growing it back keeps
    FOLLOW: new lines keep arriving on screen, nothing turns into "paused +N new lines"."""
    app = ViewApp(log)
    async with app.run_test(size=(160, 48)) as pilot:
        view = await ready(pilot)
        await until(pilot, lambda: "FOLLOW" in screen_text(view).splitlines()[-1], "following")
        total = 5000
        for size in ((80, 24), (160, 48), (80, 24), (160, 48)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            write_lines(log, 7, start=total, mode="a")
            total += 7
            await until(pilot, lambda: view.line_count == total, "appended lines")
            await until(pilot, lambda: view.visible_lines() and view.visible_lines()[-1] == total - 1,
                        f"the newest line on screen at {size}")
            status = screen_text(view).splitlines()[-1]
            assert view.tracking and view.new_lines == 0 and "FOLLOW" in status and "paused" not in status, status
            assert f"step {total - 1} " in screen_text(view)


async def test_ampersand_prompts_a_filter_like_less_and_one_match_is_singular(tmp_path):
    path = tmp_path / "few.log"
    path.write_text("alpha\nbeta needle\ngamma\ndelta\n")
    app = ViewApp(path)
    async with app.run_test(size=(100, 12)) as pilot:
        view = await ready(pilot)
        await type_prompt(pilot, "ampersand", "needle")  # & pattern: only the lines matching
        await until(pilot, lambda: view.filtering and view.document.search and view.document.search.done, "filter")
        await until(pilot, lambda: view.row_count == 1, "one row")
        status = screen_text(view).splitlines()[-1]
        assert "1 match " in status and "1 matches" not in status and "FILTER" in status, status
        await pilot.press("F")  # the old toggle, on its own key: all lines again
        assert not view.filtering and view.row_count == 4
