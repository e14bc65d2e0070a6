"""`opsconsole tail PATH...`: the log viewer alone, one tab per file.

Gzip files cannot be read from the end, so they are decompressed in a thread into a spool
file which the viewer follows while it grows: the first lines show at once and the tail
arrives as fast as gunzip runs.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import threading
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, TabbedContent, TabPane

from opsconsole.logs.source import SpoolWriter
from opsconsole.ui.widgets.log_view import LogView

_GUNZIP_CHUNK = 1 << 20


def gunzip_to_spool(path: Path, writer: SpoolWriter, stop: threading.Event) -> None:
    """Decompress `path` into `writer` chunk by chunk; marks the spool complete at the end."""
    error = None
    try:
        with gzip.open(path, "rb") as src:
            while not stop.is_set():
                chunk = src.read(_GUNZIP_CHUNK)
                if not chunk:
                    break
                writer.write(chunk)
    except (OSError, EOFError) as exc:  # truncated or corrupt archive: show what we got
        error = str(exc)
    finally:
        writer.finish(error)


class TailApp(App):
    """One tab per path, each holding a LogView."""

    TITLE = "opsconsole tail"
    BINDINGS = [Binding("q", "quit", "Quit", id="tail.quit")]
    CSS = """
    TabbedContent, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    LogView { height: 1fr; }
    """

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = [Path(p) for p in paths]
        self._spool_dir: tempfile.TemporaryDirectory | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _viewable(self, path: Path, n: int) -> Path:
        """The path to show: the file itself, or a spool being filled from a .gz."""
        if path.suffix != ".gz":
            return path
        if self._spool_dir is None:
            self._spool_dir = tempfile.TemporaryDirectory(prefix="opsconsole-tail-")
        spool = Path(self._spool_dir.name) / f"{n}-{path.stem}"
        writer = SpoolWriter(spool)
        thread = threading.Thread(target=gunzip_to_spool, args=(path, writer, self._stop),
                                  name=f"gunzip-{path.name}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return spool

    def compose(self) -> ComposeResult:
        if len(self.paths) == 1:
            yield LogView(self._viewable(self.paths[0], 0), id="log-0")
        else:
            with TabbedContent():
                for n, path in enumerate(self.paths):
                    with TabPane(path.name, id=f"tab-{n}"):
                        yield LogView(self._viewable(path, n), id=f"log-{n}")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LogView).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        event.pane.query_one(LogView).focus()

    def on_unmount(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir.name, ignore_errors=True)


def run_tail(paths: list[str]) -> int:
    """Run the viewer on `paths` until the user quits; returns the process exit code."""
    missing = [p for p in paths if not Path(p).exists()]
    if not paths or missing:
        import sys

        print(f"opsconsole tail: no such file: {', '.join(missing) or '(none given)'}", file=sys.stderr)
        return 2
    TailApp(paths).run()
    return 0
