"""The sanitising boundary: text from outside, made safe to put on a terminal.

Anything opsconsole did not write itself — a DAG id, a run's conf, a log line, a file name,
a parameter value cloned from a run, a pod name, an exchange symbol — may hold bytes that
drive a terminal (ESC sequences, C1 controls such as U+009B CSI) or that reorder what the
operator reads (bidi overrides such as U+202E). `visible()` turns every such character into
something printable that shows it was there:

- C0 controls and DEL become their Unicode control pictures (ESC → ␛, NUL → ␀, DEL → ␡);
- C1 controls (U+0080–U+009F) become `\\x9b`-style text;
- bidi embeddings, overrides, isolates and marks become `\\u202e`-style text;
- lone surrogates (from JSON such as "\\ud800") become `\\ud800`-style text (a terminal
  encoder would raise on them).

Tab and newline are kept only when asked (`keep` — multi-line views such as the JSON of a
run); everywhere else (table cells, titles, tabs, status lines) they show as ␉ and ␊ so one
value stays on one row. The UI's `ui/safe.py` wraps this into a rich `Text` (never markup).
"""

from __future__ import annotations

from typing import Any

# C0 and DEL -> control pictures U+2400..U+2421
_C0 = {c: 0x2400 + c for c in range(32)}
_C0[0x7F] = 0x2421
# C1 -> "\x9b"
_C1 = {c: f"\\x{c:02x}" for c in range(0x80, 0xA0)}
# bidi controls: ALM, LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI
BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_BIDI = {c: f"\\u{c:04x}" for c in BIDI}

_TABLE: dict[int, Any] = {**_C0, **_C1, **_BIDI}
_TABLE_KEEP_TAB = {k: v for k, v in _TABLE.items() if k != 0x09}
_TABLE_KEEP_LINES = {k: v for k, v in _TABLE.items() if k not in (0x09, 0x0A)}


def visible(value: object, keep: str = "") -> str:
    """`value` as text with every control, C1, bidi and surrogate character made visible.

    `keep` may hold "\\t" and/or "\\n": those stay as they are (a log line keeps tabs and
    expands them; a multi-line view keeps newlines).
    """
    text = value if isinstance(value, str) else str(value)
    if "\n" in keep:
        table = _TABLE_KEEP_LINES
    elif "\t" in keep:
        table = _TABLE_KEEP_TAB
    else:
        table = _TABLE
    out = text.translate(table)
    if _has_surrogate(out):
        out = "".join(f"\\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in out)
    return out


def is_visible(text: str) -> bool:
    """True when `text` holds no character that `visible()` would change (tab/newline count)."""
    return visible(text) == text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unsafe_characters(text: str) -> list[str]:
    """The raw control/C1/bidi characters in `text` (for tests and checks), in order."""
    return [ch for ch in text if ord(ch) in _TABLE or 0xD800 <= ord(ch) <= 0xDFFF]
