"""The Airflow kill-switch step: mark every active run of the profile's DAGs failed, pause
those DAGs, and confirm that their task processes are gone."""

from __future__ import annotations

import asyncio
import re
import time

from opsconsole.backends.airflow.client import AirflowClient, AirflowError, AirflowSettings, AirflowTaskInstance
from opsconsole.domain.kill import KillStep, StepLog

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


def airflow_kill_step(settings: AirflowSettings, deadline: float) -> KillStep:
    """The kill-switch step of a profile with Airflow (its own client: a kill never waits on a
    pane's connection)."""
    scope = ", ".join(settings.dags) or "every DAG"

    async def action(log: StepLog) -> str:
        client = AirflowClient(settings)
        try:
            return await stop_everything(client, confirm_within=max(1.0, deadline - 5.0), progress=log.progress)
        finally:
            await client.aclose()

    return KillStep(name="stop Airflow runs", kind="airflow",
                    description=f"mark every running DAG run of {scope} at {settings.shown_url} failed and pause "
                                f"those DAGs, then wait until their task processes are gone",
                    action=action, deadline=deadline)
