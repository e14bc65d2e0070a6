"""Launch: pick a preset, see exactly what will run, launch it with a key.

The foundation's slice: presets render through domain/presets.py; the typed parameter form,
sweeps and Airflow targets arrive with the Launch issue."""

from __future__ import annotations

import shlex

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, OptionList, Static
from textual.widgets.option_list import Option

from opsconsole.ui.screens.base import OpsScreen
from opsconsole.domain.presets import Preset, discover_presets, render
from opsconsole.ui.bindings import bindings


class LaunchScreen(OpsScreen):
    TITLE_TEXT = "Launch"
    BINDINGS = bindings("launch")
    DEFAULT_CSS = """
    LaunchScreen > Horizontal { height: 1fr; }
    LaunchScreen #presets { width: 32; border: round $panel; }
    LaunchScreen #presets:focus { border: round $accent; }
    LaunchScreen #detail { width: 1fr; border: round $panel; padding: 0 1; }
    LaunchScreen #preview { border: round $accent; padding: 0 1; height: auto; }
    LaunchScreen #actions { height: auto; padding: 1 0 0 0; }
    LaunchScreen .muted { color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__(id="launch")
        self.presets: list[Preset] = []
        self.errors: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(id="presets")
            with VerticalScroll(id="detail"):
                yield Static("", id="about")
                yield Static("", id="values")
                yield Static("", id="preview")
                yield Static("", id="problems", classes="muted")
                with Horizontal(id="actions"):
                    yield Button("Launch (ctrl+l)", id="launch-button", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#presets").border_title = "Presets"
        self.query_one("#detail").border_title = "Preset"
        self.load_presets()

    @work(thread=True, exclusive=True, group="presets")
    def load_presets(self) -> None:
        presets, errors = discover_presets(self.app.context.preset_dirs())
        self.app.call_from_thread(self._show_presets, presets, errors)

    def _show_presets(self, presets: list[Preset], errors: list[str]) -> None:
        self.presets, self.errors = presets, errors
        options = self.query_one("#presets", OptionList)
        options.clear_options()
        options.add_options([Option(p.name, id=p.name) for p in presets])
        self.query_one("#problems", Static).update(
            Text("\n".join(f"⚠ {e}" for e in errors), style="yellow") if errors else "")
        if presets:
            options.highlighted = 0
            options.focus()
        else:
            self.query_one("#about", Static).update("No presets found in: " +
                                                    ", ".join(map(str, self.app.context.preset_dirs())))

    @property
    def current(self) -> Preset | None:
        options = self.query_one("#presets", OptionList)
        idx = options.highlighted
        return self.presets[idx] if idx is not None and 0 <= idx < len(self.presets) else None

    @on(OptionList.OptionHighlighted)
    def _highlight(self) -> None:
        preset = self.current
        if preset is None:
            return
        self.query_one("#about", Static).update(Text.assemble(
            (preset.name, "bold"), f"  kind {preset.kind} → target {preset.target}\n",
            (preset.description or "", "italic"), f"\n{preset.path}", ))
        values = Table(box=None, show_header=True, header_style="bold")
        values.add_column("PARAMETER")
        values.add_column("VALUE")
        for key, value in preset.values.items():
            values.add_row(key, repr(value))
        self.query_one("#values", Static).update(values)
        spec = render(preset)
        preview = self.query_one("#preview", Static)
        preview.border_title = "Will run"
        preview.update(Text(shlex.join(spec.command)))

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#launch-button")
    def _pressed(self) -> None:
        self.action_launch()

    def action_launch(self) -> None:
        preset = self.current
        if preset is None:
            self.notify("No preset selected", severity="warning")
            return
        self.app.launch_specs([render(preset)], label=preset.name)
