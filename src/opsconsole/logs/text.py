"""Turning raw line bytes into text that is safe to put on a terminal.

Log bytes are not trusted to be UTF-8 or printable: invalid sequences become U+FFFD, and
control characters (NUL, ESC, ...) become their visible Unicode "control pictures" so a
stray escape sequence can never drive the terminal.
"""

from __future__ import annotations

# C0 controls and DEL -> U+2400..U+2421; tab is expanded, CR at the end is dropped (CRLF).
_CONTROLS = {c: 0x2400 + c for c in range(32)}
_CONTROLS[0x7F] = 0x2421
del _CONTROLS[9]

DISPLAY_CAP = 4096  # bytes of a line read for display; the rest is behind CUT_MARKER
CUT_MARKER = " …[+{n:,} bytes, press enter to open the whole line]"


def decode_for_display(data: bytes, cut: int = 0) -> str:
    """Decode a line for display: lossy UTF-8, visible controls, no trailing CR, cut marker."""
    if data.endswith(b"\r"):
        data = data[:-1]
    text = data.decode("utf-8", errors="replace").translate(_CONTROLS)
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
