"""Airflow objects as opsconsole sees them, normalised from the v1 (Airflow 2) and v2 (Airflow 3)
REST shapes onto one set of dataclasses and the unified states. Pure: no HTTP here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opsconsole.domain.states import State, normalize_state


def parse_time(value: Any) -> datetime | None:
    """An Airflow timestamp (ISO 8601, `Z` or offset) as an aware UTC datetime, or None."""
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def airflow_state(raw: str | None) -> State:
    """Airflow's state names onto the unified ones (a TI with no state yet is queued work)."""
    if raw in (None, "", "none", "no_status"):
        return State.QUEUED
    return normalize_state(raw)


@dataclass(frozen=True)
class AirflowDag:
    dag_id: str
    is_paused: bool
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    schedule: str | None = None
    next_run: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> "AirflowDag":
        tags = tuple(t["name"] if isinstance(t, dict) else str(t) for t in d.get("tags") or ())
        schedule = d.get("timetable_summary")
        if schedule is None:  # v1: schedule_interval is an object {"__type", "value"}
            si = d.get("schedule_interval")
            schedule = si.get("value") if isinstance(si, dict) else si
        next_run = parse_time(d.get("next_dagrun_run_after") or d.get("next_dagrun_create_after")
                              or d.get("next_dagrun_logical_date") or d.get("next_dagrun"))
        return cls(dag_id=d["dag_id"], is_paused=bool(d.get("is_paused")), tags=tags,
                   owners=tuple(d.get("owners") or ()), schedule=schedule, next_run=next_run,
                   params=d.get("params") or {}, raw=d)


@dataclass(frozen=True)
class AirflowRun:
    dag_id: str
    run_id: str
    state: State
    raw_state: str | None
    run_type: str | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    logical_date: datetime | None = None
    queued_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> "AirflowRun":
        raw_state = d.get("state")
        return cls(dag_id=d["dag_id"], run_id=d["dag_run_id"], state=airflow_state(raw_state), raw_state=raw_state,
                   run_type=d.get("run_type"), conf=d.get("conf") or {},
                   logical_date=parse_time(d.get("logical_date") or d.get("execution_date") or d.get("run_after")),
                   queued_at=parse_time(d.get("queued_at")), start_date=parse_time(d.get("start_date")),
                   end_date=parse_time(d.get("end_date")), raw=d)

    @property
    def conf_summary(self) -> str:
        """`k=v k=v` of the conf, JSON-compact for nested values (the runs table's CONF column)."""
        parts = []
        for key, value in self.conf.items():
            text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
            parts.append(f"{key}={text}")
        return " ".join(parts)


@dataclass(frozen=True)
class AirflowTaskInstance:
    """One try of one task instance (`try_number` is the try this row describes)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    state: State
    raw_state: str | None
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    hostname: str | None = None
    operator: str | None = None
    pid: int | None = None
    latest: bool = True  # False for an earlier try (from the tries history)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: dict[str, Any], latest: bool = True) -> "AirflowTaskInstance":
        raw_state = d.get("state")
        map_index = d.get("map_index")
        return cls(dag_id=d["dag_id"], run_id=d.get("dag_run_id") or d.get("run_id") or "", task_id=d["task_id"],
                   map_index=-1 if map_index is None else int(map_index), try_number=int(d.get("try_number") or 0),
                   state=airflow_state(raw_state), raw_state=raw_state, start_date=parse_time(d.get("start_date")),
                   end_date=parse_time(d.get("end_date")), duration=d.get("duration"),
                   hostname=d.get("hostname") or None,
                   operator=d.get("operator") or d.get("operator_name"), pid=d.get("pid"), latest=latest, raw=d)

    @property
    def label(self) -> str:
        """`task`, `task[3]` for a mapped index."""
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"

    @property
    def key(self) -> str:
        """Unique per try within a run: `task[3]#2`."""
        return f"{self.label}#{self.try_number}"


@dataclass(frozen=True)
class LogChunk:
    """One poll of a running task's log: the new text and where to continue (None: the end)."""

    text: str
    token: str | None
    lines: int


def topological_order(tasks: list[tuple[str, Any]]) -> list[str]:
    """Task ids upstream first, from `(task_id, downstream ids)` pairs: the order the DAG's
    edges give (Kahn's algorithm; tasks ready together keep the order they came in). A cycle or
    an unknown id never loses a task: what is left is appended in the order it came."""
    ids = [task_id for task_id, _ in tasks]
    known = set(ids)
    down = {task_id: [d for d in downstream if d in known] for task_id, downstream in tasks}
    waiting = dict.fromkeys(ids, 0)
    for targets in down.values():
        for d in targets:
            waiting[d] += 1
    ready = [t for t in ids if not waiting[t]]
    order: list[str] = []
    while ready:
        task_id = ready.pop(0)
        order.append(task_id)
        for d in down[task_id]:
            waiting[d] -= 1
            if not waiting[d]:
                ready.append(d)
    placed = set(order)
    return order + [t for t in ids if t not in placed]


def render_structured(msg: dict[str, Any]) -> str:
    """An Airflow 3 structured log message as one text line: `timestamp level logger event`
    (then any extra fields as key=value), the way an operator reads a log."""
    event = msg.get("event", "")
    if not isinstance(event, str):
        event = json.dumps(event, default=str)
    ts = msg.get("timestamp")
    level = msg.get("level")
    logger = msg.get("logger")
    parts = []
    if ts:
        parts.append(str(ts))
    if level:
        parts.append(str(level).upper())
    if logger:
        parts.append(str(logger))
    parts.append(event)
    # the structured context Airflow repeats on every line (ti_id, dag_id...) is noise in a
    # viewer; an exception's details are not
    for key in ("error_detail", "exc_info", "exception"):
        if msg.get(key):
            parts.append(f"{key}={json.dumps(msg[key], default=str)}")
    if "sources" in msg:  # the header group lists the files the log came from
        parts.append(" ".join(map(str, msg["sources"])))
    return " ".join(parts)
