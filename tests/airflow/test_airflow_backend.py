"""The Airflow backend against real Airflow 3.3.2 (/api/v2) and 2.11.2 (/api/v1) servers: every
operation, the traps (clear really re-runs, mark failed while running), logs into spools."""

from __future__ import annotations

import asyncio

import pytest

from airflow_helpers import finished_run, run_id, running_task, until
from opsconsole.backends.airflow.client import AirflowAuthError, AirflowClient, AirflowSettings
from opsconsole.domain.states import State
from opsconsole.backends.airflow import kill as af_kill
from opsconsole.backends.airflow import sources as af
from opsconsole.backends.airflow.logs import DONE, AirflowLogSpool
from opsconsole.backends.airflow import session_for
from opsconsole.backends.airflow.sources import AirflowTasksSource

DEMO, MAPPED = "opsconsole_demo", "opsconsole_mapped"


async def _unpause(client, *dag_ids):
    for dag_id in dag_ids:
        await client.set_paused(dag_id, False)


async def test_version_dags_filters_and_params(server, client):
    assert await client.major() == server.major
    dags = {d.dag_id: d for d in await client.list_dags()}
    assert {DEMO, MAPPED} <= set(dags)
    assert "opsconsole_wide" not in dags  # tag filter: it is tagged opsconsole-bench only
    assert dags[DEMO].tags == ("opsconsole",)
    assert af.trigger_defaults(await client.get_dag(DEMO)) == {"lines": 3000}
    only = AirflowClient(AirflowSettings(url=server.url, username="admin", password="admin", dags=("*_mapped",)))
    try:
        assert [d.dag_id for d in await only.list_dags()] == [MAPPED]
    finally:
        await only.aclose()


async def test_pause_unpause(client):
    assert (await client.set_paused(MAPPED, True)).is_paused is True
    assert (await client.set_paused(MAPPED, False)).is_paused is False
    dags = {d.dag_id: d for d in await client.list_dags()}
    assert dags[MAPPED].is_paused is False


async def test_auth_errors_and_reauth(server, client):
    wrong = AirflowClient(AirflowSettings(url=server.url, username="admin", password="wrong"))
    missing = AirflowClient(AirflowSettings.from_profile(
        {"url": server.url, "username_env": "OPSC_NO_USER", "password_env": "OPSC_NO_PASS"}, environ={}))
    try:
        with pytest.raises(AirflowAuthError):
            await wrong.list_dags()
        with pytest.raises(AirflowAuthError, match="OPSC_NO_USER"):
            await missing.list_dags()
    finally:
        await wrong.aclose()
        await missing.aclose()
    await client.list_dags()
    if server.major == 3:  # an expired/garbage JWT is answered 403: the client logs in again
        client._token = "garbage"
        assert await client.list_dags()
        assert client._token != "garbage"


async def test_trigger_logs_cache_and_clear_reruns(server, client, tmp_path):
    await _unpause(client, DEMO)
    rid = run_id("t")
    run = await client.trigger(DEMO, {"lines": 3000, "experiment": "exp42", "lr": 0.01}, run_id=rid)
    assert run.run_id == rid and run.conf["experiment"] == "exp42"
    assert "experiment=exp42" in run.conf_summary
    run = await finished_run(client, DEMO, rid)
    assert run.state is State.SUCCESS and run.start_date and run.end_date
    assert rid in [r.run_id for r in await client.list_runs(DEMO)]
    tis = {t.task_id: t for t in await client.list_task_instances(DEMO, rid)}
    assert {t: (ti.state, ti.try_number) for t, ti in tis.items()} == {
        "emit_lines": (State.SUCCESS, 1), "bash_echo": (State.SUCCESS, 1)}
    assert tis["emit_lines"].hostname and tis["emit_lines"].duration is not None

    # the finished log, streamed into a spool (v2: NDJSON rendered as text; v1: plain text), cached
    spool = AirflowLogSpool(client, tmp_path / "spool")
    job = await spool.open(tis["emit_lines"])
    await asyncio.wait_for(job.task, 120)
    assert job.state == DONE and job.error is None
    text = job.path.read_text()
    assert "line 002999 experiment=exp42 lr=0.01" in text
    if server.major == 3:
        assert any(line.split(" ")[1:3] == ["INFO", "task.stdout"] for line in text.splitlines()
                   if "line 000000" in line), "rendered as `timestamp level logger event`"
    again = await spool.open(tis["emit_lines"])
    assert again is job or (again.state == DONE and again.task is None)
    fresh = await AirflowLogSpool(client, tmp_path / "spool").open(tis["emit_lines"])
    assert fresh.state == DONE and fresh.task is None  # cached on disk: no request at all

    # clear with downstream: really re-runs (try 2), earlier tries stay readable
    cleared = await client.clear(DEMO, rid, ["emit_lines"], include_downstream=True, only_failed=False)
    assert set(cleared) == {"emit_lines", "bash_echo"}

    async def rerun_done():
        ti = await client.get_task_instance(DEMO, rid, "bash_echo")
        return ti if ti.try_number == 2 and ti.state is State.SUCCESS else None

    await until(rerun_done, 240, "re-run after clear")
    emit = await client.get_task_instance(DEMO, rid, "emit_lines")
    assert emit.try_number == 2
    tries = await client.task_tries(DEMO, rid, "emit_lines")
    assert [t.try_number for t in tries] == [1, 2] and tries[-1].latest and not tries[0].latest
    source = AirflowTasksSource(session_for(client, tmp_path / "s2"), DEMO, rid)
    items = await source.fetch()
    # in DAG order (emit_lines >> bash_echo), not by name; each task's earlier try under it
    assert [i.key for i in items] == ["emit_lines#2", "emit_lines#1", "bash_echo#2", "bash_echo#1"]
    old = await source.start_log(items[1])
    await old.wait_ready()
    await asyncio.wait_for(old.task, 120)
    assert "line 002999" in old.path.read_text()
    # only_failed on a successful run clears nothing
    assert await client.clear(DEMO, rid, ["emit_lines"], only_failed=True) == []


async def test_mark_run_failed_while_task_runs_and_follow_log(server, client, tmp_path):
    await _unpause(client, DEMO)
    rid = run_id("long")
    await client.trigger(DEMO, {"lines": 100000, "sleep": 0.05, "experiment": "long"}, run_id=rid)
    ti = await running_task(client, DEMO, rid, "emit_lines")
    spool = AirflowLogSpool(client, tmp_path / "spool")
    job = await spool.open(ti)  # running: followed with the continuation token
    await job.wait_ready()
    await until(lambda: _grown(job.path, "line 000"), 120, "followed log grows")
    # the first read streams what the log holds so far, then the spool polls for more
    async def following():
        return job.state == "following"

    await until(following, 60, "following after the first read")
    run = await client.mark_run(DEMO, rid, "failed")
    assert run.state is State.FAILED
    ti = await client.get_task_instance(DEMO, rid, "emit_lines")
    assert ti.state is State.FAILED
    await asyncio.wait_for(job.task, 180)  # the follow ends when the try is over
    assert job.state == DONE
    text = job.path.read_text()
    assert "line 000100 experiment=long" in text and "line 099999" not in text


async def _grown(path, needle):
    try:
        return needle in path.read_text()
    except FileNotFoundError:
        return False


async def test_set_task_state_and_mapped_indexes(server, client, tmp_path):
    await _unpause(client, MAPPED)
    rid = run_id("m")
    await client.trigger(MAPPED, {"n": 3}, run_id=rid)
    await finished_run(client, MAPPED, rid)
    tis = await client.list_task_instances(MAPPED, rid)
    assert [t.label for t in tis] == ["items", "square[0]", "square[1]", "square[2]"]
    sq1 = tis[2]
    assert sq1.map_index == 1 and sq1.key == "square[1]#1"
    assert [t.map_index for t in await client.task_tries(MAPPED, rid, "square", 1)] == [1]
    job = await AirflowLogSpool(client, tmp_path / "spool").open(sq1)
    await asyncio.wait_for(job.task, 120)
    assert "square of 1 is 1" in job.path.read_text()
    changed = await client.set_task_state(MAPPED, rid, "square", "failed", map_index=1)
    assert changed == ["square"]
    assert (await client.get_task_instance(MAPPED, rid, "square", 1)).state is State.FAILED
    assert (await client.get_task_instance(MAPPED, rid, "square", 2)).state is State.SUCCESS
    # clear only the failed index: it runs again as try 2
    cleared = await client.clear(MAPPED, rid, ["square"], include_downstream=True, only_failed=True)
    assert cleared == (["square[1]"] if server.major == 3 else ["square"])  # v1 rows have no map_index

    async def rerun():
        t = await client.get_task_instance(MAPPED, rid, "square", 1)
        return t if t.try_number == 2 and t.state is State.SUCCESS else None

    await until(rerun, 240, "mapped index re-run")


async def test_kill_step_marks_failed_pauses_and_waits_for_processes(server, client):
    await _unpause(client, DEMO, MAPPED)
    rid = run_id("kill")
    await client.trigger(DEMO, {"lines": 100000, "sleep": 0.05}, run_id=rid)
    await running_task(client, DEMO, rid, "emit_lines")
    from opsconsole.domain.kill import StepLog

    log = StepLog()
    await af_kill.stop_everything(client, log, deadline=60)
    states = {(o.kind, o.ident): o.state for o in log.objects}
    assert log.verdict() is None, log.objects
    assert states[("dag run", f"{DEMO}/{rid}")] == "confirmed"
    assert states[("dag", DEMO)] == states[("dag", MAPPED)] == "confirmed"
    assert states[("task", f"{DEMO}/{rid}/emit_lines try 1")] == "confirmed"
    assert (await client.get_run(DEMO, rid)).state is State.FAILED
    assert all(d.is_paused for d in await client.list_dags())
    await _unpause(client, DEMO, MAPPED)
