"""Presets: TOML files naming a run kind, a target, parameter values and an optional sweep.

Read with tomllib (values) and written with tomlkit, so a "save" from the UI keeps the user's
comments, order and quoting. Every problem names file, line, key and reason.

    kind = "broker-only"
    target = "<backend>"        # where the runs go: a backend that launches (default: the built-in one)
    [<backend>]                 # that backend's own table, checked by its schema
    ...
    [values]
    num_bars = 3
    [sweep]
    passivity_factor = [0.5, 0.55]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import tomlkit

from opsconsole.config.schema import AnyValue, Bool, List, MapOf, Num, Spec, Str, Table
from opsconsole.config.settings import backend_tables
from opsconsole.config.toml_lines import CheckedToml, FileProblems, read_toml_file
from opsconsole.domain.kinds import RunKind
from opsconsole.domain.params import ParamError
from opsconsole.domain.problems import Problem

_PRESET_KEYS: dict[str, Spec] = {
    "kind": Str(), "target": Str(), "description": Str(nonempty=False),
    "values": MapOf(AnyValue()), "sweep": MapOf(List(AnyValue())),
    "max_runs": Num(integer=True, min=1),  # raises the cap on a sweep's runs (domain/sweeps.py MAX_RUNS)
    "snapshot_balances": Bool(),  # snapshot the profile's exchange accounts before the launch (pre) and after
}


def _schema() -> Table:
    """The preset schema: the generic keys plus each launch target's own table (declared by
    its backend, named after it)."""
    targets = backend_tables().preset_tables()
    fields = dict(_PRESET_KEYS)
    fields["target"] = Str(choices=tuple(targets))
    fields.update({name: spec for name, spec in targets.items() if spec is not None})
    return Table(fields, required=("kind",))


class PresetError(FileProblems):
    """A preset that cannot be used."""


@dataclass
class Preset:
    name: str
    path: Path
    kind: str
    target: str
    description: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    # the launch targets' own tables, by backend name: {"<backend>": {...}}
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_runs: int | None = None  # the sweep cap, raised for this preset
    snapshot_balances: bool = False

    def table(self, name: str) -> dict[str, Any]:
        """A target's table of this preset ({} when it has none)."""
        return self.tables.get(name, {})


def parse_preset(text: str, path: Path, kinds: dict[str, RunKind]) -> Preset:
    """One preset; raises PresetError listing every problem."""
    doc = CheckedToml(text, str(path), PresetError)
    raw, bad = doc.raw, doc.bad
    schema = _schema()
    shape = list(schema.check(raw, ()))
    for where, message in shape:
        bad(where, message)
    # the values are checked against the kind in the same pass (every problem at once), each
    # part only where its shape is right
    wrong = {where[0] for where, _ in shape if where}
    kind_name = raw.get("kind")
    kind = kinds.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None and isinstance(kind_name, str):
        bad(("kind",), f"unknown run kind {kind_name!r} (known: {', '.join(sorted(kinds))})")
    target = raw.get("target", backend_tables().default_target())
    if isinstance(target, str) and target not in wrong and isinstance(raw.get(target, {}), dict):
        for where, message in backend_tables().preset_problems(target, raw.get(target, {})):
            bad(where, message)
    values = raw.get("values", {}) if "values" not in wrong and isinstance(raw.get("values", {}), dict) else {}
    sweep = raw.get("sweep", {}) if "sweep" not in wrong and isinstance(raw.get("sweep", {}), dict) else {}
    sweep = {k: v for k, v in sweep.items() if isinstance(v, list)}
    if kind is not None:
        _, errors = kind.validate(values)
        for name, reason in errors.items():
            if name in sweep and name not in values and reason == "required":
                continue
            bad(("values", name), reason)
        names = {p.name for p in kind.editable}
        for name, options in sweep.items():
            if name not in names:
                bad(("sweep", name), f"unknown parameter of kind {kind.name!r}")
                continue
            if not options:
                bad(("sweep", name), "expected a non-empty list of values to sweep over")
                continue
            for option in options:
                try:
                    kind.param(name).check(option)
                except ParamError as exc:
                    bad(("sweep", name), f"value {option!r}: {exc}")
    doc.raise_if_any()
    assert isinstance(kind_name, str) and isinstance(target, str)  # else a problem was raised above
    return Preset(name=path.stem, path=path, kind=kind_name, target=target,
                  description=raw.get("description", ""), values=dict(values), sweep=dict(sweep),
                  tables={k: dict(v) for k, v in raw.items() if k not in _PRESET_KEYS and isinstance(v, dict)},
                  max_runs=raw.get("max_runs"),
                  snapshot_balances=raw.get("snapshot_balances", False))


def discover_presets(dirs: Iterable[Path], kinds: dict[str, RunKind]) -> tuple[list[Preset], list[Problem]]:
    """Presets of the given dirs (the first wins on a name clash) and every problem found."""
    found: dict[str, Preset] = {}
    problems: list[Problem] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            if path.stem in found:
                continue
            try:
                found[path.stem] = parse_preset(read_toml_file(path, PresetError), path, kinds)
            except PresetError as exc:
                problems += exc.problems
            except Exception as exc:  # noqa: BLE001 - an unreadable file is a problem, never a crash
                problems.append(Problem(str(path), 1, "(file)", f"{type(exc).__name__}: {exc}"))
    return list(found.values()), problems


_PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def preset_file(directory: Path, name: str) -> Path:
    """The file of a preset called `name` in `directory` (save as). ValueError with the reason
    for a name that is not a plain file name: `../x`, `a/b`, a leading dot, controls, over
    100 characters — a saved preset always lands inside `directory`."""
    from opsconsole.domain.text import visible

    stem = name.strip().removesuffix(".toml")
    if not _PRESET_NAME.fullmatch(stem):
        raise ValueError(f"{visible(name)!r} is not a preset name: use letters, digits, '.', '_' and '-' "
                         "(at most 100, starting with a letter or digit; no '/' or '..')")
    path = directory / f"{stem}.toml"
    if path.resolve().parent != directory.resolve():  # a symlink planted in the directory
        raise ValueError(f"{path} resolves outside {directory}")
    return path


def save_preset(preset: Preset, values: dict[str, Any], path: Path | None = None,
                sweep: dict[str, list[Any]] | None = None) -> Path:
    """Write `values` (and `sweep`, when given) into the preset's tables, keeping every comment,
    the order and the quoting of what did not change. `path` (save as) writes a copy there."""
    text = read_toml_file(preset.path, PresetError)
    doc = tomlkit.parse(text)
    _update_table(doc, "values", values)
    if sweep is not None:
        if sweep or "sweep" in doc:
            _update_table(doc, "sweep", sweep)
        if not sweep and "sweep" in doc:
            del doc["sweep"]
    target = path or preset.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return target


def _update_table(doc: Any, name: str, values: dict[str, Any]) -> None:
    table = doc.get(name)
    if table is None:
        table = tomlkit.table()
        doc[name] = table
    for name, value in values.items():
        if name in table and table[name] == value:
            continue
        new = _toml_value(value)
        if name in table:
            old = table.item(name)
            comment = getattr(old.trivia, "comment", "")
            if comment:
                new.comment(comment.lstrip("# ").rstrip())
        table[name] = new
    for name in [k for k in table if k not in values]:
        del table[name]


def _toml_value(value: Any) -> Any:
    """A list of tables stays an inline array under its key (as presets write config pairs),
    not [[array.of.tables]] moved to the end of the file."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        array = tomlkit.array()
        for entry in value:
            inline = tomlkit.inline_table()
            inline.update(entry)
            array.append(inline)
        return array.multiline(True)
    return tomlkit.item(value)
