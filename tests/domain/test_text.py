"""The sanitising boundary (domain/text.py): outside text made visible, one implementation."""

from opsconsole.domain.text import unsafe_characters, visible
from opsconsole.logs.text import decode_for_display


def test_c0_controls_become_control_pictures():
    assert visible("a\x1b]0;pwned\x07b") == "a␛]0;pwned␇b"
    assert visible("\x00\x7f") == "␀␡"


def test_c1_controls_are_shown_as_escapes():
    assert visible("x\x9b31mred") == "x\\x9b31mred"
    assert visible("\x85") == "\\x85"


def test_bidi_overrides_and_isolates_are_shown():
    assert visible("evil\u202etxt.exe") == "evil\\u202etxt.exe"
    assert visible("\u2066a\u2069") == "\\u2066a\\u2069"


def test_lone_surrogates_are_shown_not_left_to_crash_an_encoder():
    shown = visible("a\ud800b")
    shown.encode("utf-8")
    assert shown == "a\\ud800b"


def test_newlines_and_tabs_only_when_kept():
    assert visible("a\tb\nc") == "a␉b␊c"
    assert visible("a\tb\nc", keep="\n") == "a\tb\nc"
    assert visible("a\tb\nc", keep="\t") == "a\tb␊c"


def test_plain_text_and_non_text_values_pass():
    assert visible("héllo — ok ✓") == "héllo — ok ✓"
    assert visible(42) == "42"
    assert unsafe_characters("ok") == []
    assert unsafe_characters("a\x1b\x9b\u202e") == ["\x1b", "\x9b", "\u202e"]


def test_log_lines_use_the_same_boundary_for_c1_and_bidi():
    line = "INFO \x1b[31m \u0085 \u202e end".encode()
    shown = decode_for_display(line)
    assert unsafe_characters(shown) == []
    assert "␛[31m" in shown and "\\x85" in shown and "\\u202e" in shown
