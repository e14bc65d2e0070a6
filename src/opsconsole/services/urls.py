"""Log URLs (`opsconsole tail s3://bucket/key`, `ssh://host/path`): which backend serves a
scheme, and with which of the profile's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsconsole.backends import registry

if TYPE_CHECKING:
    from opsconsole.config.settings import Profile
    from opsconsole.logs.ref import LogRef


def is_url(arg: str) -> bool:
    return "://" in arg and not arg.startswith("file://")


def open_url(url: str, profile: "Profile | None") -> "LogRef":
    """The log reference for `url`; ValueError (a message for the operator) when no backend
    serves its scheme or the backend refuses it."""
    backend = registry.backend_for_url(url)
    if backend is None:
        scheme = url.partition("://")[0]
        known = ", ".join(sorted(registry.SCHEMES)) or "none yet"
        raise ValueError(f"{url}: no backend reads {scheme}:// URLs (known: {known})")
    table = profile.tables.get(backend.name) if profile is not None else None
    settings = backend.settings(table) if table is not None else None
    return backend.open_url(url, settings)
