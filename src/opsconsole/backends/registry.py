"""The lazy registry: backend names → the packages that implement them.

A backend is enabled for a profile by its table (``[profiles.P.airflow]``; the local runner is
always on) and its package is imported only then, so start-up costs nothing for backends a
profile doesn't use. Packages keep their heavy imports (httpx, boto3, kubernetes...) inside
the functions that need them. Third-party backends register through the
``opsconsole.backends`` entry-point group (``name = "package.module"``) or :func:`register`.

The config layer cannot import backends (layers: ui > services > backends > logs | config > domain), so
this module hands it the backends' table schemas through :func:`config_tables` (installed
with ``config.settings.use_backend_tables`` on import).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opsconsole.config import settings as _settings

if TYPE_CHECKING:
    from opsconsole.backends.base import Backend
    from opsconsole.config.schema import Spec, Table
    from opsconsole.config.settings import Profile

ENTRY_POINTS = "opsconsole.backends"
# Order matters: panes, kill steps and targets follow it.
_BUILTIN: dict[str, str] = {
    "local": "opsconsole.backends.local",
    "airflow": "opsconsole.backends.airflow",
    "ecs": "opsconsole.backends.ecs",
    "kubernetes": "opsconsole.backends.kubernetes",
    "yarn": "opsconsole.backends.yarn",
    "hosts": "opsconsole.backends.ssh",
    "health": "opsconsole.backends.health",
    "exchanges": "opsconsole.backends.exchanges",
}
# URL schemes served by a backend's open_url (`opsconsole tail s3://…`): scheme → backend name.
SCHEMES: dict[str, str] = {
    "s3": "ecs", "cloudwatch": "ecs",
    "ssh": "hosts",
}
_ALWAYS = {"local"}  # built-ins enabled without a table (known without importing them)
# Tables of backends announced by the product but not built yet: refused, never ignored
# (every announced backend has landed; the mechanism stays for the next ones).
NOT_YET: dict[str, str] = {}
# Generic config keys that need a backend: refused as "not supported yet" without it.
KEY_BACKENDS: dict[str, str] = {"killswitch.flatten_positions": "exchanges"}

_modules: dict[str, str] = dict(_BUILTIN)
_loaded: dict[str, "Backend"] = {}
_entry_points_read = False


def register(name: str, module: str) -> None:
    """Make `name` a backend implemented by `module` (which exports ``BACKEND``)."""
    _modules[name] = module
    _loaded.pop(name, None)


def unregister(name: str) -> None:
    if name in _BUILTIN:
        raise ValueError(f"{name}: a built-in backend cannot be unregistered")
    _modules.pop(name, None)
    _loaded.pop(name, None)


def _read_entry_points() -> None:
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    found = _scan_entry_points()
    if found is None:
        from importlib.metadata import entry_points

        found = [(ep.name, ep.value) for ep in entry_points(group=ENTRY_POINTS)]
    for name, value in found:
        _modules.setdefault(name, value.split(":")[0])


def _scan_entry_points() -> list[tuple[str, str]] | None:
    """(name, value) of the ENTRY_POINTS group, read as importlib.metadata reads them (the
    `*.dist-info`/`*.egg-info` directories of sys.path, in order, the first distribution of a
    name winning) without importing it: that import alone costs more than the scan, on the way
    to the first frame. None when importlib.metadata must do it (a zip on sys.path, a custom
    distribution finder)."""
    import os
    import re
    import sys
    from importlib.machinery import PathFinder

    if any(hasattr(f, "find_distributions") and f is not PathFinder for f in sys.meta_path):
        return None
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for entry in sys.path:
        root = entry or "."
        if os.path.isfile(root):
            return None
        try:
            names = os.listdir(root)
        except OSError:
            continue
        dists = [n for n in names if n.lower().endswith(".dist-info")] + \
                [n for n in names if n.lower().endswith(".egg-info")]
        for dist in dists:
            key = re.sub(r"[-_.]+", "_", dist.rpartition(".")[0].partition("-")[0]).lower()
            if key in seen:
                continue
            seen.add(key)
            try:
                with open(os.path.join(root, dist, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            group = None
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith(("#", ";")):
                    continue
                if line.startswith("[") and line.endswith("]"):
                    group = line[1:-1].strip()
                elif group == ENTRY_POINTS and "=" in line:
                    name, _, value = line.partition("=")
                    found.append((name.strip(), value.strip()))
    return found


def names() -> list[str]:
    """Every registered backend, built-ins first."""
    _read_entry_points()
    return list(_modules)


def load(name: str) -> "Backend":
    """The backend object of `name` (its package imported now if it was not)."""
    backend = _loaded.get(name)
    if backend is None:
        module = importlib.import_module(_modules[name])
        backend = getattr(module, "BACKEND")
        if backend.name != name:
            raise ValueError(f"backend module {_modules[name]} declares {backend.name!r}, registered as {name!r}")
        _loaded[name] = backend
    return backend


def backend_for_url(url: str) -> "Backend | None":
    """The backend serving `url`'s scheme ("s3://b/k" → ecs), None for a plain path."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        return None
    return load(SCHEMES[scheme.lower()])


def enabled(profile: "Profile") -> list["Backend"]:
    """The backends a profile uses, in registry order: those whose table the profile has, and
    the always-on ones (the local runner)."""
    return [load(name) for name in names()
            if name in profile.tables or name in _ALWAYS or (name not in _BUILTIN and load(name).always)]


class _LazySpecs(Mapping[str, "Spec"]):
    """name → a backend's table schema, importing a backend's package only when its table is
    looked up (a config that names no Airflow never imports the Airflow package)."""

    def __getitem__(self, name: str) -> "Spec":
        if name not in _modules:
            raise KeyError(name)
        schema = load(name).schema
        if schema is None:
            raise KeyError(name)
        return schema

    def __iter__(self) -> Iterator[str]:
        return iter(names())

    def __len__(self) -> int:
        return len(names())


class _Tables:
    """The backends' table schemas, for the config layer (imports every registered backend's
    package on first use: only `config check` and config parsing need them, and packages are
    light until a session opens)."""

    def profile_tables(self) -> Mapping[str, "Spec"]:
        return _LazySpecs()

    def preset_tables(self) -> Mapping[str, "Table | None"]:
        """Launch targets (a preset's `target`) and the schema of their preset table."""
        return {name: load(name).preset_schema for name in names() if _launches(load(name))}

    def reserved(self) -> Mapping[str, str]:
        return {k: v for k, v in NOT_YET.items() if k not in _modules}

    def key_backend(self, key: str) -> str | None:
        backend = KEY_BACKENDS.get(key)
        return backend if backend is None or backend in _modules or backend in NOT_YET else None

    def default_target(self) -> str:
        """A preset without `target` launches on the always-on backend that launches."""
        return next(n for n in names() if n in _ALWAYS and _launches(load(n)))

    def preset_problems(self, target: str, table: Mapping[str, Any]) -> list[tuple[tuple[object, ...], str]]:
        return load(target).preset_problems(table) if target in _modules else []


def _launches(backend: "Backend") -> bool:
    return backend.preset_schema is not None


def config_tables() -> _Tables:
    return _TABLES


_TABLES = _Tables()
_settings.use_backend_tables(_TABLES)
