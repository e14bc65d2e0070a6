"""Settings: the TOML config file, its profiles, and the built-in `local` profile.

The config names secrets (environment variables, AWS profiles, kube contexts, SSH keys) and
never holds them. Every problem is reported as file:line: key — reason."""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

from opsconsole.config import paths
from opsconsole.config.schema import Bool, List, MapOf, Num, Spec, Str, Table, Url
from opsconsole.config.toml_lines import CheckedToml, FileProblems, read_toml_file
from opsconsole.domain.problems import Problem

LOCAL = "local"
PRODUCTION_LABELS = {"PROD", "PRODUCTION", "LIVE"}

@dataclass
class _NeedsBackend(Spec):
    """A key that only means something with a backend (the registry's KEY_BACKENDS says which):
    refused as "not supported yet" while that backend is only announced or absent, accepted
    (checked by ``then``) once it registers."""

    key: str  # "killswitch.flatten_positions"
    then: Spec

    def check(self, value, path):
        backend = backend_tables().key_backend(self.key)
        if backend is None or backend in backend_tables().reserved():
            yield path, (f"not supported yet: needs the {backend or 'matching'} backend, which has not landed; "
                         "remove the key (it would be ignored)")
            return
        yield from self.then.check(value, path)


_DURATION = Num(min=0.1, max=3600)
_KILLSWITCH = Table({
    "confirm": Bool(),
    "flatten_positions": _NeedsBackend("killswitch.flatten_positions", Bool()),
    "deadline": _DURATION,
    # per step kind (a backend's step kind, "breaker", "alert"...): that step's deadline
    "deadlines": MapOf(_DURATION),
    "local": Bool(),
    "circuit_breaker": Table({"method": Str(choices=("GET", "POST", "PUT", "DELETE")), "url": Url(),
                              "token_env": Str(env_name=True), "expect_status": List(Num(integer=True, min=100, max=599)),
                              "deadline": _DURATION}, required=("url",)),
    "alert_webhook": Url(),
})
# The generic keys of a profile; each backend adds its own table (declared in its package and
# handed over by backends/registry.py: this layer cannot import backends).
_PROFILE_KEYS: dict[str, Spec] = {
    "environment": Str(),
    "readonly": Bool(),
    "production": Bool(),
    "theme": Str(),
    "killswitch": _KILLSWITCH,
}


class BackendTables(Protocol):
    """What the config layer needs to know of the registered backends."""

    def profile_tables(self) -> Mapping[str, Spec]: ...

    def preset_tables(self) -> Mapping[str, Table | None]: ...

    def reserved(self) -> Mapping[str, str]: ...

    def key_backend(self, key: str) -> str | None:
        """The backend a generic config key needs ("killswitch.flatten_positions" → its backend)."""
        ...

    def default_target(self) -> str: ...

    def preset_problems(self, target: str, table: Mapping[str, Any]) -> list[tuple[tuple[object, ...], str]]: ...


_BACKEND_TABLES: BackendTables | None = None


def use_backend_tables(tables: BackendTables) -> None:
    """Installed by backends/registry.py when it is imported."""
    global _BACKEND_TABLES
    _BACKEND_TABLES = tables


def backend_tables() -> BackendTables:
    if _BACKEND_TABLES is None:
        raise RuntimeError("no backend registry: import opsconsole.backends.registry before parsing a config")
    return _BACKEND_TABLES


@dataclass
class _Reserved(Spec):
    reason: str

    def check(self, value, path):
        yield path, self.reason


def _root_schema() -> Table:
    tables = backend_tables()
    reserved: dict[str, Spec] = {name: _Reserved(reason) for name, reason in tables.reserved().items()}
    # a lazy view: a backend's schema is looked up (its package imported) only for its table
    fields = ChainMap(_PROFILE_KEYS, tables.profile_tables(), reserved)  # type: ignore[arg-type]
    profile = Table(fields, what="profile table")
    return Table({"default_profile": Str(), "profiles": MapOf(profile), "keys": MapOf(Str())})


class ConfigError(FileProblems):
    """A config that must not be used: it lists every problem, not just the first."""


@dataclass(frozen=True)
class KillSwitchSettings:
    confirm: bool = True
    flatten_positions: bool = False
    deadline: float = 30.0
    local: bool = True
    circuit_breaker: dict[str, Any] | None = None
    alert_webhook: str | None = None
    deadlines: dict[str, float] | None = None  # per step kind


@dataclass(frozen=True)
class Profile:
    """One environment an operator works on (local, preprod, prod...)."""

    name: str
    environment: str = "LOCAL"
    readonly: bool = False
    production: bool = False
    theme: str = "opsconsole"
    killswitch: KillSwitchSettings = field(default_factory=KillSwitchSettings)
    # the backends' tables, as checked by their schemas: {"<backend>": {...} or [{...}, ...]}
    tables: Mapping[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> Any:
        """A backend's table, or None when the profile does not use that backend."""
        return self.tables.get(name)


@dataclass(frozen=True)
class Config:
    path: Path | None
    default_profile: str
    profiles: dict[str, Profile]
    keys: dict[str, str] = field(default_factory=dict)

    def profile(self, name: str | None = None) -> Profile:
        """The named profile, or the default one; a clear error names the known ones."""
        name = name or self.default_profile
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            where = str(self.path) if self.path else "the built-in config"
            raise ConfigError([Problem(where, 1, "--profile", f"no profile {name!r} (known: {known})")]) from None


def builtin_config() -> Config:
    """No config file at all: the `local` profile, which works out of the box."""
    return Config(path=None, default_profile=LOCAL, profiles={LOCAL: Profile(name=LOCAL)})


def _profile(name: str, raw: dict[str, Any]) -> Profile:
    env = raw.get("environment", name.upper())
    return Profile(
        name=name,
        environment=env,
        readonly=raw.get("readonly", False),
        production=raw.get("production", env.upper() in PRODUCTION_LABELS),
        theme=raw.get("theme", "opsconsole"),
        killswitch=KillSwitchSettings(**raw.get("killswitch", {})),
        tables={k: v for k, v in raw.items() if k not in _PROFILE_KEYS},
    )


KeyCheck = Callable[[Mapping[str, str]], "list[tuple[str, str]]"]


def parse_config(text: str, source: str, known_binding_ids: Iterable[str] | None = None,
                 check_keys: KeyCheck | None = None) -> Config:
    """Parse and validate config text; raise ConfigError listing every problem. `check_keys`
    (the UI's key registry) returns (binding id, reason) for each bad remap of `[keys]`."""
    doc = CheckedToml(text, source, ConfigError)
    raw = doc.raw
    for path, message in _root_schema().check(raw, ()):
        doc.bad(path, message)
    remaps = raw.get("keys", {}) if isinstance(raw.get("keys"), dict) else {}
    if check_keys is not None:
        for key, reason in check_keys({k: v for k, v in remaps.items() if isinstance(v, str)}):
            doc.bad(("keys", key), reason)
    elif known_binding_ids is not None:
        ids = set(known_binding_ids)
        for key in remaps:
            if key not in ids:
                doc.bad(("keys", key), "no key binding with this id (see `?` in the app or docs/configuration.md)")
    profiles_raw = raw.get("profiles", {}) if isinstance(raw.get("profiles"), dict) else {}
    default = raw.get("default_profile", LOCAL if LOCAL in profiles_raw or not profiles_raw else next(iter(profiles_raw)))
    if isinstance(default, str) and default != LOCAL and default not in profiles_raw:
        doc.bad(("default_profile",), f"no profile {default!r} (known: {', '.join(sorted(profiles_raw)) or 'none'})")
    doc.raise_if_any()
    profiles = {LOCAL: Profile(name=LOCAL)}
    profiles.update({name: _profile(name, body) for name, body in profiles_raw.items()})
    return Config(path=Path(source), default_profile=default, profiles=profiles, keys=dict(raw.get("keys", {})))


def load_config(path: Path | None = None, known_binding_ids: Iterable[str] | None = None,
                check_keys: KeyCheck | None = None) -> Config:
    """Load `path` (must exist), or the XDG config if present, or the built-in config."""
    if path is None:
        path = paths.default_config_path()
        if not path.exists():
            return builtin_config()
    text = read_toml_file(path, ConfigError)  # size-limited, regular files only
    return parse_config(text, str(path), known_binding_ids, check_keys)
