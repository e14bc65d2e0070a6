"""Fuzzing the loaders and the log line decoder (hypothesis, fixed seed, bounded examples):
no exception escapes but the documented error types.

- `parse_config` raises only ConfigError; `parse_kind` only KindError; `parse_preset` only
  PresetError (all FileProblems: every problem is file:line: key — reason).
- `decode_for_display` never raises and never returns a raw control/C1/bidi character.
"""

from __future__ import annotations

from pathlib import Path

import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsconsole.backends import registry  # noqa: F401 - installs the backend tables
from opsconsole.config.kinds import KindError, load_kinds, parse_kind
from opsconsole.config.presets import PresetError, parse_preset
from opsconsole.config.settings import ConfigError, parse_config
from opsconsole.domain.text import unsafe_characters, visible
from opsconsole.logs.text import decode_for_display

FUZZ = settings(derandomize=True, max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

_KEYS = st.sampled_from(["default_profile", "profiles", "keys", "local", "airflow", "readonly", "environment",
                         "killswitch", "deadline", "name", "program", "params", "type", "flag", "default",
                         "derive", "template", "choices", "quote", "kind", "target", "values", "sweep",
                         "max_runs", "url", "dags", "x"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                     st.text(max_size=20), st.sampled_from(["{x[5]}", "{0}", "{}", "{name}", "int", "str", "none",
                                                            "airflow", "local", "local-sample", "\x1b]0;x\x07"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(_KEYS, inner, max_size=4)),
                       max_leaves=25)
_DOCS = st.dictionaries(_KEYS, _VALUES, max_size=6)
_TOMLISH = st.text(alphabet=st.sampled_from(list('[]{}="\'#.,\n abc123-_\\\x00\x1b\u202e')), max_size=200)


# Deep nesting (tomllib recurses): arrays and inline tables up to 3,000 deep.
_DEEP = st.tuples(st.integers(0, 3000), st.booleans()).map(
    lambda t: "x = " + ("[" * t[0] + "]" * t[0] if t[1] else "{a = " * t[0] + "1" + "}" * t[0]) + "\n")

_PARAM = st.fixed_dictionaries({"name": st.sampled_from(["x", "y", "out"])}, optional={
    "type": st.sampled_from(["str", "int", "float", "list", "choice", "freq", "literal", "flag"]),
    "flag": st.sampled_from(["--x", "--y"]),
    "default": _SCALARS,
    "quote": st.sampled_from(["auto", "none", "always"]),
    "choices": st.lists(st.text(max_size=3), max_size=3),
    "derive": st.fixed_dictionaries({}, optional={
        "template": st.sampled_from(["{x}", "{x[5]}", "{0}", "{}", "{x.y}", "{x:>>}", "{y!r}", "{", "a}b", "{nope}"]),
        "base": st.sampled_from(["x", "nope"]), "add_seconds": st.sampled_from(["y", "nope"])}),
})
_KIND_DOCS = st.fixed_dictionaries({"name": st.just("k"), "program": st.just(["prog"]),
                                    "params": st.lists(_PARAM, max_size=4)})


def _dump(doc: dict) -> str:
    try:
        return tomlkit.dumps(_clean(doc))
    except Exception:  # noqa: BLE001 - what tomlkit cannot write is fuzzed as raw text instead
        return repr(doc)


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value if v is not None]
    return value


@FUZZ
@given(st.one_of(_DOCS.map(_dump), _TOMLISH, _DEEP))
def test_config_loader_raises_only_config_error(text):
    try:
        parse_config(text, "fuzz.toml")
    except ConfigError as exc:
        assert exc.problems and all(p.line >= 1 for p in exc.problems)


@FUZZ
@given(st.one_of(_KIND_DOCS.map(_dump), _DOCS.map(_dump), _TOMLISH, _DEEP))
def test_kind_loader_raises_only_kind_error(text):
    try:
        kind = parse_kind(text, "fuzz.toml")
    except KindError as exc:
        assert exc.problems
        return
    # a kind that loads validates and renders values without raising but ParamError
    from opsconsole.domain.params import ParamError

    for values in (kind.defaults(), {p.name: "abc" for p in kind.editable}, {}):
        _, errors = kind.validate(values)
        if not errors:
            try:
                kind.render(values)
            except ParamError:
                pass


_KINDS = load_kinds().kinds


@FUZZ
@given(st.one_of(_DOCS.map(_dump), _TOMLISH, _DEEP))
def test_preset_loader_raises_only_preset_error(text):
    try:
        parse_preset(text, Path("fuzz.toml"), _KINDS)
    except PresetError as exc:
        assert exc.problems


@FUZZ
@given(st.binary(max_size=300), st.integers(0, 10**6))
def test_the_log_line_decoder_never_raises_and_shows_no_raw_control(data, cut):
    shown = decode_for_display(data, cut)
    assert unsafe_characters(shown.replace("\t", "")) == []


@FUZZ
@given(st.text(max_size=200))
def test_visible_is_idempotent_and_total(text):
    once = visible(text)
    assert visible(once) == once
    once.encode("utf-8")
