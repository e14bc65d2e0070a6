"""Settings: the TOML config file, its profiles, and the built-in `local` profile.

The config names secrets (environment variables, AWS profiles, kube contexts, SSH keys) and
never holds them. Every problem is reported as file:line: key — reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from opsconsole.config import paths
from opsconsole.config.schema import ArrayOf, Bool, List, MapOf, Num, Str, Table, Url
from opsconsole.config.toml_lines import CheckedToml, FileProblems
from opsconsole.domain.problems import Problem

LOCAL = "local"
PRODUCTION_LABELS = {"PROD", "PRODUCTION", "LIVE"}

LOCAL_SCHEMA = _LOCAL = Table({
    "parallelism": Num(integer=True, min=1, max=256),
    "retries": Num(integer=True, min=0, max=100),
    "abort_on_error": Bool(),
    "incremental": Bool(),
    "grace": Num(min=0, max=600),
})
_AIRFLOW = Table({
    "url": Url(),
    "username_env": Str(env_name=True),
    "password_env": Str(env_name=True),
    "dags": List(Str()),
    "tags": List(Str()),
    "verify_tls": Bool(),
    "timeout": Num(min=0.1, max=600),
    "poll_interval": Num(min=0.5, max=3600),
}, required=("url",))
_ECS = Table({
    "aws_profile": Str(),
    "region": Str(),
    "cluster": Str(),
    "log_group": Str(),
    "endpoint_url": Url(),
}, required=("cluster",))
_KUBERNETES = Table({
    "context": Str(),
    "kubeconfig": Str(),
    "namespaces": List(Str()),
    "yarn": Table({"namespace": Str(), "deployment": Str(), "container": Str()}, required=("namespace", "deployment")),
})
_HOST = Table({
    "name": Str(),
    "hostname": Str(),
    "user": Str(),
    "port": Num(integer=True, min=1, max=65535),
    "identity_file": Str(),
    "services": List(Str()),
    "logs": List(Str()),
    "metrics": Url(),
    "service_manager": Str(choices=("systemd", "docker", "custom")),
}, required=("name",))
_EXCHANGE = Table({
    "name": Str(),
    "ccxt": Str(),
    "api_key_env": Str(env_name=True),
    "secret_env": Str(env_name=True),
    "password_env": Str(env_name=True),
    "quote": Str(),
    "sandbox": Bool(),
}, required=("name", "ccxt"))
_KILLSWITCH = Table({
    "confirm": Bool(),
    "flatten_positions": Bool(),
    "deadline": Num(min=0.1, max=3600),
    "local": Bool(),
    "circuit_breaker": Table({"method": Str(choices=("GET", "POST", "PUT", "DELETE")), "url": Url(),
                              "token_env": Str(env_name=True)}, required=("url",)),
    "alert_webhook": Url(),
})
_PROFILE = Table({
    "environment": Str(),
    "readonly": Bool(),
    "production": Bool(),
    "theme": Str(),
    "local": _LOCAL,
    "airflow": _AIRFLOW,
    "ecs": _ECS,
    "kubernetes": _KUBERNETES,
    "hosts": ArrayOf(_HOST, unique="name"),
    "exchanges": ArrayOf(_EXCHANGE, unique="name"),
    "killswitch": _KILLSWITCH,
}, what="profile table")
_ROOT = Table({
    "default_profile": Str(),
    "profiles": MapOf(_PROFILE),
    "keys": MapOf(Str()),
})


class ConfigError(FileProblems):
    """A config that must not be used: it lists every problem, not just the first."""


@dataclass(frozen=True)
class LocalSettings:
    parallelism: int = 2
    retries: int = 0
    abort_on_error: bool = False
    incremental: bool = False
    grace: float = 5.0


@dataclass(frozen=True)
class KillSwitchSettings:
    confirm: bool = True
    flatten_positions: bool = False
    deadline: float = 30.0
    local: bool = True
    circuit_breaker: dict[str, Any] | None = None
    alert_webhook: str | None = None


@dataclass(frozen=True)
class Profile:
    """One environment an operator works on (local, preprod, prod...)."""

    name: str
    environment: str = "LOCAL"
    readonly: bool = False
    production: bool = False
    theme: str = "opsconsole"
    local: LocalSettings = field(default_factory=LocalSettings)
    killswitch: KillSwitchSettings = field(default_factory=KillSwitchSettings)
    airflow: dict[str, Any] | None = None
    ecs: dict[str, Any] | None = None
    kubernetes: dict[str, Any] | None = None
    hosts: tuple[dict[str, Any], ...] = ()
    exchanges: tuple[dict[str, Any], ...] = ()


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
        local=LocalSettings(**raw.get("local", {})),
        killswitch=KillSwitchSettings(**raw.get("killswitch", {})),
        airflow=raw.get("airflow"),
        ecs=raw.get("ecs"),
        kubernetes=raw.get("kubernetes"),
        hosts=tuple(raw.get("hosts", ())),
        exchanges=tuple(raw.get("exchanges", ())),
    )


def parse_config(text: str, source: str, known_binding_ids: Iterable[str] | None = None) -> Config:
    """Parse and validate config text; raise ConfigError listing every problem."""
    doc = CheckedToml(text, source, ConfigError)
    raw = doc.raw
    for path, message in _ROOT.check(raw, ()):
        doc.bad(path, message)
    if known_binding_ids is not None:
        ids = set(known_binding_ids)
        for key in raw.get("keys", {}) if isinstance(raw.get("keys"), dict) else {}:
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


def load_config(path: Path | None = None, known_binding_ids: Iterable[str] | None = None) -> Config:
    """Load `path` (must exist), or the XDG config if present, or the built-in config."""
    if path is None:
        path = paths.default_config_path()
        if not path.exists():
            return builtin_config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), 1, "(file)", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), 1, "(file)", f"not UTF-8 text: {exc}")]) from None
    return parse_config(text, str(path), known_binding_ids)
