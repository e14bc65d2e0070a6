"""Logs: one tab per open log, each a LogView (the huge-log viewer)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from textual.app import ComposeResult
from textual.widgets import Static, TabbedContent, TabPane

from opsconsole.logs.ref import LogRef, StreamLog, as_ref
from opsconsole.ui.screens.base import OpsScreen
from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import safe_content
from opsconsole.ui.widgets.ops_footer import OpsFooter


def _tab_id(path: str) -> str:
    return "log-" + hashlib.sha1(path.encode()).hexdigest()[:12]


class LogsScreen(OpsScreen):
    TITLE_TEXT = "Logs"
    BINDINGS = bindings("logs")
    DEFAULT_CSS = """
    LogsScreen #empty { padding: 1 2; color: $text-muted; }
    LogsScreen TabbedContent { height: 1fr; }
    LogsScreen TabPane { padding: 0; }
    """

    def __init__(self) -> None:
        super().__init__(id="logs")

    def compose(self) -> ComposeResult:
        yield Static("No log open. Select a run in Status or Runs and press enter (or l).", id="empty")
        yield TabbedContent()
        yield OpsFooter()

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    async def open(self, log: "LogRef | str | Path", title: str | None = None) -> None:
        """Open (or switch to) the tab of a log reference (or a local path).

        A tab is identified by the log's path (a stream's spool file, a remote object's
        name); its label is `title`, else the reference's label. A stream opened again with a
        new job (after a failure, or fresh) replaces the view of the old job in its tab.
        """
        from opsconsole.ui.widgets.log_view import LogView

        ref = as_ref(log)
        tab_id = _tab_id(ref.path)
        tabs = self.tabs
        panes = tabs.query(f"#{tab_id}")
        if panes:
            pane = panes.first(TabPane)
            views = pane.query(LogView)
            if isinstance(ref, StreamLog) and views and views.first().ref != ref:
                await views.first().remove()
                await pane.mount(LogView(ref, follow=True))
        else:
            view = LogView(ref, follow=True)
            await tabs.add_pane(TabPane(safe_content(title or ref.label), view, id=tab_id))
        tabs.active = tab_id
        self.query_one("#empty").display = False
        self.call_after_refresh(self._focus_active)

    def _focus_active(self) -> None:
        pane = self.tabs.active_pane
        if pane is not None:
            for view in pane.query("LogView"):
                view.focus()
                break

    async def action_close_tab(self) -> None:
        tabs = self.tabs
        if tabs.active:
            await tabs.remove_pane(tabs.active)
        self.query_one("#empty").display = tabs.tab_count == 0

    def _cycle(self, delta: int) -> None:
        panes = list(self.tabs.query(TabPane))
        if not panes:
            return
        ids = [p.id for p in panes]
        idx = ids.index(self.tabs.active) if self.tabs.active in ids else 0
        self.tabs.active = ids[(idx + delta) % len(ids)]
        self._focus_active()

    def action_next_tab(self) -> None:
        self._cycle(+1)

    def action_prev_tab(self) -> None:
        self._cycle(-1)
