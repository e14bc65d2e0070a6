"""The home screen: one live pane per source of the profile, plus a tail of the selected
item's log. Panes come from `sources_for(context)`; this screen knows no backend."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Static

from opsconsole.ui.screens.base import OpsScreen
from opsconsole.services.sources import describe, sources_for
from opsconsole.ui.bindings import bindings
from opsconsole.ui.safe import safe_text
from opsconsole.ui.screens.describe import DescribeScreen
from opsconsole.ui.widgets.source_pane import SourcePane, pane_class
from opsconsole.ui.widgets.ops_footer import OpsFooter

WIDE = 160
PANE_MIN = 6       # a pane's border, title, header and three rows
CHROME = 2         # the app's header and the footer


class StatusScreen(OpsScreen):
    TITLE_TEXT = "Status"
    BINDINGS = bindings("status")
    DEFAULT_CSS = """
    StatusScreen #panes { height: 1fr; layout: vertical; }
    StatusScreen.wide #panes { layout: grid; grid-size: 2; grid-gutter: 0 1; }
    StatusScreen #tail { height: 8; border: round $panel; }
    StatusScreen.tall #tail { height: 45%; }
    StatusScreen #tail > .tail-title { height: 1; color: $text-muted; padding: 0 1; }
    StatusScreen.short #tail { height: 6; }
    StatusScreen.maximised #tail { display: none; }
    StatusScreen.maximised SourcePane { display: none; }
    StatusScreen.maximised SourcePane.maximised { display: block; }
    StatusScreen.maximised #panes { layout: vertical; }
    /* too many panes for the height (80x24 with three): one at a time, the others named in a bar */
    StatusScreen #pane-bar { display: none; height: 1; padding: 0 1; background: $panel; }
    StatusScreen.crowded #pane-bar { display: block; }
    StatusScreen.crowded #panes { layout: vertical; }
    StatusScreen.crowded SourcePane { display: none; }
    StatusScreen.crowded SourcePane.current { display: block; }
    """

    def __init__(self) -> None:
        super().__init__(id="status")
        self._tail_path: str | None = None

    def compose(self) -> ComposeResult:
        ctx = self.app.context
        sources = sources_for(ctx)
        # the classes of this size before the widgets mount: on_mount restyles none of them
        self._set_layout_classes(self.app.size.width, self.app.size.height, len(sources))
        yield Static("", id="pane-bar")
        with Container(id="panes"):
            for number, source in enumerate(sources, start=1):
                yield pane_class(source)(source, number, ctx.clock)
        with Vertical(id="tail"):
            yield Static("log tail — select a row", classes="tail-title")
        yield OpsFooter()

    @property
    def panes(self) -> list[SourcePane]:
        return list(self.query(SourcePane))

    def on_mount(self) -> None:
        self._layout_for(self.size.width, self.size.height)
        if self.panes:
            self._set_current(self.panes[0])
            self.panes[0].table.focus()

    def on_resize(self, event) -> None:
        self._layout_for(event.size.width, event.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        self._set_layout_classes(width, height, len(self.panes))

    def _set_layout_classes(self, width: int, height: int, panes: int) -> None:
        wide = width >= WIDE and panes > 1
        self.set_class(wide, "wide")
        self.set_class(height < 30, "short")
        self.set_class(height >= 40, "tall")
        tail = 6 if height < 30 else int(height * 0.45) if height >= 40 else 8
        rows = (panes + 1) // 2 if wide else panes
        self.set_class(panes > 1 and height - CHROME - tail < rows * PANE_MIN, "crowded")

    def _set_current(self, current: SourcePane) -> None:
        """The pane shown when crowded, and the bar naming every pane (the current one marked)."""
        parts = []
        for number, pane in enumerate(self.panes, start=1):
            pane.set_class(pane is current, "current")
            root = pane.stack[0] if pane.stack else pane.source
            label = safe_text(f" {number} {root.title} ")
            if pane is current:
                label.stylize("reverse")
            parts.append(label)
        bar = Text(" ").join(parts)
        bar.append("   tab/1-9: next pane", style="dim")
        self.query_one("#pane-bar", Static).update(bar)

    def on_descendant_focus(self, event) -> None:
        pane = SourcePane.containing(event.widget)
        if pane is not None and not pane.has_class("current"):
            self._set_current(pane)

    def on_screen_suspend(self) -> None:
        for pane in self.panes:
            pane.pause()

    def on_screen_resume(self) -> None:
        for pane in self.panes:
            pane.resume()

    # --- focus and maximise ----------------------------------------------------------------
    def _focused_pane(self) -> SourcePane | None:
        return SourcePane.containing(self.focused)

    def action_focus_pane(self, number: int) -> None:
        panes = self.panes
        if 1 <= number <= len(panes):
            target = panes[number - 1]
            if self.has_class("maximised"):
                for pane in panes:
                    pane.set_class(pane is target, "maximised")
            self._set_current(target)  # shown before focused: a hidden pane takes no focus
            target.table.focus()

    def _step_pane(self, delta: int) -> None:
        panes = self.panes
        if not panes:
            return
        current = self._focused_pane()
        idx = panes.index(current) if current in panes else -1
        self.action_focus_pane((idx + delta) % len(panes) + 1)

    def action_related(self) -> None:
        """Jump from the selected item to what another pane has about it (a task
        instance → the pods that ran it): that pane drills into the related level (escape goes back)."""
        pane = self._focused_pane()
        item = pane.selected if pane is not None else None
        if item is None or not item.refs:
            self.notify("related: select an item another pane knows (a DAG run, a task instance)",
                        severity="warning", markup=False)
            return
        for other in self.panes:
            if other is pane:
                continue
            root = other.stack[0] if other.stack else other.source
            level = root.related(item.refs)
            if level is not None:
                other.switch_source(level, push=True)  # escape goes back
                other.table.focus()
                return
        self.notify(f"related: no pane has anything about {item.key}", severity="warning", markup=False)

    def action_focus_next_pane(self) -> None:
        self._step_pane(+1)

    def action_focus_prev_pane(self) -> None:
        self._step_pane(-1)

    def action_toggle_maximise(self) -> None:
        pane = self._focused_pane() or (self.panes[0] if self.panes else None)
        if pane is None:
            return
        if self.has_class("maximised"):
            self.remove_class("maximised")
            pane.remove_class("maximised")
        else:
            for other in self.panes:
                other.set_class(other is pane, "maximised")
            self.add_class("maximised")
        pane.table.focus()

    # --- messages from panes -----------------------------------------------------------------
    @on(SourcePane.Highlighted)
    async def _show_tail(self, event: SourcePane.Highlighted) -> None:
        item = event.item
        path = item.log_path if item else None
        if path == self._tail_path:
            return
        self._tail_path = path
        tail = self.query_one("#tail", Vertical)
        title = tail.query_one(".tail-title", Static)
        await tail.query("LogView").remove()
        if path is None:
            title.update(safe_text(f"log tail — {event.pane.source.title} {item.key if item else ''}: no log yet"))
            return
        from opsconsole.ui.widgets.log_view import LogView

        title.update(safe_text(f"log tail — {event.pane.source.title} {item.key}  ({path})"))
        await tail.mount(LogView(path, follow=True))

    @on(SourcePane.OpenLog)
    def _open_log(self, event: SourcePane.OpenLog) -> None:
        self.app.open_log(event.ref, title=event.ref.title or f"run {event.item.key}")

    @on(SourcePane.Describe)
    def _describe(self, event: SourcePane.Describe) -> None:
        self.app.push_screen(DescribeScreen(f"{event.item.key}", describe(event.item)))
