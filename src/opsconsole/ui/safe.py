"""The UI half of the sanitising boundary (domain/text.py): outside text → a rich `Text`.

Every string opsconsole did not write (a DAG id, a run's conf, a file name, a parameter value,
an error text from a server) reaches a widget through `safe_text`: it is never parsed as
Textual/Rich markup (a `[bold]` or `[@click=…]` in a DAG id stays literal) and its control,
C1 and bidi characters are shown, not sent to the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from opsconsole.domain.text import visible

if TYPE_CHECKING:
    from textual.content import Content

__all__ = ["safe_content", "safe_text", "visible"]


def safe_text(value: object, style: str | Style = "", *, keep: str = "", no_wrap: bool = False,
              overflow: str | None = None) -> Text:
    """`value` as a `Text` with controls made visible and no markup interpreted."""
    if isinstance(value, Text):  # already built by us (its parts were made safe when built)
        return value
    return Text(visible("" if value is None else value, keep=keep), style=style, no_wrap=no_wrap,
                overflow=overflow)  # type: ignore[arg-type]


def safe_content(value: object) -> "Content":
    """`value` as Textual `Content` (tab labels, titles that take Content): literal, visible."""
    from textual.content import Content

    return Content(visible("" if value is None else value))


def palette_text(value: object) -> str:
    """A command palette title: Textual parses it as markup (its fuzzy highlighter), so the
    text is made visible and its markup escaped."""
    from textual.markup import escape

    return escape(visible(value))


class SafeNotify:
    """App mixin: every toast (from any widget: `Widget.notify` calls the app's) shows its
    message and title as literal, visible text — error texts quote servers and files."""

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        super().notify(visible(message, keep="\n"), title=visible(title),  # type: ignore[misc]
                       severity=severity, timeout=timeout, markup=False)


class CrashReporting:
    """App mixin: an unhandled exception ends the app with a non-zero code (Textual's 1) and
    one line naming a crash report file (services/crash.py) instead of a traceback with locals."""

    crash_report = None

    def _handle_exception(self, error: Exception) -> None:
        from opsconsole.services.crash import write_crash_report

        self._crash_error = error
        self.crash_report = write_crash_report(error, type(self).__name__)
        super()._handle_exception(error)  # type: ignore[misc]

    def _fatal_error(self) -> None:
        from opsconsole.services.crash import crash_message

        self.bell()  # type: ignore[attr-defined]
        self._exit_renderables.append(Text(crash_message(self._crash_error, self.crash_report)))  # type: ignore[attr-defined]
        self._close_messages_no_wait()  # type: ignore[attr-defined]
