"""Actions are data: what a pane (or the CLI) can do to the outside world, declared by the
backend that owns it and carried out by the one action runner (services/actions.py):
refuse → confirm → run → audit.

An :class:`Action` is the declaration (id, label, keys, policy class) — the same for every
item; its id is also its key binding's id, so it shows in the footer, in `?`, in the command
palette and can be remapped. A source turns it into an :class:`ActionCall` for one selected
item: the concrete confirmation text, the objects it touches (for the audit) and the coroutine
that does it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from opsconsole.domain import policy


@dataclass(frozen=True)
class Action:
    """A declared action. ``policy`` is one of domain.policy's classes (view / change / launch /
    kill); an unknown one is refused by the runner in read-only profiles and while HALTED."""

    id: str            # "airflow.trigger" — also the key binding's id
    label: str         # "Trigger"
    keys: str          # "t" (Textual key names, comma-separated)
    policy: str = policy.CHANGE
    description: str = ""  # one line for the help screen and the palette
    show: bool = True      # in the footer


class ActionUnavailable(LookupError):
    """The action does not apply to what is selected ("select a run first")."""


@dataclass
class ActionCall:
    """One action on concrete objects, ready for the runner.

    ``run(value)`` does it and returns the outcome's one-line detail; ``value`` is what the
    operator typed when ``ask_json`` asked for a JSON object (None otherwise). ``preset``
    (optional) names a preset match — ``{"target": ..., **target table}`` — that, when a
    preset matches, replaces the raw input with the typed Launch form of that preset."""

    action: Action
    title: str                      # "Mark run X failed?"
    body: str                       # what will happen, for the confirmation
    objects: list[str]              # what it touches, for the audit: "dag/run", "run 12"
    run: Callable[[Any], Awaitable[str | None]]
    confirm_label: str = "Confirm"
    confirm: bool = True
    ask_json: Callable[[], Awaitable[dict[str, Any]]] | None = None  # default of the JSON input
    preset: dict[str, Any] | None = None
    # a narrower class for this call (pausing is a change; the declared "pause/unpause" is a launch)
    policy_override: str | None = None
    label: str | None = None  # what the refusal and the audit call it ("unpause"); the action's id otherwise
    # "terminal": True makes run(value) receive an async terminal(argv) -> exit code (app suspended),
    # so the call's own outcome (and audit) is how the session ended (ssh into a host)
    extra: dict[str, Any] = field(default_factory=dict)
    # A one-line input asked before the confirmation (`ask_line` is its prompt, `line_default`
    # the text it starts with): `run` gets the typed line as its value ("command to exec").
    ask_line: str | None = None
    line_default: str = ""
    # Set by `run`: a log reference (logs.ref.LogRef: an exec's output, run-on-all) opened in a
    # log tab after the outcome, even a failed one; an interactive command run in the operator's
    # terminal with the app suspended once the action succeeded (a shell in a pod).
    open_log: Any = None
    interactive: "Interactive | None" = None

    @property
    def policy(self) -> str:
        return self.policy_override or self.action.policy

    @property
    def name(self) -> str:
        return self.label or self.action.label.lower()


@dataclass(frozen=True)
class Interactive:
    """A command that needs the operator's terminal: the UI suspends itself, runs `argv` with
    `env` added to its environment, waits for it to exit and comes back (like `ssh`)."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    title: str = ""


@dataclass(frozen=True)
class ActionOutcome:
    """What the runner did: ``outcome`` is ok, failed, refused or cancelled."""

    call_id: str
    outcome: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"
