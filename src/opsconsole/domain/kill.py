"""A kill-switch step as data: backends declare them, the engine (services/killswitch.py) runs
them all at once, each under its own deadline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class KillStep:
    """One thing to stop. ``action`` returns a detail string and raises on failure."""

    name: str
    kind: str
    description: str
    action: Callable[..., Awaitable[str | None]]
    deadline: float = 30.0
    enabled: bool = True
    retries: int = 0  # a step that raises is tried again (within the same deadline)
    retry_delay: float = 0.5
    # the action takes `progress=callable(detail)`: calling it shows the step as "stopping"
    # (acted, waiting for confirmation) until it returns
    reports_progress: bool = False
