"""Find the line of a key in TOML text, so every config or preset error can say file:line.

tomllib gives values but no positions; this scanner follows table headers, arrays of tables
and (possibly dotted or quoted) keys well enough to point at the line a human must edit."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Sequence

Path_ = tuple[object, ...]

# Limits on a user's TOML file (config, run kind, preset): refused with a message above them.
MAX_TOML_BYTES = 1 << 20  # a config of a hundred profiles is ~50 KB
MAX_TOML_DEPTH = 32  # arrays / inline tables inside each other (tomllib recurses: 20,000 crashes it)
_NESTING = re.compile(r"""\\.|\"\"\"|'''|["'#\[\]{}\n]""")

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_INLINE_KEY = re.compile(r"""(?:^|[{,])\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")


def _split_key(raw: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", raw)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class LineMap:
    """Maps key paths (("profiles", "prod", "hosts", 0, "name")) to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Path_, int] = {}
        table: list[object] = []
        counters: dict[tuple[object, ...], int] = {}
        in_multiline: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_multiline:
                if in_multiline in line:
                    in_multiline = None
                continue
            header = _HEADER.match(line)
            if header:
                parts = _split_key(header.group(2))
                if header.group(1) == "[[":
                    idx = counters.get(tuple(parts), -1) + 1
                    counters[tuple(parts)] = idx
                    table = [*self._resolve(parts, counters), idx]
                    self._lines.setdefault(tuple(table[:-1]), number)  # the array itself: its first element
                else:
                    table = list(self._resolve(parts, counters))
                self._lines.setdefault(tuple(table), number)
                continue
            key = _KEY.match(line)
            if key:
                path = (*table, *_split_key(key.group(1)))
                self._lines.setdefault(path, number)
                rest = line[key.end():]
                for inner in _INLINE_KEY.finditer(rest):
                    self._lines.setdefault((*path, _split_key(inner.group(1))[0]), number)
                for quote in ('"""', "'''"):
                    if rest.count(quote) == 1:
                        in_multiline = quote

    def _resolve(self, parts: Sequence[str], counters: dict[tuple[object, ...], int]) -> list[object]:
        # [profiles.x.hosts.extra] under [[profiles.x.hosts]] refers to the latest element
        out: list[object] = []
        for i, part in enumerate(parts):
            out.append(part)
            prefix = tuple(parts[: i + 1])
            if prefix in counters and i + 1 < len(parts):
                out.append(counters[prefix])
        return out

    def line(self, path: Sequence[object]) -> int:
        """The line of `path`, or of its nearest ancestor that has one (1 if none)."""
        p = tuple(path)
        while p:
            if p in self._lines:
                return self._lines[p]
            p = p[:-1]
        return 1


class FileProblems(Exception):
    """A user's TOML file with problems; `problems` lists every one (file:line: key — reason)."""

    def __init__(self, problems: list) -> None:
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


def nesting_depth(text: str, stop_at: int = MAX_TOML_DEPTH) -> tuple[int, int]:
    """(depth, line): how deeply arrays and inline tables nest in TOML `text` (strings and
    comments skipped), and the line where the depth first passed `stop_at` (counting stops
    there; 0 if it never did). A table header `[a]` counts one level on its own line."""
    depth = deepest = 0
    line = 1
    quote: str | None = None
    comment = False
    for m in _NESTING.finditer(text):
        tok = m.group()
        if tok == "\n":
            line += 1
        if comment:
            comment = tok != "\n"
            continue
        if quote is not None:
            if tok == quote or (tok == "\n" and len(quote) == 1):
                quote = None
            continue
        if tok in ('"""', "'''", '"', "'"):
            quote = tok
        elif tok == "#":
            comment = True
        elif tok in ("[", "{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_at:
                    return deepest, line
        elif tok in ("]", "}"):
            depth = max(depth - 1, 0)
    return deepest, 0


def read_toml_file(path: Path, error: "type[FileProblems]", limit: int = MAX_TOML_BYTES) -> str:
    """A user's TOML file's text; `error` (a file:1 problem) when it is not a regular file, is
    over `limit` bytes, unreadable or not UTF-8. A FIFO or a device is never opened (it could
    block, or never end)."""
    from opsconsole.domain.problems import Problem

    def refuse(reason: str) -> FileProblems:
        return error([Problem(str(path), 1, "(file)", reason)])

    try:
        st = os.stat(path)
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise refuse("not a regular file (a directory, FIFO or device)")
    if st.st_size > limit:
        raise refuse(f"file is {st.st_size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB (is this the right file?)")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew since the stat
        raise refuse(f"file is over the limit of {limit / 1e6:.1f} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text: {exc}") from None


class CheckedToml:
    """Parsed TOML text plus a place to collect problems located by key path."""

    def __init__(self, text: str, source: str, error: type[FileProblems] = FileProblems) -> None:
        import tomllib

        from opsconsole.domain.problems import Problem

        self.source = source
        self.error = error
        self.problems: list[Problem] = []
        if len(text) > MAX_TOML_BYTES:
            raise error([Problem(source, 1, "(file)", f"{len(text):,} characters; the limit is {MAX_TOML_BYTES:,}")])
        depth, where = nesting_depth(text)
        if depth > MAX_TOML_DEPTH:
            raise error([Problem(source, where, "(syntax)", f"arrays or tables nested more than {MAX_TOML_DEPTH} deep")])
        try:
            self.raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None) or _line_in(str(exc))
            raise error([Problem(source, line, "(syntax)", str(exc))]) from None
        except RecursionError:  # the depth check above keeps this from happening
            raise error([Problem(source, 1, "(syntax)", "nested too deeply")]) from None
        self.lines = LineMap(text)

    def bad(self, path: Sequence[object], message: str) -> None:
        from opsconsole.domain.problems import Problem, key_name

        self.problems.append(Problem(self.source, self.lines.line(path), key_name(path), message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise self.error(self.problems)


def _line_in(message: str) -> int:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else 1
