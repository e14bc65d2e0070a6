"""ECS tasks as opsconsole sees them: the unified state, the exit code, the pane's cells."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsconsole.domain.states import State

ACTIVE_STATUSES = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING")
USER_STOP_CODES = ("UserInitiated", "ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice")
STOP_REASON_PREFIX = "opsconsole"


def task_id(arn: str) -> str:
    """The task id, the last part of its ARN."""
    return arn.rsplit("/", 1)[-1]


def family_of(task_definition_arn: str) -> tuple[str, str]:
    """(family, revision) of a task definition ARN (or `family:rev`)."""
    name = task_definition_arn.rsplit("/", 1)[-1]
    family, _, revision = name.rpartition(":")
    return (family, revision) if family else (name, "")


def _dt(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


@dataclass
class EcsTask:
    raw: dict[str, Any]

    @property
    def arn(self) -> str:
        return str(self.raw.get("taskArn", ""))

    @property
    def id(self) -> str:
        return task_id(self.arn)

    @property
    def family(self) -> str:
        return family_of(str(self.raw.get("taskDefinitionArn", "")))[0]

    @property
    def revision(self) -> str:
        return family_of(str(self.raw.get("taskDefinitionArn", "")))[1]

    @property
    def last_status(self) -> str:
        return str(self.raw.get("lastStatus") or "")

    @property
    def desired_status(self) -> str:
        return str(self.raw.get("desiredStatus") or "")

    @property
    def stopped(self) -> bool:
        return self.last_status == "STOPPED"

    @property
    def tags(self) -> dict[str, str]:
        return {str(t.get("key")): str(t.get("value", "")) for t in self.raw.get("tags") or []}

    @property
    def containers(self) -> list[dict[str, Any]]:
        return list(self.raw.get("containers") or [])

    @property
    def exit_codes(self) -> list[int | None]:
        return [c.get("exitCode") for c in self.containers]

    @property
    def exit_code(self) -> int | None:
        """The task's exit code once STOPPED: the first non-zero container exit code, else 0 if
        every container exited, else None (never started, killed before an exit)."""
        if not self.stopped:
            return None
        codes = self.exit_codes
        for code in codes:
            if code not in (None, 0):
                return int(code)
        return 0 if codes and all(c == 0 for c in codes) else None

    @property
    def stopped_reason(self) -> str:
        return str(self.raw.get("stoppedReason") or "")

    @property
    def state(self) -> State:
        status = self.last_status
        if status in ("PROVISIONING", "PENDING", "ACTIVATING"):
            return State.QUEUED
        if status != "STOPPED":
            return State.RUNNING if status else State.UNKNOWN
        if self.raw.get("stopCode") in USER_STOP_CODES or self.stopped_reason.startswith(STOP_REASON_PREFIX):
            return State.STOPPED
        code = self.exit_code
        if code == 0:
            return State.SUCCESS
        return State.FAILED

    @property
    def started_at(self) -> datetime | None:
        return _dt(self.raw.get("startedAt")) or _dt(self.raw.get("createdAt"))

    @property
    def stopped_at(self) -> datetime | None:
        return _dt(self.raw.get("stoppedAt")) or _dt(self.raw.get("executionStoppedAt"))

    def cells(self) -> dict[str, Any]:
        codes = ",".join("-" if c is None else str(c) for c in self.exit_codes) if self.stopped else ""
        cpu, memory = self.raw.get("cpu") or "", self.raw.get("memory") or ""
        if not cpu and not memory and self.containers:
            cpu = str(sum(int(c.get("cpu") or 0) for c in self.containers) or "")
            memory = str(sum(int(c.get("memory") or 0) for c in self.containers) or "")
        tags = " ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        started = self.started_at
        return {
            "task": self.id[:12], "family": self.family, "rev": self.revision,
            "state": self.last_status.lower() or "?", "desired": self.desired_status.lower(),
            "started": started.strftime("%Y-%m-%d %H:%M:%S") if started else "",
            "reason": self.stopped_reason, "exit": codes, "cpu_mem": f"{cpu}/{memory}" if cpu or memory else "",
            "tags": tags, "started_by": str(self.raw.get("startedBy") or ""),
        }
