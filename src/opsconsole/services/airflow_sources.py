"""Airflow in the Status screen: DAGs → runs → task instances (one row per try), as PaneSources,
plus the actions the Airflow pane offers on them and the kill-switch step.

The pane (ui/widgets/airflow_pane.py) only draws and asks; every call to Airflow is made here,
through backends/airflow.py, and every destructive one goes through `app.perform` first."""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from typing import TYPE_CHECKING, Any

from opsconsole.backends.airflow import (
    AirflowClient,
    AirflowError,
    AirflowDag,
    AirflowRun,
    AirflowSettings,
    AirflowTaskInstance,
)
from opsconsole.domain.items import Column, Item
from opsconsole.domain.states import State
from opsconsole.services.airflow_logs import AirflowLogSpool, LogJob

if TYPE_CHECKING:
    from opsconsole.services.context import Context
    from opsconsole.services.killswitch import KillStep

RUNS_SHOWN = 100
HISTORY_FETCHES = 16  # earlier-try lookups at once per refresh (their answers are cached)


def _fmt(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else ""


class AirflowHub:
    """What the Airflow sources of one profile share: the client and the log spool."""

    # one hub per Context (keyed by identity: a Context is not hashable), gone with the Context
    _shared: dict[int, "AirflowHub"] = {}

    def __init__(self, settings: AirflowSettings, spool_root, client: AirflowClient | None = None) -> None:
        self.settings = settings
        self.client = client or AirflowClient(settings)
        self.spool = AirflowLogSpool(self.client, spool_root)

    @classmethod
    def for_context(cls, context: "Context") -> "AirflowHub":
        """The profile's shared hub: every call for the same `context` returns the same hub, so
        the Status pane, the Runs screen's sync and anything else share one client (one login,
        one version detection per session) and one log spool. Cheap after the first call (no
        request is made here: the client connects on first use). A new hub is made only when
        the profile's Airflow settings changed (e.g. its credential variables)."""
        settings = AirflowSettings.from_profile(context.profile.airflow or {})
        key = id(context)
        hub = cls._shared.get(key)
        if hub is None or hub.settings != settings:
            hub = cls(settings, context.data_dir / "spool" / "airflow")
            if key not in cls._shared:
                weakref.finalize(context, cls._shared.pop, key, None)
            cls._shared[key] = hub
        return hub

    async def close(self) -> None:
        """Stop the log jobs and close the connections. The hub stays usable (the client
        reconnects on its next call, keeping its version and token), so closing a shared hub
        when one of its users goes away is safe."""
        await self.spool.close()
        await self.client.aclose()


class AirflowDagsSource:
    """The profile's DAGs: paused, last run's state, next run."""

    key = "airflow"
    level = "dags"
    title = "Airflow DAGs"
    columns = (
        Column("dag", "DAG", 28),
        Column("state", "LAST RUN", 12),
        Column("paused", "PAUSED", 6),
        Column("last_run", "LAST RUN ID", 30, optional=True),
        Column("next_run", "NEXT RUN (UTC)", 19),
        Column("schedule", "SCHEDULE", 12, optional=True),
        Column("age", "AGE", 7, optional=True),
        Column("tags", "TAGS", 16, optional=True),
    )

    def __init__(self, hub: AirflowHub) -> None:
        self.hub = hub
        self.interval = hub.settings.poll_interval
        self.objects: dict[str, AirflowDag] = {}

    async def fetch(self) -> list[Item]:
        client = self.hub.client
        dags = await client.list_dags()
        last = await client.last_runs([d.dag_id for d in dags])
        self.objects = {d.dag_id: d for d in dags}
        items = []
        for dag in dags:
            run = last.get(dag.dag_id)
            items.append(Item(
                key=dag.dag_id,
                state=run.state if run else State.UNKNOWN,
                cells={"dag": dag.dag_id, "state": "" if run else "no runs",
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
        return AirflowRunsSource(self.hub, item.key)

    async def describe(self, item: Item) -> dict[str, Any]:
        return (await self.hub.client.get_dag(item.key)).raw


class AirflowRunsSource:
    """The newest runs of one DAG: state, conf, start, duration."""

    key = "airflow.runs"
    level = "runs"
    columns = (
        Column("run", "RUN ID", 40),
        Column("state", "STATE", 12),
        Column("type", "TYPE", 9, optional=True),
        Column("started", "STARTED (UTC)", 19),
        Column("duration", "DURATION", 8),
        Column("age", "AGE", 7, optional=True),
        Column("conf", "CONF", None),
    )

    def __init__(self, hub: AirflowHub, dag_id: str) -> None:
        self.hub = hub
        self.dag = dag_id
        self.title = f"{dag_id} runs"
        self.interval = hub.settings.poll_interval
        self.objects: dict[str, AirflowRun] = {}

    async def fetch(self) -> list[Item]:
        runs = await self.hub.client.list_runs(self.dag, limit=RUNS_SHOWN)
        self.objects = {r.run_id: r for r in runs}
        return [Item(key=r.run_id, state=r.state,
                     cells={"run": r.run_id, "type": r.run_type or "", "started": _fmt(r.start_date),
                            "conf": r.conf_summary},
                     created_at=r.queued_at or r.logical_date, started_at=r.start_date, ended_at=r.end_date,
                     detail=r.raw)
                for r in runs]

    def dag_id(self, item: Item | None) -> str:
        return self.dag

    def drill(self, item: Item) -> "AirflowTasksSource":
        return AirflowTasksSource(self.hub, self.dag, item.key)

    async def describe(self, item: Item) -> dict[str, Any]:
        return (await self.hub.client.get_run(self.dag, item.key)).raw


class AirflowTasksSource:
    """The task instances of one run, one row per try (earlier tries from the tries history,
    fetched once per try and cached: a finished try never changes)."""

    key = "airflow.tasks"
    level = "tasks"
    columns = (
        Column("task", "TASK", 28),
        Column("try", "TRY", 3),
        Column("state", "STATE", 12),
        Column("started", "STARTED (UTC)", 19, optional=True),
        Column("duration", "DURATION", 8),
        Column("host", "HOST", 16),
        Column("operator", "OPERATOR", 18, optional=True),
    )

    def __init__(self, hub: AirflowHub, dag_id: str, run_id: str) -> None:
        self.hub = hub
        self.dag = dag_id
        self.run_id = run_id
        self.title = run_id
        self.interval = hub.settings.poll_interval
        self.objects: dict[str, AirflowTaskInstance] = {}
        self._history: dict[tuple[str, int, int], list[AirflowTaskInstance]] = {}

    async def _earlier_tries(self, tis: list[AirflowTaskInstance]) -> None:
        wanted = [ti for ti in tis if ti.try_number > 1 and (ti.task_id, ti.map_index, ti.try_number) not in self._history]
        sem = asyncio.Semaphore(HISTORY_FETCHES)

        async def one(ti: AirflowTaskInstance) -> None:
            async with sem:
                tries = await self.hub.client.task_tries(self.dag, self.run_id, ti.task_id, ti.map_index)
            self._history[(ti.task_id, ti.map_index, ti.try_number)] = [t for t in tries if t.try_number < ti.try_number]

        await asyncio.gather(*(one(ti) for ti in wanted))

    async def fetch(self) -> list[Item]:
        tis = await self.hub.client.list_task_instances(self.dag, self.run_id)
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
                   "started": _fmt(ti.start_date), "host": ti.hostname or "", "operator": ti.operator or ""},
            started_at=ti.start_date, ended_at=ti.end_date if ti.start_date else None, detail=ti.raw)

    def dag_id(self, item: Item | None) -> str:
        return self.dag

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
        return await self.hub.spool.open(ti, ti.try_number, running=ti.latest and ti.state.active)

    async def open_log(self, item: Item) -> str:
        job = await self.start_log(item)
        await job.wait_ready()
        if job.error and not job.size:
            raise RuntimeError(job.error)
        return str(job.path)

    async def describe(self, item: Item) -> dict[str, Any]:
        ti = self.task_instance(item)
        if not ti.latest:
            return ti.raw
        return (await self.hub.client.get_task_instance(self.dag, self.run_id, ti.task_id, ti.map_index)).raw


# --- actions (the pane calls these inside app.perform) ---------------------------------------------
def trigger_defaults(dag: AirflowDag) -> dict[str, Any]:
    """A DAG's params as a conf: `{"lines": {"value": 3000, ...}}` → `{"lines": 3000}`."""
    out = {}
    for name, param in (dag.params or {}).items():
        out[name] = param.get("value") if isinstance(param, dict) and "value" in param else param
    return out


async def load_trigger_defaults(hub: AirflowHub, dag_id: str) -> dict[str, Any]:
    return trigger_defaults(await hub.client.get_dag(dag_id))


async def trigger(hub: AirflowHub, dag_id: str, conf: dict[str, Any]) -> str:
    run = await hub.client.trigger(dag_id, conf)
    return f"{dag_id}: triggered {run.run_id} ({run.state.value})"


async def set_paused(hub: AirflowHub, dag_id: str, paused: bool) -> str:
    dag = await hub.client.set_paused(dag_id, paused)
    return f"{dag_id}: {'paused' if dag.is_paused else 'unpaused'}"


async def mark_run_failed(hub: AirflowHub, dag_id: str, run_id: str) -> str:
    run = await hub.client.mark_run(dag_id, run_id, "failed")
    return f"{dag_id} {run_id}: {run.state.value} (running tasks stop at their worker's next heartbeat)"


async def mark_task_failed(hub: AirflowHub, ti: AirflowTaskInstance) -> str:
    changed = await hub.client.set_task_state(ti.dag_id, ti.run_id, ti.task_id, "failed", ti.map_index)
    return f"{ti.label}: failed ({len(changed)} task instance(s) changed)"


async def clear(hub: AirflowHub, dag_id: str, run_id: str, ti: AirflowTaskInstance | None, *,
                only_failed: bool) -> str:
    """Clear one task (with downstream) or, with no task, every task of the run."""
    if ti is not None:
        ids: list[str | tuple[str, int]] = [(ti.task_id, ti.map_index) if ti.map_index >= 0 else ti.task_id]
        cleared = await hub.client.clear(dag_id, run_id, ids, include_downstream=True, only_failed=only_failed)
    else:
        tis = await hub.client.list_task_instances(dag_id, run_id)
        task_ids = sorted({t.task_id for t in tis})
        cleared = await hub.client.clear(dag_id, run_id, task_ids, include_downstream=True, only_failed=only_failed)
    if not cleared:
        return f"{run_id}: nothing to clear" + (" (no failed task)" if only_failed else "")
    shown = ", ".join(cleared[:8]) + (f" … (+{len(cleared) - 8})" if len(cleared) > 8 else "")
    return f"{run_id}: cleared {len(cleared)}: {shown}"


# --- the kill-switch step ----------------------------------------------------------------------------
# how the end of a killed task process reads in its log: Airflow 3, Airflow 2 after SIGTERM, and
# Airflow 2 after the SIGKILL escalation (a task that ignored SIGTERM for killed_task_cleanup_time)
_KILLED = re.compile(r"Task killed|terminated with exit code|Process exited|exited with return code"
                     r"|status='terminated'|was killed before it finished")


async def stop_everything(client: AirflowClient, *, confirm_within: float = 25.0, list_within: float = 10.0,
                          progress=None) -> str:
    """Mark every active run of the profile's DAGs failed and pause those DAGs (all at once),
    then wait (up to `confirm_within` s) until the task processes of the runs are really gone:
    Airflow kills them only at the worker's next heartbeat. Raises if any action failed or a
    task was not confirmed gone; the message says which runs and DAGs.

    A listing that fails (or takes more than `list_within` s) never holds back the stopping
    actions: a DAG whose runs could not be listed is still paused, and a run whose task
    instances could not be listed is still marked failed, but its processes cannot be waited
    on, so the step fails naming it ("not confirmed")."""
    say = progress or (lambda text: None)
    dags = await client.list_dags()

    async def bounded(call):
        return await asyncio.wait_for(call, timeout=list_within)

    runs_by_dag = await asyncio.gather(*(bounded(client.list_runs(d.dag_id, limit=1000, states=("running", "queued")))
                                         for d in dags), return_exceptions=True)
    runs = [r for rs in runs_by_dag if not isinstance(rs, BaseException) for r in rs]
    unlisted_dags = [f"{d.dag_id} ({_why(e)})" for d, e in zip(dags, runs_by_dag) if isinstance(e, BaseException)]
    # the running task instances are listed before the runs are marked failed (after, they
    # all read "failed"), each listing bounded so that the stopping actions start soon
    listings = await asyncio.gather(*(bounded(client.list_task_instances(r.dag_id, r.run_id)) for r in runs),
                                    return_exceptions=True)
    tasks: list[AirflowTaskInstance] = []  # a list, not keyed by run id: two DAGs share scheduled run ids
    unlisted_runs: list[str] = []
    for run, tis in zip(runs, listings):
        if isinstance(tis, BaseException):
            unlisted_runs.append(f"{run.dag_id}/{run.run_id} ({_why(tis)})")
        else:
            tasks.extend(t for t in tis if t.raw_state in ("running", "deferred"))
    results = await asyncio.gather(*(_retrying(lambda r=r: client.mark_run(r.dag_id, r.run_id, "failed")) for r in runs),
                                   *(_retrying(lambda d=d: client.set_paused(d.dag_id, True)) for d in dags),
                                   return_exceptions=True)
    errors = [_why(e) for e in results if isinstance(e, BaseException)]
    marked = ", ".join(f"{r.dag_id}/{r.run_id}" for r in runs) or "no active run"
    paused = ", ".join(d.dag_id for d in dags) or "no DAG"
    done = f"marked failed: {marked}; paused: {paused}"
    unconfirmed = ""
    if unlisted_dags:
        unconfirmed += f"; runs of {', '.join(unlisted_dags)} NOT LISTED (not marked failed, not confirmed)"
    if unlisted_runs:
        unconfirmed += f"; task processes of {', '.join(unlisted_runs)} NOT CONFIRMED stopped (listing failed)"
    if errors:
        raise RuntimeError(f"{done}{unconfirmed}; ERRORS: {'; '.join(errors)}")
    if not tasks:
        if unconfirmed:
            raise RuntimeError(done + unconfirmed)
        return done
    say(f"{done}; waiting for {len(tasks)} task process(es) to stop")
    t0 = time.monotonic()
    left = await _wait_killed(client, tasks, confirm_within)
    if left:
        raise RuntimeError(f"{done}{unconfirmed}; {len(left)} task process(es) not confirmed stopped after "
                           f"{confirm_within:g}s: {', '.join(f'{t.dag_id}/{t.run_id}/{t.label}' for t in left)}")
    stopped = f"{done}; {len(tasks)} task process(es) stopped in {time.monotonic() - t0:.0f}s"
    if unconfirmed:
        raise RuntimeError(stopped + unconfirmed)
    return stopped


def _why(exc: BaseException) -> str:
    """An exception as one short line for the step's detail (a timeout has no message)."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _retrying(call, attempts: int = 4, delay: float = 0.3):
    """An emergency call, tried again on a server error or a dropped connection (a busy
    scheduler database answers 500 now and then); a 4xx is final."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except AirflowError as exc:
            if exc.status < 500 or attempt == attempts:
                raise
        except OSError:
            if attempt == attempts:
                raise
        except Exception as exc:  # httpx transport errors (imported lazily: matched by name)
            if "httpx" not in type(exc).__module__ or attempt == attempts:
                raise
        await asyncio.sleep(delay * 2 ** (attempt - 1))


async def _wait_killed(client: AirflowClient, tasks: list[AirflowTaskInstance], within: float) -> list[AirflowTaskInstance]:
    """Tail each task's log with the continuation token until it says the process ended (or, on
    Airflow 3, the log is closed); the tasks still going after `within` s are returned."""

    async def one(ti: AirflowTaskInstance) -> bool:
        token = None
        while True:
            chunk = await client.read_log(ti, ti.try_number, token)
            if _KILLED.search(chunk.text) or (token is not None and chunk.token is None and await client.major() == 3):
                return True
            token = chunk.token or token
            await asyncio.sleep(1.0)

    async def bounded(ti: AirflowTaskInstance) -> bool:
        try:
            return await asyncio.wait_for(one(ti), timeout=within)
        except (TimeoutError, asyncio.TimeoutError):
            return False

    gone = await asyncio.gather(*(bounded(t) for t in tasks))
    return [t for t, ok in zip(tasks, gone) if not ok]


def airflow_kill_step(context: "Context") -> "KillStep":
    """The kill-switch step of a profile with Airflow."""
    from opsconsole.services.killswitch import KillStep

    settings = AirflowSettings.from_profile(context.profile.airflow or {})
    deadline = context.profile.killswitch.deadline
    scope = ", ".join(settings.dags) or "every DAG"

    async def action(progress=None) -> str:
        client = AirflowClient(settings)
        try:
            return await stop_everything(client, confirm_within=max(1.0, deadline - 5.0), progress=progress)
        finally:
            await client.aclose()

    return KillStep(name="stop Airflow runs", kind="airflow",
                    description=f"mark every running DAG run of {scope} at {settings.shown_url} failed and pause "
                                f"those DAGs, then wait until their task processes are gone",
                    action=action, deadline=deadline, reports_progress=True)
