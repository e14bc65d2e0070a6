"""A search as the operator typed it (kept apart from the scanner so the UI can import it cheaply).

A pattern is checked before it runs (`Query.problem`): too long, bad syntax or a huge
repeat count is refused with a reason. Patterns run on engines that cannot freeze the app:
ripgrep (finite automata, no backtracking) for the scan when it can; otherwise the `regex`
module, which releases the GIL while it matches (`concurrent=True`) and gives up after a
time budget (`timeout=`) — Python's `re` would hold the GIL for as long as a catastrophic
pattern such as `(a|aa)+$` backtracks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_PATTERN = 1000  # characters of a pattern
MAX_REPEAT = 1000  # the largest {m,n} count
# The regex module measures its timeout in CPU seconds of the matching thread.
SCAN_TIMEOUT = 0.25  # CPU seconds one Python-engine search call may take over a ~64 KB window
HIGHLIGHT_TIMEOUT = 0.02  # seconds to find the matches of one displayed line


class RegexTooSlow(Exception):
    """The Python engine gave up on a pattern (it backtracks too much)."""


@dataclass(frozen=True)
class Query:
    """Pattern plus the two toggles: regex or literal, case-sensitive or not."""

    pattern: str
    regex: bool = False
    case_sensitive: bool = False

    @property
    def problem(self) -> str | None:
        """Why this pattern is refused before it runs, or None."""
        if len(self.pattern) > MAX_PATTERN:
            return f"pattern too long ({len(self.pattern):,} characters; at most {MAX_PATTERN:,})"
        if "\x00" in self.pattern:
            return "a NUL character in a pattern is not searched for"
        if not self.regex:
            return None
        try:
            tree = re._parser.parse(self.pattern)  # type: ignore[attr-defined]
        except re.error as exc:
            return f"bad regex: {exc}"
        except RecursionError:
            return "bad regex: nested too deeply"
        biggest = _max_repeat(tree)
        if biggest > MAX_REPEAT:
            return f"repeat count {biggest:,} too large (at most {MAX_REPEAT:,})"
        return None

    @property
    def risky(self) -> bool:
        """A quantifier (or an alternation) inside a quantifier, or a backreference: these
        can backtrack exponentially on a backtracking engine."""
        if not self.regex:
            return False
        try:
            return _nested(re._parser.parse(self.pattern), 0)  # type: ignore[attr-defined]
        except (re.error, RecursionError):
            return False

    def _refuse(self) -> None:
        problem = self.problem
        if problem:
            raise re.error(problem.removeprefix("bad regex: "))

    def compile(self) -> Any:
        """The pattern over bytes, per line (raises re.error for a bad pattern).

        A `regex` pattern: call it with `concurrent=True, timeout=…` (see `search_bytes`)."""
        self._refuse()
        return _compile(self.pattern.encode() if self.regex else re.escape(self.pattern.encode()),
                        self.case_sensitive, multiline=True)

    def compile_text(self) -> Any:
        """The same over decoded text, for highlighting matches on screen (`finditer_text`)."""
        self._refuse()
        return _compile(self.pattern if self.regex else re.escape(self.pattern), self.case_sensitive)


def _compile(source: Any, case_sensitive: bool, multiline: bool = False) -> Any:
    import regex

    re.compile(source)  # the syntax the operator knows: re.error, with its position
    flags = (regex.MULTILINE if multiline else 0) | (0 if case_sensitive else regex.IGNORECASE)
    try:
        return regex.compile(source, flags)
    except regex.error as exc:
        raise re.error(str(exc)) from None


def search_bytes(pattern: Any, buf: Any, start: int, end: int, timeout: float = SCAN_TIMEOUT) -> Any:
    """`pattern.search` with the GIL released and a time budget (RegexTooSlow past it)."""
    try:
        return pattern.search(buf, start, end, concurrent=True, timeout=timeout)
    except TimeoutError:
        raise RegexTooSlow(f"the pattern took over {timeout:g} s of CPU on 64 KB: it backtracks too much "
                           "(a quantifier inside a quantifier, like (a+)+); simplify it") from None


def finditer_text(pattern: Any, text: str, timeout: float = HIGHLIGHT_TIMEOUT) -> list[tuple[int, int]]:
    """(start, end) of the matches in a displayed line; RegexTooSlow past the budget."""
    try:
        return [m.span() for m in pattern.finditer(text, concurrent=True, timeout=timeout)]
    except TimeoutError:
        raise RegexTooSlow("the pattern is too slow to highlight matches") from None


def _items(tree: Any) -> list:
    return list(tree) if not isinstance(tree, list) else tree


def _children(args: Any):
    """Sub-patterns found in a node's arguments (sre_parse's nested tuples and lists)."""
    if isinstance(args, re._parser.SubPattern):  # type: ignore[attr-defined]
        yield args
    elif isinstance(args, (tuple, list)):
        for a in args:
            yield from _children(a)


def _max_repeat(tree: Any) -> int:
    biggest = 0
    for op, args in _items(tree):
        if str(op) in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi = args[0], args[1]
            for n in (lo, hi):
                if n != re._constants.MAXREPEAT:  # type: ignore[attr-defined]
                    biggest = max(biggest, int(n))
        for sub in _children(args):
            biggest = max(biggest, _max_repeat(sub))
    return biggest


def _nested(tree: Any, depth: int) -> bool:
    for op, args in _items(tree):
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS") or (name == "BRANCH" and depth):
            return True
        inner = depth
        if name in ("MAX_REPEAT", "MIN_REPEAT") and args[1] > 1:
            if depth:
                return True
            inner = depth + 1
        for sub in _children(args):
            if _nested(sub, inner):
                return True
    return False
