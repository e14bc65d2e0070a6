"""What every full screen shares: the header (profile, environment, badges, UTC clock)."""

from __future__ import annotations

from textual.screen import Screen

from opsconsole.ui.widgets.header import OpsHeader


class OpsScreen(Screen):
    TITLE_TEXT = ""

    def on_mount(self) -> None:
        ctx = self.app.context
        profile = ctx.profile
        header = OpsHeader(profile.name, profile.environment, profile.readonly, profile.production,
                           ctx.clock, self.app.env_colour)
        header.screen_title = self.TITLE_TEXT
        header.halted = self.app.halted
        header.notice = getattr(self.app, "kill_notice", "")
        self.mount(header)

    def on_screen_resume(self) -> None:
        for header in self.query(OpsHeader):
            header.halted = self.app.halted
            header.notice = getattr(self.app, "kill_notice", "")
