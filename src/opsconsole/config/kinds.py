"""Run-kind files: TOML in the package's kinds/ and the user's ~/.config/opsconsole/kinds/."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from opsconsole.config.toml_lines import CheckedToml, FileProblems
from opsconsole.domain.kinds import RunKind
from opsconsole.domain.params import QUOTES, TYPES, Derive, Param, ParamError
from opsconsole.domain.problems import Problem

_PARAM_KEYS = {f.name for f in fields(Param)}
_DERIVE_KEYS = {f.name for f in fields(Derive)}
_KIND_KEYS = {"name", "description", "program", "params", "conf"}
_CONF_KEYS = {"command_key", "params"}
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "kinds"


@dataclass
class KindSet:
    kinds: dict[str, RunKind] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def parse_kind(text: str, source: str) -> RunKind:
    """One kind file; raises KindError listing every problem with file:line: key."""
    doc = CheckedToml(text, source, KindError)
    raw, bad = doc.raw, doc.bad
    doc.unknown_keys(raw, _KIND_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        bad(("name",), "missing or empty")
    program = raw.get("program", [])
    if not isinstance(program, list) or not all(isinstance(p, str) for p in program):
        bad(("program",), "expected a list of strings (the argv before the parameters)")
        program = []
    conf = raw.get("conf", {})
    doc.unknown_keys(conf, _CONF_KEYS, ("conf",))
    params: list[Param] = []
    seen: set[str] = set()
    for i, body in enumerate(raw.get("params", [])):
        path = ("params", i)
        if not isinstance(body, dict):
            bad(path, "expected a table")
            continue
        unknown = [k for k in body if k not in _PARAM_KEYS]
        for k in unknown:
            bad((*path, k), "unknown key")
        if unknown:
            continue
        pname = body.get("name")
        if not isinstance(pname, str) or not pname:
            bad((*path, "name"), "missing or empty")
            continue
        if pname in seen:
            bad((*path, "name"), f"duplicate parameter {pname!r}")
        seen.add(pname)
        ptype = body.get("type", "str")
        if ptype not in TYPES:
            bad((*path, "type"), f"unknown type {ptype!r} (known: {', '.join(TYPES)})")
            continue
        if body.get("quote", "auto") not in QUOTES:
            bad((*path, "quote"), f"must be one of {', '.join(QUOTES)}")
            continue
        derive = body.get("derive")
        if derive is not None:
            if not isinstance(derive, dict) or set(derive) - _DERIVE_KEYS:
                bad((*path, "derive"), f"expected a table with keys among {', '.join(sorted(_DERIVE_KEYS))}")
                continue
            derive = Derive(**derive)
        kwargs = dict(body)
        kwargs["choices"] = tuple(body.get("choices", ()))
        kwargs["derive"] = derive
        param = Param(**kwargs)
        if param.type == "literal" and not param.value:
            bad((*path, "value"), "a literal needs its token in `value`")
            continue
        if param.type not in ("literal",) and param.flag is None and not param.in_conf:
            bad((*path, "flag"), "a parameter needs a flag, or in_conf = true")
        if param.default is not None and param.type != "literal":
            try:
                param.check(param.default)
            except ParamError as exc:
                bad((*path, "default"), f"invalid default: {exc}")
        params.append(param)
    doc.raise_if_any()
    return RunKind(name=name, program=tuple(program), params=tuple(params),
                   description=raw.get("description", ""),
                   conf_command_key=(conf or {}).get("command_key"),
                   conf_params=(conf or {}).get("params", True), source=source)


class KindError(FileProblems):
    """A run-kind file that cannot be used."""


def kind_dirs() -> list[Path]:
    from opsconsole.config import paths

    return [paths.config_dir() / "kinds", BUILTIN_DIR]


def load_kinds(dirs: list[Path] | None = None) -> KindSet:
    """Every kind from the kind dirs (the user's first: a name there wins), plus problems."""
    found = KindSet()
    for directory in dirs if dirs is not None else kind_dirs():
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                kind = parse_kind(path.read_text(encoding="utf-8"), str(path))
            except KindError as exc:
                found.problems += exc.problems
                continue
            except (OSError, UnicodeDecodeError) as exc:
                found.problems.append(Problem(str(path), 1, "(file)", str(exc)))
                continue
            found.kinds.setdefault(kind.name, kind)
    return found
