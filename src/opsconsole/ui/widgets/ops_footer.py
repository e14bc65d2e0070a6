"""The app's footer: Textual's, recomposed once per refresh however many times the bindings
changed in it (at start-up focus, mode and keymap changes come together: one rebuild of a
dozen keys instead of six)."""

from __future__ import annotations

from textual.widgets import Footer


class OpsFooter(Footer):
    _rebuild_pending = False

    def bindings_changed(self, screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._rebuild_pending = False
        await self.recompose()
