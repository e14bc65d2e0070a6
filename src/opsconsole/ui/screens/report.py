"""The execution report of a run (Markdown, built from its logs and balances, stored in the
ledger), its Notes editor, and the per-asset detail of a run or a snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Markdown, Static, TextArea

from opsconsole.ui.bindings import bindings

if TYPE_CHECKING:
    from opsconsole.domain.balances import BalanceSnapshot


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:,.8g}"


class AssetsScreen(ModalScreen[None]):
    BINDINGS = bindings("assets")
    DEFAULT_CSS = """
    AssetsScreen { align: center middle; }
    AssetsScreen > Vertical { width: 90%; height: 90%; border: round $accent; background: $surface; }
    AssetsScreen DataTable { height: 1fr; }
    AssetsScreen #notes { height: auto; color: $warning; }
    """

    def __init__(self, title: str, rows: list[tuple[str, Any, Any, Any]], notes: list[str] | None = None,
                 columns: tuple[str, ...] = ("ASSET", "PRE", "POST", "CHANGE")) -> None:
        super().__init__()
        self._title, self._rows, self._notes, self._columns = title, rows, notes or [], columns

    @classmethod
    def of_snapshot(cls, snap: "BalanceSnapshot") -> "AssetsScreen":
        rows = [(asset, b.free, b.used, b.total) for asset, b in sorted(snap.assets.items())]
        notes = [f"{snap.source} snapshot of {snap.account} at {snap.taken_at:%Y-%m-%d %H:%M:%S} UTC, "
                 f"total {_num(snap.quote_total)} {snap.quote}"]
        if snap.unpriced:
            notes.append("not priced in the quote currency: " + ", ".join(snap.unpriced))
        return cls(f"snapshot {snap.id}: {snap.account}", rows, notes, ("ASSET", "FREE", "USED", "TOTAL"))

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            table: DataTable = DataTable(cursor_type="row")
            for column in self._columns:
                table.add_column(column)
            for asset, a, b, c in self._rows:
                change = Text(_num(c), style="" if not isinstance(c, float) or c == 0
                              else ("green3" if c > 0 else "red1"))
                table.add_row(Text(asset), _num(a), _num(b), change if self._columns[-1] == "CHANGE" else _num(c))
            yield table
            yield Static(Text("\n".join(self._notes)), id="notes")
        yield Footer()


class NotesScreen(ModalScreen[str | None]):
    """The report's Notes section: free text (Markdown), ctrl+s saves, escape cancels."""

    BINDINGS = bindings("notes")
    DEFAULT_CSS = """
    NotesScreen { align: center middle; }
    NotesScreen > Vertical { width: 90%; height: 80%; border: round $accent; background: $surface; }
    NotesScreen TextArea { height: 1fr; }
    """

    def __init__(self, run_id: int, notes: str) -> None:
        super().__init__()
        self._run_id, self._notes = run_id, notes

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Notes of run {self._run_id} — ctrl+s save · escape cancel"
            yield TextArea(self._notes, id="notes-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReportScreen(ModalScreen[None]):
    BINDINGS = bindings("report")
    DEFAULT_CSS = """
    ReportScreen { align: center middle; }
    ReportScreen > VerticalScroll { width: 95%; height: 95%; border: round $accent; background: $surface; }
    """

    def __init__(self, run_id: int, balances: Any = None) -> None:
        super().__init__()
        self.run_id = run_id
        self._balances = balances
        self.markdown = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"Execution report — run {self.run_id} (building…)"
            yield Markdown("", id="report-md")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._build, exclusive=True, group="report")

    async def _build(self) -> None:
        from opsconsole.domain.report import render_markdown
        from opsconsole.services.report import build_report

        box = self.query_one(VerticalScroll)
        try:
            report = await build_report(self.app.context, self.run_id, balances=self._balances)
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            box.border_title = f"Execution report — run {self.run_id}: failed"
            self.markdown = ""
            await self.query_one(Markdown).update(f"Cannot build the report: {type(exc).__name__}")
            self.notify(f"report of run {self.run_id}: {exc}", severity="error", markup=False)
            return
        self.markdown = render_markdown(report)
        box.border_title = f"Execution report — run {self.run_id} · e notes · x export · escape close"
        await self.query_one(Markdown).update(self.markdown)

    async def _stored_notes(self) -> str:
        import asyncio

        stored = await asyncio.to_thread(self.app.context.ledger.get_report, self.run_id)
        return (stored or {}).get("notes", "")

    def action_edit_notes(self) -> None:
        async def edit() -> None:
            notes = await self._stored_notes()
            self.app.push_screen(NotesScreen(self.run_id, notes), self._notes_done)

        self.run_worker(edit, group="report-notes")

    def _notes_done(self, notes: str | None) -> None:
        if notes is None:
            return

        async def save() -> None:
            from opsconsole.services.report import set_notes

            self.markdown = await set_notes(self.app.context, self.run_id, notes)
            await self.query_one(Markdown).update(self.markdown)
            self.notify(f"notes of run {self.run_id} saved", markup=False)

        self.run_worker(save, group="report-notes")

    def action_export(self) -> None:
        async def export() -> None:
            import asyncio

            from opsconsole.services.report import default_export_path, export as write

            context = self.app.context
            run = await asyncio.to_thread(context.ledger.get_run, self.run_id)
            if run is None or not self.markdown:
                self.notify("nothing to export yet", severity="warning")
                return
            try:
                path = await asyncio.to_thread(write, self.markdown, default_export_path(context, run))
            except OSError as exc:
                self.notify(f"export failed: {exc}", severity="error", markup=False)
                return
            self.notify(f"report written to {path}", markup=False, timeout=8)

        self.run_worker(export, group="report-export")
