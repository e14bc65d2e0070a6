"""The Airflow kill-switch step: mark every active run of the profile's DAGs failed, pause the
profile's DAGs, and confirm by the task instances' state and fields that their tasks ended.

Bounded at every turn, so that a huge server cannot push the step past its deadline:

* the active runs come from ONE cross-DAG listing (``/dags/~/dagRuns?state=running&state=queued``),
  capped and under its own deadline, not one listing per DAG;
* the DAGs to pause come from a capped listing; a cut listing ("showing 2,000 of 50,000") is
  reported per object, never hidden;
* confirmation polls each running task instance (one small GET each) until the API reports it
  ended (a terminal state and an end date) — never the task's log, whose download takes longer
  than any deadline at production sizes (a 900 MB log). Airflow's worker kills the process at
  its next heartbeat once the state says failed; the state is what the API can confirm.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opsconsole.backends.airflow.client import (
    AirflowClient,
    AirflowError,
    AirflowRun,
    AirflowSettings,
    AirflowTaskInstance,
    Listing,
)
from opsconsole.domain.kill import STOP, KillObject, KillStep, StepLog

DAG, RUN, TASK, LISTING = "dag", "dag run", "task", "listing"
ACTIVE_RUN_STATES = ("running", "queued")
LIVE_TI_STATES = ("running", "deferred", "restarting")
KILL_LIST_CAP = 2000
CONFIRM_POLL = 1.0


def _why(exc: BaseException) -> str:
    """An exception as one short line for the step's detail (a timeout has no message)."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _retrying(call: Any, attempts: int = 4, delay: float = 0.3) -> Any:
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


async def active_runs(client: AirflowClient, within: float, cap: int = KILL_LIST_CAP) -> Listing:
    """The active runs of every DAG in one bounded cross-DAG listing (``~``), the profile's only."""
    runs = await client.list_runs("~", limit=cap, states=ACTIVE_RUN_STATES, within=within)
    return Listing([r for r in runs if client.settings.wants(r.dag_id)], total=runs.total,
                   timed_out=runs.timed_out)


async def stop_everything(client: AirflowClient, log: StepLog, *, deadline: float, list_within: float = 5.0,
                          cap: int = KILL_LIST_CAP) -> str:
    """Mark the active runs failed and pause the profile's DAGs (all at once), then confirm each
    running task instance ended; every object reported to ``log``. Returns a short summary; the
    engine derives the outcome from the objects (failed / not confirmed)."""
    t_end = time.monotonic() + deadline
    # 1. what to stop: the active runs (one bounded listing) and the DAGs, concurrently
    runs_l, dags_l = await asyncio.gather(active_runs(client, list_within, cap),
                                          client.list_dags(cap=cap, within=list_within), return_exceptions=True)
    runs: list[AirflowRun] = []
    if isinstance(runs_l, BaseException):
        log.failed(LISTING, "active DAG runs", f"listing failed: {_why(runs_l)} — runs NOT marked failed")
    else:
        runs = list(runs_l)
        if runs_l.note:
            log.failed(LISTING, "active DAG runs", f"{runs_l.note}: the others NOT marked failed")
    tagged: set[str] | None = None
    dags: list[Any] = []
    if isinstance(dags_l, BaseException):
        log.failed(LISTING, "DAGs", f"listing failed: {_why(dags_l)} — DAGs NOT paused")
    else:
        dags = list(dags_l)
        if client.settings.tags:
            tagged = {d.dag_id for d in dags}
        if dags_l.note:
            log.not_confirmed(LISTING, "DAGs", f"{dags_l.note}: the others NOT paused")
    if tagged is not None and (isinstance(dags_l, BaseException) or dags_l.complete):
        runs = [r for r in runs if r.dag_id in tagged]  # the profile's tags decide which DAGs are ours
    to_pause = {d.dag_id for d in dags if not d.is_paused} | {r.dag_id for r in runs}

    # 2. the running task instances, listed before the runs are marked failed (after, they all
    #    read "failed"): one bounded listing per active run, all at once
    left = max(0.5, min(list_within, t_end - time.monotonic() - 1.0))
    listings = await asyncio.gather(*(client.list_task_instances(r.dag_id, r.run_id, state=LIVE_TI_STATES, within=left)
                                      for r in runs), return_exceptions=True)
    tasks: list[AirflowTaskInstance] = []
    for run, tis in zip(runs, listings):
        if isinstance(tis, BaseException):
            log.not_confirmed(LISTING, f"{run.dag_id}/{run.run_id}",
                              f"task instances not listed ({_why(tis)}): their end cannot be confirmed")
            continue
        tasks.extend(t for t in tis if t.raw_state in LIVE_TI_STATES)
        if tis.note:
            log.not_confirmed(LISTING, f"{run.dag_id}/{run.run_id}", f"task instances {tis.note}")

    # 3. act: every run marked failed and every DAG paused, at once
    async def mark(run: AirflowRun) -> None:
        key = f"{run.dag_id}/{run.run_id}"
        log.acted(RUN, key, "marking failed")
        try:
            done = await _retrying(lambda: client.mark_run(run.dag_id, run.run_id, "failed"))
        except Exception as exc:
            log.failed(RUN, key, f"not marked failed: {_why(exc)}")
            return
        if done.raw_state == "failed":
            log.confirmed(RUN, key, "marked failed")
        else:
            log.not_confirmed(RUN, key, f"answered state {done.raw_state}")

    async def pause(dag_id: str) -> None:
        log.acted(DAG, dag_id, "pausing")
        try:
            dag = await _retrying(lambda: client.set_paused(dag_id, True))
        except Exception as exc:
            log.failed(DAG, dag_id, f"not paused: {_why(exc)}")
            return
        if dag.is_paused:
            log.confirmed(DAG, dag_id, "paused")
        else:
            log.not_confirmed(DAG, dag_id, "the answer says not paused")

    for ti in tasks:
        log.acted(TASK, _ti_key(ti), f"{ti.raw_state} on {ti.hostname or '?'}")
    await asyncio.gather(*(mark(r) for r in runs), *(pause(d) for d in sorted(to_pause)))
    if tasks:
        log.progress(f"{len(runs)} run(s) marked failed; waiting for {len(tasks)} task(s) to end")
        await _confirm_ended(client, log, tasks, t_end)
    return f"{len(runs)} run(s), {len(to_pause)} DAG(s), {len(tasks)} task(s): {log.summary() or 'nothing to stop'}"


def _ti_key(ti: AirflowTaskInstance) -> str:
    idx = f"[{ti.map_index}]" if ti.map_index >= 0 else ""
    return f"{ti.dag_id}/{ti.run_id}/{ti.task_id}{idx} try {ti.try_number}"


async def _confirm_ended(client: AirflowClient, log: StepLog, tasks: list[AirflowTaskInstance], t_end: float) -> None:
    """Poll each task instance (one small GET) until the API reports it ended: not in a live
    state, with an end date. Whatever is left at the deadline stays "acted" (the engine marks it
    not confirmed)."""

    async def one(ti: AirflowTaskInstance) -> None:
        key = _ti_key(ti)
        while time.monotonic() < t_end:
            try:
                now = await asyncio.wait_for(client.get_task_instance(ti.dag_id, ti.run_id, ti.task_id, ti.map_index),
                                             timeout=max(0.2, min(5.0, t_end - time.monotonic())))
            except Exception as exc:  # keep polling until the deadline; say the last trouble
                log.acted(TASK, key, f"state not read: {_why(exc)}")
            else:
                if now.try_number == ti.try_number and now.raw_state not in LIVE_TI_STATES and now.end_date:
                    log.confirmed(TASK, key, f"ended: state {now.raw_state} at {now.end_date:%H:%M:%S} UTC")
                    return
                if now.try_number != ti.try_number:
                    log.confirmed(TASK, key, f"try {ti.try_number} ended (now try {now.try_number}, {now.raw_state})")
                    return
            await asyncio.sleep(min(CONFIRM_POLL, max(0.0, t_end - time.monotonic())))
        log.not_confirmed(TASK, key, "still reported running at the deadline")

    await asyncio.gather(*(one(ti) for ti in tasks))


async def airflow_targets(settings: AirflowSettings, within: float = 3.0) -> list[KillObject]:
    """What the step would stop now: the active runs (bounded listing)."""
    client = AirflowClient(settings)
    try:
        runs = await active_runs(client, within)
        out = [KillObject(RUN, f"{r.dag_id}/{r.run_id}", reason=str(r.state.value)) for r in runs]
        if runs.note:
            out.append(KillObject(LISTING, "active DAG runs", reason=runs.note))
        return out
    finally:
        await client.aclose()


def airflow_kill_step(settings: AirflowSettings, deadline: float) -> KillStep:
    """The kill-switch step of a profile with Airflow (its own client: a kill never waits on a
    pane's connection)."""
    scope = ", ".join(settings.dags) or "every DAG"

    async def action(log: StepLog) -> str:
        client = AirflowClient(settings)
        try:
            # leave a second for the engine: unconfirmed objects are reported, not cancelled
            return await stop_everything(client, log, deadline=max(1.0, deadline - 1.0),
                                         list_within=max(0.5, min(5.0, deadline / 4)))
        finally:
            await client.aclose()

    return KillStep(name="stop Airflow runs", kind="airflow",
                    description=f"mark every running DAG run of {scope} at {settings.shown_url} failed and pause "
                                f"those DAGs, then confirm by the task instances' state that they ended",
                    action=action, deadline=deadline, phase=STOP,
                    targets=lambda: airflow_targets(settings))
