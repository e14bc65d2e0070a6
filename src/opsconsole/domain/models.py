"""Plain data shared by backends, services and screens."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opsconsole.domain.states import State


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def config_hash(kind: str, command: list[str], parameters: dict[str, Any]) -> str:
    """A stable fingerprint of what a run does: incremental launches skip a fingerprint that
    already succeeded (seed 002's `--incremental`)."""
    blob = json.dumps({"kind": kind, "command": command, "parameters": parameters}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    """One run to launch: the command line it renders to and the parameters it came from."""

    kind: str
    command: list[str]
    parameters: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    target: str = "local"
    env: dict[str, str] = field(default_factory=dict)
    sweep_point: dict[str, Any] | None = None
    conf: dict[str, Any] | None = None   # what an Airflow target sends as the DAG run's conf
    shell: str | None = None             # the command line as shown to the operator

    @property
    def fingerprint(self) -> str:
        return config_hash(self.kind, self.command, self.parameters)


@dataclass(frozen=True)
class BatchOptions:
    """How the local runner treats a batch of runs (seed 002's experiment-manager options)."""

    parallelism: int = 2
    retries: int = 0
    abort_on_error: bool = False
    incremental: bool = False


@dataclass
class RunRecord:
    """One row of the ledger's runs table."""

    id: int
    kind: str
    preset: str | None
    target: str
    parameters: dict[str, Any]
    command: list[str]
    state: State
    created_at: datetime
    fingerprint: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    pid: int | None = None
    attempt: int = 0
    result_dir: str | None = None
    log_path: str | None = None
    external_id: str | None = None
    error: str | None = None
    sweep_point: dict[str, Any] | None = None

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.ended_at or utcnow()
        return (end - self.started_at).total_seconds()


@dataclass(frozen=True)
class HaltLatch:
    """Set when the kill-switch fires; launches are refused until it is explicitly released."""

    set_at: datetime
    reason: str
    by: str
