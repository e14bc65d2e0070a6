"""Typed run parameters: what each flag accepts, why a value is refused, and how it renders
to a command line and to an Airflow conf.

A run kind (kinds.py) is a list of `Param`s read from TOML, so teams add their own kinds
without touching Python."""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsconsole.domain.text import unsafe_characters, visible

TYPES = ("str", "int", "float", "bool", "flag", "choice", "list", "freq", "date", "datetime",
         "config_pairs", "literal")
QUOTES = ("auto", "always", "double", "none")
# pandas-style offset aliases: 1T, 5min, 30S, 1H, 2D, 500ms...
_FREQ = re.compile(r"^\d*(?:T|min|S|s|H|h|D|B|W|M|MS|Q|A|Y|L|ms|U|us|N)$")
DATE_FMT = "%Y%m%d"
DATETIME_FMT = "%Y%m%d_%H%M%S"
# what a `quote = "none"` value may hold: shlex's safe characters (no space, no metacharacter)
_UNQUOTED = re.compile(r"[\w@%+=:,./-]*", re.ASCII)


class ParamError(ValueError):
    """A value a parameter refuses; the message is the reason shown inline."""


@dataclass(frozen=True)
class Derive:
    """A value computed from other parameters unless the user overrides it: either a template
    ("{strategy}/{run_mode}") or a datetime plus a number of seconds."""

    template: str | None = None
    base: str | None = None            # a datetime parameter
    add_seconds: str | None = None     # a numeric parameter
    offset_seconds: float = 0.0


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "str"
    flag: str | None = None            # "--log_dir"; None for conf-only parameters
    default: Any = None
    required: bool = False
    help: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None
    gt: float | None = None            # strictly greater than
    lt: float | None = None
    choices: tuple[str, ...] = ()
    item: str = "str"                  # element type of a list
    quote: str = "auto"
    value: str | None = None           # the fixed token of a literal (e.g. "2>&1")
    shell_only: bool = False           # a literal that only means something to a shell
    derive: Derive | None = None
    conf_key: str | None = None        # key in the Airflow conf (default: name)
    in_conf: bool = True

    # --- validation ---------------------------------------------------------------------------
    def check(self, value: Any) -> Any:
        """The value normalised, or ParamError with the reason.

        Text holding control characters (NUL, ESC, C1, bidi overrides) is refused, whatever
        the type: it would fail the run at start or drive a terminal showing it. A parameter
        rendered without quoting (`quote = "none"`) refuses shell metacharacters too."""
        # the pairs editor's text is one pair a line
        _refuse_controls(value.replace("\n", " ") if self.type == "config_pairs" and isinstance(value, str) else value)
        value = self._check(value)
        if self.quote == "none" and value is not None and self.type not in ("literal", "flag", "bool"):
            for token in (value if isinstance(value, list) else [value]):
                text = _scalar_text(token)
                if not _UNQUOTED.fullmatch(text):
                    bad = sorted({ch for ch in text if not _UNQUOTED.fullmatch(ch)})
                    raise ParamError(f"shell characters {' '.join(repr(c) for c in bad)} are not allowed: "
                                     "this parameter is passed unquoted (quote = \"none\")")
        return value

    def _check(self, value: Any) -> Any:
        if value is None:
            if self.required:
                raise ParamError("required")
            return None
        t = self.type
        if t in ("flag", "bool"):
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                value = value.strip().lower() == "true"
            if not isinstance(value, bool):
                raise ParamError(f"expected true or false, got {value!r}")
            return value
        if t == "int":
            return self._bounded(_as_int(value))
        if t == "float":
            return self._bounded(_as_number(value))
        if t == "choice":
            if str(value) not in self.choices:
                raise ParamError(f"must be one of {', '.join(self.choices)}")
            return str(value)
        if t == "list":
            items = value.split() if isinstance(value, str) else value
            if not isinstance(items, list) or not items:
                raise ParamError("expected a non-empty list")
            element = Param(name=self.name, type=self.item, min=self.min, max=self.max, gt=self.gt, lt=self.lt)
            out = []
            for i, raw in enumerate(items):
                try:
                    out.append(element.check(raw))
                except ParamError as exc:
                    raise ParamError(f"item {i + 1} ({raw!r}): {exc}") from None
            return out
        if t == "freq":
            text = str(value).strip()
            if not _FREQ.match(text) or text.startswith("0"):
                raise ParamError(f"not a frequency like 1T, 5min, 30S, 1H (got {text!r})")
            return text
        if t in ("date", "datetime"):
            fmt = DATE_FMT if t == "date" else DATETIME_FMT
            text = str(value).strip()
            try:
                datetime.strptime(text, fmt)
            except ValueError:
                shape = "YYYYMMDD" if t == "date" else "YYYYMMDD_HHMMSS"
                raise ParamError(f"expected a {shape} {'date' if t == 'date' else 'time'}, got {text!r}") from None
            return text if t == "datetime" else (int(text) if isinstance(value, int) else text)
        if t == "config_pairs":
            return _check_pairs(value)
        if t == "literal":
            return self.value
        if not isinstance(value, str):
            raise ParamError(f"expected text, got {value!r}")
        if self.choices and value not in self.choices:
            raise ParamError(f"must be one of {', '.join(self.choices)}")
        return value

    def _bounded(self, number: int | float) -> int | float:
        if self.gt is not None and not number > self.gt:
            raise ParamError(f"must be > {self.gt:g}")
        if self.lt is not None and not number < self.lt:
            raise ParamError(f"must be < {self.lt:g}")
        if self.min is not None and number < self.min:
            raise ParamError(f"must be >= {self.min:g}")
        if self.max is not None and number > self.max:
            raise ParamError(f"must be <= {self.max:g}")
        return number

    def parse_text(self, text: str) -> Any:
        """A value typed into the form, as the type it stands for."""
        text = text.strip()
        if text == "":
            return None
        if self.type == "int":
            return self.check(text)
        if self.type == "float":
            return self.check(text)
        if self.type == "list":
            return self.check(text.split())
        if self.type == "date":
            return self.check(int(text) if text.isdigit() else text)
        return self.check(text)

    def to_text(self, value: Any) -> str:
        """The form's text for a value (inverse of parse_text)."""
        if value is None:
            return ""
        if self.type == "list":
            return " ".join(_scalar_text(v) for v in value)
        return _scalar_text(value)

    # --- rendering ----------------------------------------------------------------------------
    def tokens(self, value: Any) -> list[tuple[str, bool]]:
        """(token, is_value) pairs for the command line; flags and literal tokens are not values."""
        if self.type == "literal":
            return [(self.value or "", False)]
        if value is None or self.flag is None:
            return []
        if self.type == "flag":
            return [(self.flag, False)] if value else []
        if self.type == "list":
            return [(self.flag, False), *((_scalar_text(v), True) for v in value)]
        if self.type == "config_pairs":
            out: list[tuple[str, bool]] = []
            for pair in value:
                path = ",".join(f"'{p}'" for p in pair["path"])
                out += [(self.flag, False), (f"({path}),({pair['value']})", True)]
            return out
        return [(self.flag, False), (_scalar_text(value), True)]

    def quoted(self, token: str) -> str:
        q = self.quote
        if q == "none":
            return token
        if q == "always":
            return "'" + token.replace("'", "'\"'\"'") + "'"
        if q == "double":
            return '"' + re.sub(r'(["\\$`])', r"\\\1", token) + '"'
        return shlex.quote(token)

    def conf_value(self, value: Any) -> Any:
        if self.type == "config_pairs" and value is not None:
            return [[list(p["path"]), p["value"]] for p in value]
        return value


def _refuse_controls(value: Any) -> None:
    if isinstance(value, str):
        bad = unsafe_characters(value)
        if bad:
            raise ParamError(f"control character {visible(bad[0])} (U+{ord(bad[0]):04X}) is not allowed")
    elif isinstance(value, list):
        for item in value:
            _refuse_controls(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_controls(key)
            _refuse_controls(item)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ParamError(f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value.strip())
    raise ParamError(f"expected a whole number, got {value!r}")


def _as_number(value: Any) -> int | float:
    """Keeps the number as written: 60 stays 60 (renders "60"), 1.0 stays 1.0 ("1.0")."""
    if isinstance(value, bool):
        raise ParamError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ParamError("must be a finite number")
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            raise ParamError(f"expected a number, got {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ParamError("must be a finite number")
        return number
    raise ParamError(f"expected a number, got {value!r}")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _check_pairs(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = parse_pairs_text(value)
    if not isinstance(value, list):
        raise ParamError("expected a list of { path = [...], value = \"...\" }")
    out = []
    for i, pair in enumerate(value, start=1):
        if not isinstance(pair, dict) or set(pair) != {"path", "value"}:
            raise ParamError(f"pair {i}: expected keys path and value")
        path, expr = pair["path"], pair["value"]
        if not isinstance(path, list) or not path or not all(isinstance(p, str) and p for p in path):
            raise ParamError(f"pair {i}: path must be a non-empty list of names")
        if not isinstance(expr, str):
            raise ParamError(f"pair {i}: value must be a Python expression in a string")
        try:
            ast.parse(expr, mode="eval")
        except SyntaxError as exc:
            raise ParamError(f"pair {i}: value is not a Python expression: {exc.msg}") from None
        out.append({"path": list(path), "value": expr})
    return out


def pairs_text(pairs: list[dict[str, Any]] | None) -> str:
    """One pair a line, `params.style = str('longitudinal')`, for the form's editor."""
    return "\n".join(f"{'.'.join(p['path'])} = {p['value']}" for p in pairs or [])


def parse_pairs_text(text: str) -> list[dict[str, Any]]:
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise ParamError(f"line {number}: expected `path.to.key = expression`")
        path, expr = line.split("=", 1)
        pairs.append({"path": [p.strip() for p in path.strip().split(".")], "value": expr.strip()})
    return pairs


@dataclass
class Rendered:
    """What a launch will send: the argv, the shell line shown to the user, the Airflow conf."""

    argv: list[str]
    shell: str
    conf: dict[str, Any] = field(default_factory=dict)
