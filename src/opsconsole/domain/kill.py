"""A kill-switch step as data: backends declare them, the engine (services/killswitch.py) runs
them phase by phase — every step of a phase at once, each under its own deadline.

The contract a backend writes to:

* :class:`KillStep` — one thing to stop, in one of the :data:`PHASES`. Its ``action`` is a
  coroutine function taking a :class:`StepLog`; it returns a short detail (or None) and raises
  on failure. It never touches the ledger: recording is the engine's job, after the fact.
* :class:`StepLog` — what the action reports while it works: ``progress(detail)`` (the step
  shows "stopping": acted, waiting for confirmation) and one :class:`KillObject` per thing it
  touched (a run, a DAG run, a task, a pod, an order, a service) with its state:
  acted → confirmed, or not confirmed / failed with the reason.
* ``targets`` (optional) — a quick, bounded listing of what the step *would* stop, for the
  kill-switch modal and ``kill --dry-run``. It must not act.

A step whose action returns but whose log holds a failed object ends ``failed``; one with
objects acted on but not confirmed ends ``unknown``. :meth:`StepLog.verdict` is that rule.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# The kill-switch's phases, in the order they run. A phase starts when the previous one has
# ended or passed its deadline; steps inside a phase run concurrently.
BREAKER, HALT, STOP, FLATTEN, ALERT = "breaker", "halt", "stop", "flatten", "alert"
PHASES: tuple[str, ...] = (BREAKER, HALT, STOP, FLATTEN, ALERT)
PHASE_TITLES: dict[str, str] = {
    BREAKER: "circuit breaker",
    HALT: "stop launches · cancel orders",
    STOP: "stop runs · tasks · pods · services",
    FLATTEN: "flatten positions",
    ALERT: "alert",
}

# What happened to one object a step touched.
PENDING_OBJECT = "pending"  # listed (a target), not acted on yet
ACTED = "acted"  # the stop was sent, not (yet) confirmed
CONFIRMED = "confirmed"  # seen stopped
NOT_CONFIRMED = "not confirmed"  # acted on, never seen stopped within the deadline
FAILED_OBJECT = "failed"  # the stop itself failed
OBJECT_STATES = (PENDING_OBJECT, ACTED, CONFIRMED, NOT_CONFIRMED, FAILED_OBJECT)


@dataclass
class KillObject:
    """One thing a step stops: ``kind`` as an operator says it ("local run", "dag run", "task",
    "pod", "ecs task", "yarn app", "service", "order"), ``ident`` in full (never cut)."""

    kind: str
    ident: str
    state: str = PENDING_OBJECT
    reason: str = ""
    changed: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.ident, "state": self.state, "reason": self.reason}


class StepLog:
    """Given to a step's action: it reports progress and the objects it touches. ``on_change``
    (the engine's) is called after every report; it must not raise into the action."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._objects: dict[tuple[str, str], KillObject] = {}
        self.detail = ""
        self.stopping = False  # progress() was called: acted, waiting for confirmation
        self._on_change = on_change
        # Given by the engine to the steps of the alert phase: the kill so far as plain data
        # (kill id, profile, latch, every earlier step with its objects), e.g. for a webhook.
        self.outcome: dict[str, Any] | None = None

    # -- reporting ---------------------------------------------------------------------------
    def progress(self, detail: str) -> None:
        self.detail, self.stopping = detail, True
        self._changed()

    def object(self, kind: str, ident: str, state: str, reason: str = "") -> KillObject:
        if state not in OBJECT_STATES:
            raise ValueError(f"unknown kill object state {state!r}")
        key = (kind, ident)
        obj = self._objects.get(key)
        if obj is None:
            obj = self._objects[key] = KillObject(kind, ident, state, reason)
        else:
            obj.state, obj.reason, obj.changed = state, reason or obj.reason, time.monotonic()
        self._changed()
        return obj

    def acted(self, kind: str, ident: str, reason: str = "") -> KillObject:
        return self.object(kind, ident, ACTED, reason)

    def confirmed(self, kind: str, ident: str, reason: str = "") -> KillObject:
        return self.object(kind, ident, CONFIRMED, reason)

    def not_confirmed(self, kind: str, ident: str, reason: str = "") -> KillObject:
        return self.object(kind, ident, NOT_CONFIRMED, reason)

    def failed(self, kind: str, ident: str, reason: str = "") -> KillObject:
        return self.object(kind, ident, FAILED_OBJECT, reason)

    # -- reading -----------------------------------------------------------------------------
    @property
    def objects(self) -> list[KillObject]:
        return list(self._objects.values())

    def unfinished(self) -> list[KillObject]:
        """Objects acted on (or listed) but neither confirmed nor failed: at a deadline the
        engine marks them not confirmed."""
        return [o for o in self._objects.values() if o.state in (PENDING_OBJECT, ACTED)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self._objects.values():
            out[o.state] = out.get(o.state, 0) + 1
        return out

    def summary(self) -> str:
        """"3 confirmed, 1 failed" in OBJECT_STATES order; "" without objects."""
        counts = self.counts()
        return ", ".join(f"{counts[s]} {s}" for s in OBJECT_STATES if counts.get(s))

    def verdict(self) -> str | None:
        """The outcome the objects impose on a step whose action returned: "failed" if one
        failed, "unknown" if one was acted on but not confirmed, else None (the step is ok)."""
        states = {o.state for o in self._objects.values()}
        if FAILED_OBJECT in states:
            return "failed"
        if states & {NOT_CONFIRMED, ACTED, PENDING_OBJECT}:
            return "unknown"
        return None

    def _changed(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:  # the UI's trouble must never stop a kill
                pass


@dataclass
class KillStep:
    """One thing to stop. ``action(log)`` returns a detail string and raises on failure."""

    name: str
    kind: str
    description: str
    action: Callable[[StepLog], Awaitable[str | None]]
    deadline: float = 30.0
    enabled: bool = True
    retries: int = 0  # a step that raises is tried again (within the same deadline)
    retry_delay: float = 0.5
    phase: str = STOP
    # What the step would stop, listed quickly and boundedly for the modal and --dry-run.
    targets: Callable[[], Awaitable[list[KillObject]]] | None = None
    # Optional, blocking: write what the step did into the run store (mark runs stopped). The
    # engine calls it after the step ended, off the critical path, in a worker thread ("stop
    # first, write later"); an exception is shown as a recording failure, never a step failure.
    record: Callable[[StepLog], None] | None = None

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"kill step {self.name!r}: unknown phase {self.phase!r} (one of {', '.join(PHASES)})")
