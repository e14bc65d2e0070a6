"""The header: app, profile, environment label, READ-ONLY and HALTED badges, UTC clock."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from opsconsole.domain.text import visible


class OpsHeader(Widget):
    DEFAULT_CSS = """
    OpsHeader { dock: top; height: 1; background: $panel; color: $foreground; }
    """

    screen_title: reactive[str] = reactive("Status")
    halted: reactive[bool] = reactive(False)
    notice: reactive[str] = reactive("")  # the kill-switch's trouble: KILL INTERRUPTED, LEDGER BROKEN…
    now: reactive[str] = reactive("")

    def __init__(self, profile: str, environment: str, readonly: bool, production: bool,
                 clock: Callable[[], datetime], env_colour: str) -> None:
        super().__init__()
        self.profile = profile
        self.environment = environment
        self.readonly = readonly
        self.production = production
        self._clock = clock
        self._env_colour = env_colour

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self.now = self._clock().strftime("%Y-%m-%d %H:%M:%S UTC")

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" opsconsole ", style="bold")
        text.append(f"▏{self.screen_title} ", style="bold")
        text.append(f" {visible(self.profile)} ", style="reverse")
        text.append(" ")
        text.append(f" {visible(self.environment)} ", style=f"bold white on {self._env_colour}")
        if self.readonly:
            text.append(" ")
            text.append(" READ-ONLY ", style="bold black on yellow")
        if self.halted:
            text.append(" ")
            text.append(" HALTED ", style="bold white on red blink")
        if self.notice:
            text.append(" ")
            text.append(f" {self.notice} ", style="bold black on yellow")
        width = self.size.width or 80
        hint = " ^k KILL " if width >= 100 else ""
        pad = width - text.cell_len - len(self.now) - len(hint) - 2
        if pad > 0:
            text.append(" " * pad)
            if hint:
                text.append(hint, style="bold red")
                text.append(" ")
            text.append(self.now, style="dim")
        return text
