"""`opsconsole tail PATH...`: the log viewer alone, one tab per file.

Gzip files cannot be read from the end, so they are decompressed in a thread into a spool
file which the viewer follows while it grows: the first lines show at once and the tail
arrives as fast as gunzip runs. The spool is created in a worker (file I/O stays off the
event loop); its tab holds an empty slot until the LogView is mounted there.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from opsconsole.logs.source import SpoolWriter, UnsupportedSource, open_regular
from opsconsole.logs.spool import spool_name

if TYPE_CHECKING:
    from opsconsole.config.settings import Profile
    from opsconsole.logs.ref import LogRef
from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import CrashReporting, SafeNotify, safe_content
from opsconsole.ui.widgets.log_view import LogView

_GUNZIP_CHUNK = 1 << 20


def gunzip_to_spool(path: Path, writer: SpoolWriter, stop: threading.Event) -> None:
    """Decompress `path` into `writer` chunk by chunk; marks the spool complete at the end."""
    error = None
    try:
        fd, _ = open_regular(path)  # a FIFO or a device named .gz is refused, never blocks
        with os.fdopen(fd, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as src:
            while not stop.is_set():
                chunk = src.read(_GUNZIP_CHUNK)
                if not chunk:
                    break
                writer.write(chunk)
    except UnsupportedSource as exc:
        error = str(exc)
    except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt archive: show what we got, and why
        error = f"{path.name}: not readable as gzip: {exc or type(exc).__name__}"
    except Exception as exc:  # noqa: BLE001 - whatever it was, the view says it
        error = f"{path.name}: {type(exc).__name__}: {exc}"
    finally:
        writer.finish(error)


class TailApp(CrashReporting, SafeNotify, App):
    """One tab per path, each holding a LogView."""

    TITLE = "opsconsole tail"
    QUIT_ON_CLOSE_LOG = True  # q on a log (less's habit) quits: there is nothing above it
    BINDINGS = bindings("tail")
    CSS = """
    TabbedContent, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    LogView { height: 1fr; }
    """

    def __init__(self, paths: list[str], refs: "dict[str, LogRef] | None" = None,
                 missing: list[str] | None = None) -> None:
        super().__init__()
        self.missing = list(missing or [])  # arguments that named no file: said, the others open
        self.paths = [Path(p) for p in paths]
        self.refs = refs or {}
        self._args = list(paths)  # a URL argument → the log reference its backend made
        self._spool_dir: tempfile.TemporaryDirectory | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _view_or_slot(self, path: Path, n: int) -> Widget:
        """A LogView for a plain file; for a .gz, an empty slot filled once its spool exists."""
        ref = self.refs.get(self._args[n]) if n < len(self._args) else None
        if ref is not None:
            return LogView(ref, id=f"log-{n}")
        if path.suffix != ".gz":
            return LogView(path, id=f"log-{n}")
        return Vertical(id=f"slot-{n}")

    def compose(self) -> ComposeResult:
        if len(self.paths) == 1:
            yield self._view_or_slot(self.paths[0], 0)
        else:
            with TabbedContent():
                for n, path in enumerate(self.paths):
                    with TabPane(safe_content(path.name), id=f"tab-{n}"):
                        yield self._view_or_slot(path, n)
        yield Footer()

    def on_mount(self) -> None:
        packed = [(n, path) for n, path in enumerate(self.paths)
                  if path.suffix == ".gz" and self._args[n] not in self.refs]
        if packed:
            self._open_spools(packed)
        if self.missing:
            self.notify(f"no such file: {', '.join(self.missing)} (the others are open)", title="not opened",
                        severity="warning", timeout=15, markup=False)
        self._focus_view()

    @work(thread=True, group="tail-spool", exit_on_error=False)
    def _open_spools(self, packed: list[tuple[int, Path]]) -> None:
        """Create the spool files (blocking file work, so not in compose) and start gunzip."""
        try:
            spool_dir = tempfile.TemporaryDirectory(prefix="opsconsole-tail-")
        except OSError as exc:
            self.call_from_thread(self.notify, f"no temp dir for .gz files: {exc}", severity="error")
            return
        self._spool_dir = spool_dir  # removed in on_unmount (or at exit, by its finalizer)
        for n, path in packed:
            if self._stop.is_set():
                return
            spool = Path(spool_dir.name) / spool_name(f"{n}-{path.stem}")  # any name: hashed, bounded, inside
            try:
                writer = SpoolWriter(spool)
            except OSError as exc:
                self.call_from_thread(self.notify, f"{path.name}: {exc}", severity="error")
                continue
            thread = threading.Thread(target=gunzip_to_spool, args=(path, writer, self._stop),
                                      name=f"gunzip-{path.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
            self.call_from_thread(self._mount_view, spool, n)

    def _mount_view(self, spool: Path, n: int) -> None:
        slot = self.query_one(f"#slot-{n}", Vertical)
        slot.mount(LogView(spool, id=f"log-{n}"))
        self.call_after_refresh(self._focus_view)

    def _focus_view(self) -> None:
        """Focus the LogView of the active tab (or the only one), if it is mounted yet."""
        tabs = self.query(TabbedContent)
        pane = tabs.first().active_pane if tabs else None
        views = (pane or self.screen).query(LogView)
        if views and not isinstance(self.focused, LogView):
            views.first().focus()

    def _cycle(self, delta: int) -> None:
        tabs = self.query(TabbedContent)
        if not tabs:
            return
        ids = [pane.id for pane in tabs.first().query(TabPane)]
        current = tabs.first().active
        tabs.first().active = ids[(ids.index(current) + delta) % len(ids) if current in ids else 0]
        self._focus_view()

    def action_next_tab(self) -> None:
        self._cycle(+1)

    def action_prev_tab(self) -> None:
        self._cycle(-1)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "tail-spool" and event.state is WorkerState.ERROR:
            self.notify(f"opening .gz files failed: {event.worker.error}", severity="error")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        views = event.pane.query(LogView)
        if views:
            views.first().focus()

    def on_unmount(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir.name, ignore_errors=True)


def run_tail(paths: list[str], profile: "Profile | None" = None) -> int:
    """Run the viewer on `paths` (files, or URLs a backend serves: s3://, ssh://…) until the
    user quits; returns the process exit code."""
    import sys

    from opsconsole.services.urls import is_url, open_url

    refs: dict[str, LogRef] = {}
    for arg in paths:
        if is_url(arg):
            try:
                refs[arg] = open_url(arg, profile)
            except ValueError as exc:
                print(f"opsconsole tail: {exc}", file=sys.stderr)
                return 2
    missing = [p for p in paths if p not in refs and not Path(p).exists()]
    if missing:
        print(f"opsconsole tail: no such file: {', '.join(missing)}", file=sys.stderr)
    present = [p for p in paths if p not in missing]
    if not present:  # nothing to show at all
        if not paths:
            print("opsconsole tail: no such file: (none given)", file=sys.stderr)
        return 2
    app = TailApp(present, refs, missing=missing)
    app.run()
    return app.return_code or 0
