"""Turning raw line bytes into text that is safe to put on a terminal.

Log bytes are not trusted to be UTF-8 or printable: invalid sequences become U+FFFD, and
control, C1 and bidi characters are made visible by the one sanitising boundary
(`domain.text.visible`) so a stray escape sequence can never drive the terminal.
"""

from __future__ import annotations

from opsconsole.domain.text import visible

DISPLAY_CAP = 4096  # bytes of a line read for display; the rest is behind CUT_MARKER
CUT_MARKER = " …[+{n:,} bytes, press enter to open the whole line]"


def decode_for_display(data: bytes, cut: int = 0) -> str:
    """Decode a line for display: lossy UTF-8, visible controls, no trailing CR, cut marker.

    Tab is kept (and expanded), CR at the end is dropped (CRLF)."""
    if data.endswith(b"\r"):
        data = data[:-1]
    text = visible(data.decode("utf-8", errors="replace"), keep="\t")
    if "\t" in text:
        text = text.expandtabs(4)
    if cut:
        text += CUT_MARKER.format(n=cut)
    return text


def decode_plain(data: bytes) -> str:
    """Decode a line for copying or saving: lossy UTF-8, CR dropped, controls kept as-is."""
    if data.endswith(b"\r"):
        data = data[:-1]
    return data.decode("utf-8", errors="replace")
