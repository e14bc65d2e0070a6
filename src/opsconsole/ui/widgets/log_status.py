"""The status line of `LogView`: what is shown, how far along, and the view's modes.

The last row of the view: the file's name and size, a stream's job state, the line position
(or the indexing progress), bytes read from a remote source, FOLLOW or paused, search, filter,
wrap, marks and the last notice. `JobWatch` redraws it while a stream's job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.segment import Segment
from textual.strip import Strip

from opsconsole.domain.items import human_bytes
from opsconsole.domain.text import visible
from opsconsole.logs.ref import RangedLog, StreamLog

if TYPE_CHECKING:
    from opsconsole.logs.spool import SpoolJob
    from opsconsole.ui.widgets.log_view import LogView

_JOB_TICK = 0.5  # seconds between looks at a stream's job while it runs


def status_text(view: LogView) -> str:
    """The status line's text, its parts separated by " │ "."""
    doc = view.document
    ref = view.ref
    name = ref.label if not isinstance(ref, RangedLog) else ref.title or ref.path.rstrip("/").rsplit("/", 1)[-1]
    parts = [name, human_bytes(doc.size)]
    if isinstance(ref, StreamLog):
        status = ref.job.status()
        # waiting, downloading or retrying goes first: a long name never pushes it off the line
        parts.insert(0 if status.busy else 2, status.describe())
    if doc.error:
        parts.append(f"error: {doc.error}")
    elif doc.remote and not doc.index_wanted:
        parts.append(f"tail L{view.cursor + 1:,}/{view.line_count:,}")
    elif not doc.indexed:
        parts.append(f"indexing {doc.progress:.0%}")
    else:
        parts.append(f"L{view.cursor + 1:,}/{view.line_count:,}")
    stats = getattr(doc.source, "stats", None) if doc.remote else None
    if stats is not None:
        parts.append(f"{human_bytes(stats.bytes_read)} read")
    if not doc.finished:
        parts.append("FOLLOW" if view.tracking else "paused")
    if view.new_lines:
        parts.append(f"+{view.new_lines:,} new lines")
    search = doc.search
    if view.query is not None:
        flags = ("re" if view.query.regex else "lit") + (",Aa" if view.query.case_sensitive else "")
        if search is None:
            state = "waiting for index"
        elif search.error:
            state = f"error: {search.error}"
        else:
            state = f"{search.count:,} match{'' if search.count == 1 else 'es'}" + ("" if search.done else " (scanning…)")
        parts.append(f"/{view.query.pattern}/ [{flags}] {state}")
    if view.filtering:
        parts.append("FILTER")
    if view.wrap:
        parts.append("WRAP")
    if view.marks:
        parts.append(f"{len(view.marks)} marked")
    if doc.event:
        parts.append(doc.event)
    if view.message:
        parts.append(view.message)
    return " │ ".join(parts)


def status_strip(view: LogView, width: int) -> Strip:
    """The status line as a strip of exactly `width` cells."""
    style = view.get_component_rich_style("logview--status")
    text = visible(status_text(view))[:width].ljust(width)  # names, errors, the pattern: outside text
    return Strip([Segment(text, style)], width)


class JobWatch:
    """Redraws `view` (its status line) when the stream's job changed; stops looking once it ended."""

    def __init__(self, view: LogView, job: SpoolJob) -> None:
        self._view = view
        self._job = job
        self._seen = None  # the job's last status shown
        self._timer = view.set_interval(_JOB_TICK, self._look)

    def _look(self) -> None:
        status = self._job.status()
        seen, self._seen = self._seen, status
        if seen is None or status.version != seen.version or status.busy:
            self._view.refresh()
        if status.complete:
            self._timer.stop()
