"""What every full screen shares: the header (profile, environment, badges, UTC clock)."""

from __future__ import annotations

from textual.screen import Screen
from textual.widget import Widget

from opsconsole.ui.widgets.header import OpsHeader


class OpsScreen(Screen):
    TITLE_TEXT = ""

    def _extend_compose(self, widgets: list[Widget]) -> None:
        """The header is composed with the screen's own widgets (after them, docked on top):
        the screen's first frame has it, no second layout for a header mounted later."""
        super()._extend_compose(widgets)
        ctx = self.app.context
        profile = ctx.profile
        header = OpsHeader(profile.name, profile.environment, profile.readonly, profile.production,
                           ctx.clock, self.app.env_colour)
        header.screen_title = self.TITLE_TEXT
        header.halted = self.app.halted
        header.notice = getattr(self.app, "kill_notice", "")
        widgets.append(header)

    def on_screen_resume(self) -> None:
        for header in self.query(OpsHeader):
            header.halted = self.app.halted
            header.notice = getattr(self.app, "kill_notice", "")
