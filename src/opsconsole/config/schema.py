"""A tiny declarative schema for opsconsole's TOML: types, ranges, required keys, and unknown
keys as errors (a typo must never silently disable a safety setting)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from opsconsole.domain.text import unsafe_characters, visible

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_KEYS = {"password", "secret", "api_key", "apikey", "token", "secret_key", "private_key",
               "aws_secret_access_key", "aws_access_key_id", "passphrase"}

Problem = tuple[tuple[object, ...], str]


def _controls(text: str) -> list[str]:
    """Control, C1 and bidi characters in a config string (tab and newline are text)."""
    return [ch for ch in unsafe_characters(text) if ch not in "\t\n"]


class Spec:
    def check(self, value: Any, path: tuple[object, ...]) -> Iterator[Problem]:
        raise NotImplementedError


@dataclass
class Str(Spec):
    choices: tuple[str, ...] | None = None
    env_name: bool = False
    nonempty: bool = True

    def check(self, value, path):
        if not isinstance(value, str):
            yield path, f"expected a string, got {type(value).__name__}"
        elif self.nonempty and not value.strip():
            yield path, "must not be empty"
        elif _controls(value):
            bad = _controls(value)[0]
            yield path, f"control character U+{ord(bad):04X} ({visible(bad)}) is not allowed"
        elif self.choices and value not in self.choices:
            yield path, f"must be one of {', '.join(self.choices)} (got {value!r})"
        elif self.env_name and not ENV_NAME.match(value):
            yield path, f"must name an environment variable (letters, digits, _), got {value!r}"


@dataclass
class Url(Str):
    """An http(s) URL without credentials in it (user:password@host would put a secret in the
    config, and then on screens and in the audit log)."""

    def check(self, value, path):
        problems = list(super().check(value, path))
        if problems:
            yield from problems
            return
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            yield path, f"expected an http:// or https:// URL, got {value!r}"
        elif "@" in parts.netloc:
            yield path, ("must not carry credentials (user:password@): name environment variables "
                         "for them instead")


@dataclass
class Bool(Spec):
    def check(self, value, path):
        if not isinstance(value, bool):
            yield path, f"expected true or false, got {value!r}"


@dataclass
class Num(Spec):
    integer: bool = False
    min: float | None = None
    max: float | None = None

    def check(self, value, path):
        ok_types = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            yield path, f"expected {'an integer' if self.integer else 'a number'}, got {value!r}"
            return
        if isinstance(value, float) and not math.isfinite(value):  # nan passes every comparison
            yield path, f"must be a finite number (got {value})"
            return
        if self.min is not None and value < self.min:
            yield path, f"must be >= {self.min:g} (got {value})"
        if self.max is not None and value > self.max:
            yield path, f"must be <= {self.max:g} (got {value})"


@dataclass
class List(Spec):
    of: Spec

    def check(self, value, path):
        if not isinstance(value, list):
            yield path, f"expected a list, got {type(value).__name__}"
            return
        for i, item in enumerate(value):
            yield from self.of.check(item, (*path, i))


@dataclass
class Table(Spec):
    fields: Mapping[str, Spec]
    required: tuple[str, ...] = ()
    what: str = "table"

    def check(self, value, path):
        if not isinstance(value, dict):
            yield path, f"expected a {self.what}, got {type(value).__name__}"
            return
        for key in self.required:
            if key not in value:
                yield path, f"missing required key {key!r}"
        for key, item in value.items():
            spec = self.fields.get(key)
            if spec is None:
                if key.lower() in SECRET_KEYS:
                    yield (*path, key), ("looks like a secret: opsconsole never keeps secrets in its "
                                         f"config; name an environment variable with {key}_env instead")
                else:
                    known = ", ".join(sorted(self.fields)) or "none"
                    yield (*path, key), f"unknown key (known keys here: {known})"
                continue
            yield from spec.check(item, (*path, key))


@dataclass
class ArrayOf(Spec):
    of: Table
    unique: str | None = None

    def check(self, value, path):
        if not isinstance(value, list):
            yield path, f"expected an array of tables ([[...]]), got {type(value).__name__}"
            return
        seen: set[Any] = set()
        for i, item in enumerate(value):
            yield from self.of.check(item, (*path, i))
            if self.unique and isinstance(item, dict) and self.unique in item:
                if item[self.unique] in seen:
                    yield (*path, i, self.unique), f"duplicate {self.unique} {item[self.unique]!r}"
                seen.add(item[self.unique])


@dataclass
class MapOf(Spec):
    of: Spec
    key_pattern: re.Pattern[str] = field(default_factory=lambda: re.compile(r"^[A-Za-z0-9_.-]+$"))

    def check(self, value, path):
        if not isinstance(value, dict):
            yield path, f"expected a table, got {type(value).__name__}"
            return
        for key, item in value.items():
            if not self.key_pattern.match(key):
                yield (*path, key), "names may use letters, digits, '_', '-' and '.'"
            yield from self.of.check(item, (*path, key))


@dataclass
class HealthRule(Spec):
    """A health rule over Prometheus metrics ("risk_circuit_breaker_active == 0"; domain/health.py)."""

    def check(self, value, path):
        from opsconsole.domain.health import parse_rule

        if not isinstance(value, str):
            yield path, f"expected a rule string like 'risk_circuit_breaker_active == 0', got {value!r}"
            return
        try:
            parse_rule(value)
        except ValueError as exc:
            yield path, str(exc)


@dataclass
class AnyValue(Spec):
    """Any TOML value (checked elsewhere, e.g. against a parameter's type)."""

    def check(self, value, path):
        return iter(())
