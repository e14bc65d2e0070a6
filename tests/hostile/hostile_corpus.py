"""The hostile-input corpus: what a server, a file, a form or a config may throw at opsconsole.

Each entry is data a test feeds to one boundary; the tests next to this file assert that
nothing crashes, freezes or reaches the terminal raw. Keep entries small and named.
"""

from __future__ import annotations

# Terminal injection: OSC title change, CSI colour, C1 CSI (U+009B), bidi override and
# isolate, NUL, DEL, a bell, Textual markup and a lone surrogate (from JSON "\ud800").
ESCAPES = {
    "osc_title": "\x1b]0;PWNED\x07",
    "csi_colour": "\x1b[31;1mred\x1b[0m",
    "c1_csi": "\x9b31mred",
    "c1_nel": "line\x85break",
    "bidi_override": "evil\u202etxt.exe",
    "bidi_isolate": "\u2067rtl\u2069",
    "nul": "a\x00b",
    "del_bell": "x\x7f\x07y",
    "markup": "[bold red]x[/] [@click=app.quit]q[/]",
    "surrogate": "s\ud800t",
}
HOSTILE = "".join(v for k, v in ESCAPES.items() if k != "surrogate")  # every trick in one string

# The characters that must never reach a rendered screen.
RAW = ["\x1b", "\x07", "\x00", "\x7f", *map(chr, range(0x80, 0xA0)), "\u202e", "\u2067", "\u2069"]

# Regexes that backtrack catastrophically on a backtracking engine, and the line that does it.
CATASTROPHIC = [r"(?=a)(a+)+$", r"(a|aa)+$", r"(\w+\s?)+$"]
CATASTROPHIC_LINE = "a" * 4000 + "!"

# Names: escaping a directory, and too long for one file name.
NAMES = ["..", "../../etc/passwd", "a/../../b", "x" * 250, "run:1", "run_1", "dag\x1b]0;x\x07", ".", ""]


def raw_in(text: str) -> list[str]:
    """The forbidden raw characters found in `text`."""
    return sorted({ch for ch in text if ch in RAW})
