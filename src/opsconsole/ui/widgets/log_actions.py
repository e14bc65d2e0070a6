"""LogView's actions beyond scrolling: prompts, jumps, search and filter, marks, save, copy, whole line.

A mixin so that log_view.py keeps one idea (rendering and scrolling a line map). The
bindings stay on `LogView`. Every file read here runs in a thread worker; a worker that fails
unexpectedly is reported by `on_worker_state_changed`, never allowed to end the app.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from textual import work
from textual.worker import Worker, WorkerState

from opsconsole.logs.levels import parse_user_time
from opsconsole.logs.query import Query
from opsconsole.logs.tail import read_line
from opsconsole.logs.text import DISPLAY_CAP, decode_plain

COPY_CAP = 16 << 20
_SAVE_CHUNK = 1 << 20
_WORKER_GROUPS = {"logview-jump", "logview-copy", "logview-save", "logview-open"}

_PROMPTS = {
    "line": "Go to line (N, or N% of the file):",
    "percent": "Go to percent of the file:",
    "time": "Go to time (2023-10-05 07:40:00 or 07:40):",
    "search": "Search (I: case, R: regex):",
    "filter": "Filter: show only lines matching (then F: filter on/off, esc: every line again):",
    "save": "Save marked lines (or the visible range) to:",
}


class SaveRefused(Exception):
    """The save would damage the log being read, or its line numbers no longer apply."""


class LogViewActions:
    """Prompt, search, filter, mark, save, copy and open-line actions of `LogView`.

    A mixin: it uses LogView's state (`_doc`, `_lines`, `cursor`, `marks`, `query`, ...) and
    its scrolling (`_goto_line`, `_sync`).
    """

    # -- notices ----------------------------------------------------------------------

    def _notice(self, text: str) -> None:
        """A transient message in the status line (5 s)."""
        self.message = text
        self.refresh()
        self.set_timer(5, lambda: self._clear_notice(text))

    def _clear_notice(self, text: str) -> None:
        if self.message == text:
            self.message = ""
            self.refresh()

    def _problem(self, text: str) -> None:
        """A failure: in the status line and as a notification, so it is not missed."""
        self._notice(text)
        self.app.notify(text, title=self.path.name, severity="error")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The workers catch what they expect; this is the net for the rest (exit_on_error=False).
        if event.worker.group in _WORKER_GROUPS and event.state is WorkerState.ERROR:
            event.stop()
            error = event.worker.error
            self._problem(f"{event.worker.group.removeprefix('logview-')} failed: "
                          f"{type(error).__name__}: {error}")

    # -- prompts and jumps ------------------------------------------------------------

    def action_prompt(self, kind: str) -> None:
        value = ""
        if kind in ("search", "filter") and self.query is not None:
            value = self.query.pattern
        elif kind == "save":
            value = str(self._save_default())
        from opsconsole.ui.screens.line_prompt import LinePrompt

        self.app.push_screen(LinePrompt(_PROMPTS[kind], value), lambda text: self._answer(kind, text))

    def _save_default(self) -> Path:
        if self._doc.remote:  # no local folder behind a remote object: the current one
            return Path.cwd() / (Path(self.path.name).name + ".saved.log")
        return self.path.with_name(self.path.name + ".saved.log")

    def _needs_index(self) -> bool:
        """A remote log shown by its tail: ask for the whole index (it reads the whole object)."""
        if self._doc.remote and not self._doc.indexed:
            self._doc.request_index()
            self._notice("indexing the whole remote log first (it is read in full); try again then")
            return True
        return False

    def _answer(self, kind: str, text: str | None) -> None:
        if not text:
            return
        text = text.strip()
        if kind in ("line", "percent", "time") and self._needs_index():
            return
        if kind == "line" or kind == "percent":
            self._jump(text if kind == "line" else text.rstrip("%") + "%")
        elif kind == "time":
            self._jump_time(text)
        elif kind in ("search", "filter"):  # & is less's filter: the search, then only its lines
            regex = self.query.regex if self.query else False
            case = self.query.case_sensitive if self.query else False
            line = self.cursor
            self.search(Query(text, regex=regex, case_sensitive=case))
            if kind == "filter" and self.query is not None and not self.filtering:
                self.filtering = True
                self._sync(0)
                self._goto_line(line)
        elif kind == "save":
            self._save(text)

    def _jump(self, text: str) -> None:
        try:
            if text.endswith("%"):
                fraction = float(text[:-1]) / 100
                self._goto_line(int(fraction * max(self.line_count - 1, 0)))
            else:
                self._goto_line(int(text.replace(",", "")) - 1)
        except ValueError:
            self.message = f"not a line number: {text}"
        self.refresh()

    @work(thread=True, exclusive=True, group="logview-jump", exit_on_error=False)
    def _jump_time(self, text: str) -> None:
        index = self._doc.index
        if index is None or not self._doc.indexed:
            self.app.call_from_thread(self._notice, "jump to time waits for the index")
            return
        stamps = index.block_timestamps()
        first = next((float(t) for t in stamps if t == t), None)
        when = parse_user_time(text, first)
        if when is None:
            self.app.call_from_thread(self._notice, f"not a time: {text}")
            return
        line = index.line_at_time(when)
        if line is None:
            self.app.call_from_thread(self._notice, "no timestamps in this log")
            return
        self.app.call_from_thread(self._goto_line, line)

    # -- search and filter ------------------------------------------------------------

    def search(self, query: Query) -> None:
        """Start a search (cancelling any other); the first hit is shown as soon as found."""
        problem = query.problem  # checked before it runs: length, syntax, repeat counts
        if problem:
            self._notice(problem)
            return
        try:
            self._match_re = query.compile_text()
        except re.error as exc:
            self._notice(f"bad regex: {exc}")
            return
        if query.risky:
            self._notice("this pattern may backtrack (a quantifier inside a quantifier): it runs with a time budget")
        self.query = query
        self._search_jumped = False
        self._strips.clear()
        if self._doc.indexed:
            self._start_search()
        else:
            self._doc.cancel_search()
            self._doc.request_index()  # a remote log is indexed on request only
            self._search_pending = True
        self.refresh()

    def _start_search(self) -> None:
        assert self.query is not None
        try:
            self._doc.start_search(self.query, on_update=self._search_changed)
        except Exception as exc:  # bad pattern for the scanner, no index yet
            self._notice(f"search failed: {exc}")
        self._sync(0)

    def action_next_match(self, direction: int) -> None:
        search = self._doc.search
        if search is None:
            return
        target = search.next_after(self.cursor) if direction > 0 else search.previous_before(self.cursor)
        if target is not None:
            self._goto_line(target)

    def action_toggle_case(self) -> None:
        if self.query is not None:
            q = self.query
            self.search(Query(q.pattern, regex=q.regex, case_sensitive=not q.case_sensitive))

    def action_toggle_regex(self) -> None:
        if self.query is not None:
            q = self.query
            self.search(Query(q.pattern, regex=not q.regex, case_sensitive=q.case_sensitive))

    def action_toggle_filter(self) -> None:
        if self.query is None:
            self._notice("filter needs a search first (/)")
            return
        line = self.cursor
        self.filtering = not self.filtering
        self._sync(0)
        self._goto_line(line)

    async def action_close_log(self) -> None:
        """q, as in less: close this log (its tab in Logs; the viewer of `opsconsole tail`)."""
        screen = self.screen
        if hasattr(screen, "action_close_tab"):
            await screen.action_close_tab()
        elif getattr(self.app, "QUIT_ON_CLOSE_LOG", False):  # the viewer alone: closing it quits
            self.app.exit()

    def action_clear_search(self) -> None:
        self._doc.cancel_search()
        self.query = None
        self._match_re = None
        self._search_pending = False
        line = self.cursor
        self.filtering = False
        self._strips.clear()
        self._sync(0)
        self._goto_line(line)

    # -- marks, copy, save ------------------------------------------------------------

    def action_mark(self) -> None:
        self.marks ^= {self.cursor}
        self.action_cursor(1)

    def action_copy_line(self) -> None:
        if self._lines is not None and self.line_count:
            self._copy_line(self._lines, self.cursor)

    @work(thread=True, group="logview-copy", exit_on_error=False)
    def _copy_line(self, lines, line: int) -> None:
        """Read the line (up to 16 MB) off the UI thread, then hand it to the clipboard."""
        try:
            data, cut = read_line(self._doc.source, lines.line_span(line), COPY_CAP)
        except Exception as exc:  # truncated or rotated meanwhile: the line is gone
            self.app.call_from_thread(self._problem, f"copy failed: {type(exc).__name__}: {exc}")
            return
        text = decode_plain(data)
        note = f"copied line {line + 1:,}" + (f" (first {COPY_CAP >> 20} MB)" if cut else "")
        self.app.call_from_thread(self.app.copy_to_clipboard, text)
        self.app.call_from_thread(self._notice, note)

    def _save(self, target: str) -> None:
        # The numbers are lines of the map on screen: pass that map, and its generation, along.
        line_numbers = sorted(self.marks) or self.visible_lines()
        self._save_lines(Path(target).expanduser(), self._lines, self._generation, line_numbers)

    @work(thread=True, group="logview-save", exit_on_error=False)
    def _save_lines(self, target: Path, lines, generation: int, line_numbers: list[int]) -> None:
        try:
            written = self._write_lines(target, lines, generation, line_numbers)
        except SaveRefused as exc:
            self.app.call_from_thread(self._problem, f"not saved: {exc}")
        except Exception as exc:  # disk full, permissions, lines gone after a truncation...
            self.app.call_from_thread(self._problem, f"save failed: {type(exc).__name__}: {exc}")
        else:
            self.app.call_from_thread(self._notice, f"saved {written:,} lines to {target}")

    def _write_lines(self, target: Path, lines, generation: int, line_numbers: list[int]) -> int:
        """Copy the lines' bytes (a newline after each) to `target`; returns the line count."""
        source = self._doc.source
        if lines is None or source is None:
            raise SaveRefused("nothing is loaded yet")
        if self._doc.generation != generation:
            raise SaveRefused("the log was truncated or rotated since; its line numbers changed")
        viewed = self._viewed_files()
        try:
            if target.resolve() == self.path.resolve():
                raise SaveRefused(f"{target} is the log being viewed")
        except (OSError, RuntimeError):  # a symlink loop: the inode check below still protects the log
            pass
        # Open without truncating, compare the inode with the log's, and only then truncate:
        # "wb" would empty the log (a hard link or another name for it) before we could look.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        with os.fdopen(fd, "wb") as out:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) in viewed:
                raise SaveRefused(f"{target} is the log being viewed")
            out.truncate(0)
            for line in line_numbers:
                start, end = lines.line_span(line)
                pos = start
                while pos < end:  # huge lines copied in pieces
                    chunk = source.read(pos, min(end - pos, _SAVE_CHUNK))
                    if not chunk:
                        break
                    out.write(chunk)
                    pos += len(chunk)
                out.write(b"\n")
        return len(line_numbers)

    def _viewed_files(self) -> set[tuple[int, int]]:
        """(dev, inode) of the file being read and of whatever the path names now."""
        found = set()
        identity = getattr(self._doc.source, "identity", None)
        if identity is not None:
            found.add(tuple(identity))
        try:
            st = os.stat(self.path)
            found.add((st.st_dev, st.st_ino))
        except OSError:
            pass
        return found

    # -- the whole line ---------------------------------------------------------------

    def action_open_line(self) -> None:
        if self._lines is None or not self.line_count:
            return
        self._open_whole_line(self._lines, self.cursor)

    @work(thread=True, group="logview-open", exit_on_error=False)
    def _open_whole_line(self, lines, line: int) -> None:
        """Write the line folded into 4 KB rows to a temp file and show it in a LogView."""
        try:
            start, end = lines.line_span(line)  # may read a 1 MB block of the index
        except (IndexError, ValueError):
            return  # the line went away (truncation) between the key and now
        if end - start <= DISPLAY_CAP:
            self.app.call_from_thread(self._notice, "this line is shown whole (w wraps long lines)")
            return
        source = self._doc.source
        fd, name = tempfile.mkstemp(prefix="opsconsole-line-", suffix=".log")
        try:
            with os.fdopen(fd, "wb") as out:
                pos = start
                while pos < end:
                    chunk = source.read(pos, min(end - pos, DISPLAY_CAP))
                    if not chunk:
                        break
                    out.write(chunk + b"\n")
                    pos += len(chunk)
        except BaseException:
            os.unlink(name)
            raise
        from opsconsole.ui.screens.whole_line import WholeLine

        self.app.call_from_thread(self.app.push_screen, WholeLine(name, line + 1))
