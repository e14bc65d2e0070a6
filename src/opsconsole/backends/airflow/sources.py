"""Airflow in the Status screen: DAGs → runs → task instances (one row per try), as pane
sources, and the actions they offer on the selected item (turned into ActionCalls for the
action runner: nothing here decides about read-only, HALTED or confirmation)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from opsconsole.backends.airflow import ACTIONS, CLEAR, CLEAR_FAILED, MARK_FAILED, PAUSE, TRIGGER
from opsconsole.backends.airflow.client import AirflowDag, AirflowRun, AirflowTaskInstance
from opsconsole.backends.airflow.logs import LogJob
from opsconsole.backends.base import DESCRIBE, DRILL, LOG, PaneSource
from opsconsole.domain import policy
from opsconsole.domain.actions import ActionCall, ActionUnavailable
from opsconsole.domain.items import Column, Item
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.airflow import AirflowSession
    from opsconsole.logs.ref import LogRef

RUNS_SHOWN = 100
LAST_RUNS_SHOWN = 300  # DAGs whose last run is looked up (one request each) per refresh
HISTORY_FETCHES = 16  # earlier-try lookups at once per refresh (their answers are cached)


def _fmt(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else ""


class _AirflowSource(PaneSource):
    scope = "airflow"
    capabilities = frozenset({DRILL, DESCRIBE})
    level = ""
    dag: str | None = None

    def __init__(self, session: "AirflowSession") -> None:
        self.session = session
        self.interval = session.settings.poll_interval

    def dag_id(self, item: Item | None) -> str | None:
        return self.dag

    def _dag_or_raise(self, item: Item | None, what: str) -> str:
        dag_id = self.dag_id(item)
        if dag_id is None:
            raise ActionUnavailable(f"{what}: select a DAG first")
        return dag_id

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        session = self.session
        if action_id == TRIGGER.id:
            dag_id = self._dag_or_raise(item, "trigger")
            paused = self.dag_paused(dag_id)
            note = (f"\n{dag_id} is PAUSED: the run stays queued until the DAG is unpaused (p)."
                    if paused else "")

            async def run(conf: Any) -> str:
                from opsconsole.backends.airflow.target import AirflowTarget

                done = await AirflowTarget(session).trigger_conf(dag_id, conf or {})
                return f"{done} — {dag_id} is PAUSED: it waits until unpaused" if paused else done

            # a paused DAG: once triggered, the operator is offered the unpause (its own action,
            # confirmed and audited like any other)
            extra = {"then": lambda: self.prepare(PAUSE.id, item)} if paused else {}
            return ActionCall(TRIGGER, f"Trigger {dag_id}{' (PAUSED)' if paused else ''}?",
                              f"A new run of {dag_id}.{note}", [dag_id], run,
                              confirm_label="Trigger", ask_json=lambda: load_trigger_defaults(session, dag_id),
                              preset={"target": "airflow", "dag_id": dag_id}, extra=extra)
        if action_id == PAUSE.id:
            dag_id = self._dag_or_raise(item, "pause")
            pause = not self.dag_paused(dag_id)
            verb = "pause" if pause else "unpause"
            return ActionCall(PAUSE, f"{verb.title()} {dag_id}?",
                              f"{'No new runs of' if pause else 'The scheduler runs'} {dag_id} "
                              f"{'will start (running ones go on)' if pause else 'again on its schedule'}.",
                              [dag_id], lambda _: set_paused(session, dag_id, pause), confirm_label=verb.title(),
                              policy_override=policy.CHANGE if pause else None, label=verb)
        if action_id in (CLEAR.id, CLEAR_FAILED.id, MARK_FAILED.id):
            raise ActionUnavailable(f"{action_id.split('.')[-1].replace('_', ' ')}: select a run (enter on a DAG) "
                                    "or a task instance")
        return await super().prepare(action_id, item)

    def dag_paused(self, dag_id: str) -> bool:
        dag = self.session.dags.get(dag_id)
        return bool(dag and dag.is_paused)


class AirflowDagsSource(_AirflowSource):
    """The profile's DAGs: paused, last run's state, next run."""

    key = "airflow"
    level = "dags"
    title = "Airflow DAGs"
    actions = (TRIGGER, PAUSE)
    columns = (
        Column("dag", "DAG", None),  # as wide as the longest id: DAG ids are never cut
        Column("state", "LAST RUN", 12),
        Column("paused", "PAUSED", 6),
        Column("last_run", "LAST RUN ID", 30, optional=True),
        Column("next_run", "NEXT RUN (UTC)", 19),
        Column("schedule", "SCHEDULE", 12, optional=True),
        Column("age", "AGE", 7, optional=True),
        Column("tags", "TAGS", 16, optional=True),
    )

    def __init__(self, session: "AirflowSession") -> None:
        super().__init__(session)
        self.objects: dict[str, AirflowDag] = {}

    async def fetch(self) -> list[Item]:
        session = self.session
        client = session.client
        dags = await client.list_dags()  # bounded: a server with 10^7 DAGs shows "showing N of M"
        self.warning = dags.note or None
        # the last run of the first DAGs only: one request each
        last = await client.last_runs([d.dag_id for d in dags[:LAST_RUNS_SHOWN]])
        self.objects = {d.dag_id: d for d in dags}
        session.dags.update(self.objects)
        items = []
        for dag in dags:
            run = last.get(dag.dag_id)
            items.append(Item(
                key=dag.dag_id,
                state=run.state if run else State.UNKNOWN,
                cells={"dag": dag.dag_id, "state": "" if run else ("no runs" if dag.dag_id in last else "not looked up"),
                       "paused": "yes" if dag.is_paused else "", "last_run": run.run_id if run else "",
                       "next_run": _fmt(dag.next_run), "schedule": dag.schedule or "", "tags": ",".join(dag.tags)},
                created_at=run.queued_at or run.start_date if run else None,
                started_at=run.start_date if run else None, ended_at=run.end_date if run else None,
                detail=dag.raw,
            ))
        return items

    def dag_id(self, item: Item | None) -> str | None:
        return item.key if item is not None else None

    def drill(self, item: Item) -> "AirflowRunsSource":
        return AirflowRunsSource(self.session, item.key)

    async def describe(self, item: Item) -> dict[str, Any]:
        return (await self.session.client.get_dag(item.key)).raw


class AirflowRunsSource(_AirflowSource):
    """The newest runs of one DAG: state, conf, start, duration."""

    dag: str

    key = "airflow.runs"
    level = "runs"
    actions = ACTIONS
    columns = (
        Column("run", "RUN ID", 40),
        Column("state", "STATE", 12),
        Column("type", "TYPE", 9, optional=True),
        Column("started", "STARTED (UTC)", 19),
        Column("duration", "DURATION", 8),
        Column("age", "AGE", 7, optional=True),
        Column("conf", "CONF", None),
    )

    def __init__(self, session: "AirflowSession", dag_id: str) -> None:
        super().__init__(session)
        self.dag = dag_id
        self.title = f"{dag_id} runs"
        self.objects: dict[str, AirflowRun] = {}

    async def fetch(self) -> list[Item]:
        runs = await self.session.client.list_runs(self.dag, limit=RUNS_SHOWN)
        self.warning = f"newest {runs.note}" if runs.note else None
        self.objects = {r.run_id: r for r in runs}
        return [Item(key=r.run_id, state=r.state,
                     cells={"run": r.run_id, "type": r.run_type or "", "started": _fmt(r.start_date),
                            "conf": r.conf_summary},
                     created_at=r.queued_at or r.logical_date, started_at=r.start_date, ended_at=r.end_date,
                     detail=r.raw, refs={"airflow.dag_id": self.dag, "airflow.run_id": r.run_id})
                for r in runs]

    def drill(self, item: Item) -> "AirflowTasksSource":
        return AirflowTasksSource(self.session, self.dag, item.key)

    async def describe(self, item: Item) -> dict[str, Any]:
        return (await self.session.client.get_run(self.dag, item.key)).raw

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id in (CLEAR.id, CLEAR_FAILED.id, MARK_FAILED.id) and item is not None:
            return _RunLevel.run_call(self, action_id, item, None, item.key)
        return await super().prepare(action_id, item)


class AirflowTasksSource(_AirflowSource):
    """The task instances of one run, one row per try (earlier tries from the tries history,
    fetched once per try and cached: a finished try never changes)."""

    dag: str

    key = "airflow.tasks"
    level = "tasks"
    capabilities = frozenset({DESCRIBE, LOG})
    actions = ACTIONS
    columns = (
        Column("task", "TASK", 28),
        Column("try", "TRY", 3),
        Column("state", "STATE", 12),
        Column("started", "STARTED (UTC)", 19, optional=True),
        Column("duration", "DURATION", 8),
        Column("host", "HOST", 16),
        Column("operator", "OPERATOR", 18, optional=True),
    )

    def __init__(self, session: "AirflowSession", dag_id: str, run_id: str) -> None:
        super().__init__(session)
        self.dag = dag_id
        self.run_id = run_id
        self.title = run_id
        self.objects: dict[str, AirflowTaskInstance] = {}
        self._history: dict[tuple[str, int, int], list[AirflowTaskInstance]] = {}
        self._order: dict[str, int] | None = None  # task id -> place in DAG order, fetched once

    async def _dag_order(self) -> dict[str, int]:
        """Where each task comes in the DAG (topological), asked once; {} if the API can't say
        (then the tasks are listed by id)."""
        if self._order is None:
            try:
                order = await self.session.client.task_order(self.dag)
            except Exception:  # noqa: BLE001 - an order is a nicety: the rows still come
                return {}
            self._order = {task_id: n for n, task_id in enumerate(order)}
        return self._order

    async def _earlier_tries(self, tis: list[AirflowTaskInstance]) -> None:
        wanted = [ti for ti in tis if ti.try_number > 1 and (ti.task_id, ti.map_index, ti.try_number) not in self._history]
        sem = asyncio.Semaphore(HISTORY_FETCHES)

        async def one(ti: AirflowTaskInstance) -> None:
            async with sem:
                tries = await self.session.client.task_tries(self.dag, self.run_id, ti.task_id, ti.map_index)
            self._history[(ti.task_id, ti.map_index, ti.try_number)] = [t for t in tries if t.try_number < ti.try_number]

        await asyncio.gather(*(one(ti) for ti in wanted))

    async def fetch(self) -> list[Item]:
        tis = await self.session.client.list_task_instances(self.dag, self.run_id)
        order = await self._dag_order()
        tis.sort(key=lambda t: (order.get(t.task_id, len(order)), t.task_id, t.map_index))
        self.warning = tis.note or None
        await self._earlier_tries(tis)
        rows: list[AirflowTaskInstance] = []
        for ti in tis:
            rows.append(ti)
            rows.extend(reversed(self._history.get((ti.task_id, ti.map_index, ti.try_number), [])))
        self.objects = {ti.key: ti for ti in rows}
        return [self._item(ti) for ti in rows]

    @staticmethod
    def _item(ti: AirflowTaskInstance) -> Item:
        return Item(
            key=ti.key, state=ti.state,
            cells={"task": ti.label if ti.latest else f"  ↳ {ti.label}", "try": ti.try_number,
                   # Airflow's "no status" (not scheduled yet) is not queued: say so
                   "state": "no status" if ti.raw_state in (None, "", "none", "no_status") else "",
                   "started": _fmt(ti.start_date), "host": ti.hostname or "", "operator": ti.operator or ""},
            started_at=ti.start_date, ended_at=ti.end_date if ti.start_date else None, detail=ti.raw,
            refs={"airflow.dag_id": ti.dag_id, "airflow.run_id": ti.run_id, "airflow.task_id": ti.task_id,
                  "airflow.try_number": str(ti.try_number), "airflow.map_index": str(ti.map_index)})

    def task_instance(self, item: Item) -> AirflowTaskInstance:
        ti = self.objects.get(item.key)
        if ti is None:
            raise LookupError(f"{item.key}: not in the last refresh")
        return ti

    async def start_log(self, item: Item) -> LogJob:
        """Start spooling the selected try's log (or reuse the cache); returns once the job is
        started, without waiting for the log."""
        ti = self.task_instance(item)
        if ti.try_number < 1:
            raise LookupError(f"{ti.label} has not started yet: no log")
        return await self.session.spool.open(ti, ti.try_number, running=ti.latest and ti.state.active)

    async def open_log(self, item: Item) -> "LogRef":
        """The try's log as a stream reference: returns at once (the viewer shows the server
        preparing, then the lines as they arrive)."""
        from opsconsole.logs.ref import StreamLog

        ti = self.task_instance(item)
        if self.session.settings.remote_logs is not None and not (ti.latest and ti.state.active) and ti.try_number > 0:
            from opsconsole.backends.airflow.remote_logs import open_remote_log

            remote = await open_remote_log(self.session, ti, ti.try_number)  # None: not there, use the API
            if remote is not None:
                return remote
        job = await self.start_log(item)
        ti = self.task_instance(item)  # the task and run first: tabs of two runs differ where they start
        return StreamLog(job, f"{ti.label} #{ti.try_number} {self.run_id} {self.dag}")

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id in (CLEAR.id, CLEAR_FAILED.id, MARK_FAILED.id) and item is not None:
            try:
                ti = self.task_instance(item)
            except LookupError as exc:
                raise ActionUnavailable(str(exc)) from None
            return _RunLevel.run_call(self, action_id, item, ti, self.run_id)
        return await super().prepare(action_id, item)

    async def describe(self, item: Item) -> dict[str, Any]:
        ti = self.task_instance(item)
        if not ti.latest:
            return ti.raw
        return (await self.session.client.get_task_instance(self.dag, self.run_id, ti.task_id, ti.map_index)).raw


class _RunLevel:
    """Clear and mark failed, on a run (runs level) or a task instance (tasks level)."""

    @staticmethod
    def run_call(src: "AirflowRunsSource | AirflowTasksSource", action_id: str, item: Item | None,
                 ti: AirflowTaskInstance | None, run_id: str) -> ActionCall:
        session, dag_id = src.session, src.dag or ""
        if action_id == MARK_FAILED.id:
            if ti is None:
                return ActionCall(MARK_FAILED, f"Mark run {run_id} failed?",
                                  f"{dag_id} {run_id}: the run and its unfinished tasks become failed; running task "
                                  "processes are killed at their worker's next heartbeat (6–15 s).",
                                  [f"{dag_id}/{run_id}"], lambda _: mark_run_failed(session, dag_id, run_id),
                                  confirm_label="Mark failed")
            return ActionCall(MARK_FAILED, f"Mark {ti.label} failed?",
                              f"{ti.dag_id} {ti.run_id} {ti.label}: set the task instance's state to failed.",
                              [f"{ti.dag_id}/{ti.run_id}/{ti.label}"], lambda _: mark_task_failed(session, ti),
                              confirm_label="Mark failed")
        only_failed = action_id == CLEAR_FAILED.id
        action = CLEAR_FAILED if only_failed else CLEAR
        if ti is None:
            what = f"every {'failed ' if only_failed else ''}task of run {run_id}"
            objects = [f"{dag_id}/{run_id}"]
        else:
            what = f"{ti.label}{' (if failed)' if only_failed else ''} and its downstream tasks"
            objects = [f"{ti.dag_id}/{ti.run_id}/{ti.label}"]
        return ActionCall(action, f"Clear {what}?", f"{dag_id} {run_id}: clear {what}. They run again (a new try).",
                          objects, lambda _: clear(session, dag_id, run_id, ti, only_failed=only_failed),
                          confirm_label="Clear")


# --- what the actions do ---------------------------------------------------------------------------
def trigger_defaults(dag: AirflowDag) -> dict[str, Any]:
    """A DAG's params as a conf: `{"lines": {"value": 3000, ...}}` → `{"lines": 3000}`."""
    out = {}
    for name, param in (dag.params or {}).items():
        out[name] = param.get("value") if isinstance(param, dict) and "value" in param else param
    return out


async def load_trigger_defaults(session: "AirflowSession", dag_id: str) -> dict[str, Any]:
    return trigger_defaults(await session.client.get_dag(dag_id))


async def set_paused(session: "AirflowSession", dag_id: str, paused: bool) -> str:
    dag = await session.client.set_paused(dag_id, paused)
    return f"{dag_id}: {'paused' if dag.is_paused else 'unpaused'}"


async def mark_run_failed(session: "AirflowSession", dag_id: str, run_id: str) -> str:
    run = await session.client.mark_run(dag_id, run_id, "failed")
    return f"{dag_id} {run_id}: {run.state.value} (running tasks stop at their worker's next heartbeat)"


async def mark_task_failed(session: "AirflowSession", ti: AirflowTaskInstance) -> str:
    changed = await session.client.set_task_state(ti.dag_id, ti.run_id, ti.task_id, "failed", ti.map_index)
    return f"{ti.label}: failed ({len(changed)} task instance(s) changed)"


async def clear(session: "AirflowSession", dag_id: str, run_id: str, ti: AirflowTaskInstance | None, *,
                only_failed: bool) -> str:
    """Clear one task (with downstream) or, with no task, every task of the run."""
    if ti is not None:
        ids: list[str | tuple[str, int]] = [(ti.task_id, ti.map_index) if ti.map_index >= 0 else ti.task_id]
        cleared = await session.client.clear(dag_id, run_id, ids, include_downstream=True, only_failed=only_failed)
    else:
        tis = await session.client.list_task_instances(dag_id, run_id)
        task_ids: list[str | tuple[str, int]] = sorted({t.task_id for t in tis})
        cleared = await session.client.clear(dag_id, run_id, task_ids, include_downstream=True, only_failed=only_failed)
    if not cleared:
        return f"{run_id}: nothing to clear" + (" (no failed task)" if only_failed else "")
    shown = ", ".join(cleared[:8]) + (f" … (+{len(cleared) - 8})" if len(cleared) > 8 else "")
    return f"{run_id}: cleared {len(cleared)}: {shown}"


