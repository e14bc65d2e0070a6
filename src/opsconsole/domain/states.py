"""Unified states: every backend maps its own state names onto these, and every screen
colours them from the one mapping below."""

from __future__ import annotations

from enum import Enum


class State(str, Enum):
    """The states an operator sees, whatever the source (local run, DAG run, ECS task, pod...)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    SKIPPED = "skipped"
    STOPPED = "stopped"
    UNKNOWN = "unknown"

    @property
    def active(self) -> bool:
        """True while the thing may still change by itself (and may need stopping)."""
        return self in (State.QUEUED, State.RUNNING, State.UP_FOR_RETRY)

    @property
    def final(self) -> bool:
        return not self.active


# Rich style strings (no Textual dependency): one place decides how a state looks.
STATE_STYLES: dict[State, str] = {
    State.QUEUED: "grey62",
    State.RUNNING: "bold dodger_blue1",
    State.SUCCESS: "green3",
    State.FAILED: "bold red1",
    State.UP_FOR_RETRY: "gold1",
    State.SKIPPED: "magenta",
    State.STOPPED: "orange3",
    State.UNKNOWN: "dim",
}

# Aliases used by the systems we talk to, folded onto the unified names.
_ALIASES: dict[str, State] = {
    "succeeded": State.SUCCESS,
    "success": State.SUCCESS,
    "completed": State.SUCCESS,
    "complete": State.SUCCESS,
    "finished": State.SUCCESS,
    "running": State.RUNNING,
    "pending": State.QUEUED,
    "scheduled": State.QUEUED,
    "queued": State.QUEUED,
    "deferred": State.QUEUED,
    "provisioning": State.QUEUED,
    "activating": State.QUEUED,
    "restarting": State.UP_FOR_RETRY,
    "up_for_retry": State.UP_FOR_RETRY,
    "up_for_reschedule": State.UP_FOR_RETRY,
    "failed": State.FAILED,
    "error": State.FAILED,
    "upstream_failed": State.FAILED,
    "killed": State.STOPPED,
    "stopped": State.STOPPED,
    "deactivating": State.STOPPED,
    "stopping": State.STOPPED,
    "shutdown": State.STOPPED,  # Airflow 2: a task told to stop
    "removed": State.SKIPPED,
    "skipped": State.SKIPPED,
}


def normalize_state(raw: str | None) -> State:
    """Map a backend's state name (any case) onto a unified :class:`State`."""
    if not raw:
        return State.UNKNOWN
    return _ALIASES.get(str(raw).strip().lower(), State.UNKNOWN)


def state_style(state: State | str) -> str:
    """The Rich style for a state (unified or raw)."""
    if not isinstance(state, State):
        state = normalize_state(state)
    return STATE_STYLES[state]
