"""Run-kind files: TOML in the package's kinds/ and the user's ~/.config/opsconsole/kinds/."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from opsconsole.config.schema import AnyValue, Bool, List, Num, Str, Table
from opsconsole.config.toml_lines import CheckedToml, FileProblems, read_toml_file
from opsconsole.domain.kinds import RunKind, template_problem
from opsconsole.domain.params import QUOTES, TYPES, Derive, Param, ParamError
from opsconsole.domain.problems import Problem

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "kinds"


@dataclass
class KindSet:
    kinds: dict[str, RunKind] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


_DERIVE = Table({"template": Str(), "base": Str(), "add_seconds": Str(), "offset_seconds": Num()})
_PARAM = Table({
    "name": Str(), "type": Str(choices=TYPES), "flag": Str(), "default": AnyValue(), "required": Bool(),
    "help": Str(nonempty=False), "unit": Str(nonempty=False), "min": Num(), "max": Num(), "gt": Num(),
    "lt": Num(), "choices": List(Str()), "item": Str(choices=TYPES), "quote": Str(choices=QUOTES),
    "value": Str(), "shell_only": Bool(), "derive": _DERIVE, "conf_key": Str(), "in_conf": Bool(),
}, required=("name",), what="[[params]] table")
_KIND = Table({
    "name": Str(), "description": Str(nonempty=False), "program": List(Str()),
    "params": AnyValue(), "conf": Table({"command_key": Str(), "params": Bool()}),
}, required=("name",))


def parse_kind(text: str, source: str) -> RunKind:
    """One kind file; raises KindError listing every problem with file:line: key."""
    doc = CheckedToml(text, source, KindError)
    raw = doc.raw
    bad = doc.bad
    for path, message in _KIND.check({k: v for k, v in raw.items() if k != "params"}, ()):
        bad(path, message)
    bodies = raw.get("params", [])
    if not isinstance(bodies, list):
        bad(("params",), "expected an array of tables ([[params]])")
        bodies = []
    doc.raise_if_any()
    name, program, conf = raw["name"], raw.get("program", []), raw.get("conf", {})
    params: list[Param] = []
    located: dict[str, tuple[object, ...]] = {}
    seen: set[str] = set()
    for i, body in enumerate(bodies):
        path = ("params", i)
        shape = list(_PARAM.check(body, path))
        for where, message in shape:
            bad(where, message)
        if shape:
            continue  # a param of the wrong shape is not built (its problems are listed)
        if body["name"] in seen:
            bad((*path, "name"), f"duplicate parameter {body['name']!r}")
        seen.add(body["name"])
        derive = body.get("derive")
        if derive is not None:
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
        located[param.name] = path
    names = {p.name for p in params}
    samples = {p.name: p.default for p in params if p.default is not None}
    for param in params:  # a derivation that cannot work is a problem now, not a crash on an edit
        d, path = param.derive, located[param.name]
        if d is None:
            continue
        if d.template is not None:
            problem = template_problem(d.template, names, samples)
            if problem:
                bad((*path, "derive", "template"), problem)
        elif d.base is None:
            bad((*path, "derive"), "a derive needs a template, or a base (and add_seconds)")
        for key in ("base", "add_seconds"):
            ref = getattr(d, key)
            if ref is not None and ref not in names:
                bad((*path, "derive", key), f"no parameter {ref!r} in this kind")
    doc.raise_if_any()
    balances = raw.get("balances", {})
    return RunKind(name=name, program=tuple(program), params=tuple(params),
                   balance_logs=tuple(balances.get("logs", ("*flatten_account*",))),
                   balance_quote=balances.get("quote", "USDT"), balance_account=balances.get("account", "run log"),
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
                kind = parse_kind(read_toml_file(path, KindError), str(path))
            except KindError as exc:
                found.problems += exc.problems
                continue
            except Exception as exc:  # noqa: BLE001 - an unreadable file is a problem, never a crash
                found.problems.append(Problem(str(path), 1, "(file)", f"{type(exc).__name__}: {exc}"))
                continue
            found.kinds.setdefault(kind.name, kind)
    return found
