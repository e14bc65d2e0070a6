"""The ECS backend against moto in server mode: the tasks pane (running and recently stopped,
families by glob, tags, containers, describe, services), throttling kept off the outage path,
stop and run-again through the action path, the launch target with the ledger following each
task to STOPPED, and the kill step."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from botocore.awsrequest import AWSResponse

from ecs_helpers import LOG_GROUP, cluster, context, describe, register, run
from opsconsole.backends import registry
from opsconsole.backends.ecs.models import EcsTask
from opsconsole.config.settings import ConfigError, parse_config
from opsconsole.domain.kill import StepLog
from opsconsole.domain.states import State
from opsconsole.services.actions import ActionRunner


def _setup(aws, tmp_path, **kw):
    cluster(aws)
    for family in ("broker-twap", "system", "other-team"):
        register(aws, family)
    return context(aws, tmp_path, **kw)


def _session(ctx):
    return ctx.session("ecs")


# -- config and registration ----------------------------------------------------------------

def test_ecs_is_registered_and_its_table_is_checked(tmp_path, moto_server):
    assert "ecs" in registry.names() and "ecs" not in registry.config_tables().reserved()
    assert registry.SCHEMES["s3"] == "ecs" and registry.SCHEMES["cloudwatch"] == "ecs"
    with pytest.raises(ConfigError) as err:
        parse_config('[profiles.p.ecs]\ncluster = "c"\naws_secret_access_key = "x"\nkill_by = "everything"\n',
                     str(tmp_path / "c.toml"))
    text = str(err.value)
    assert "looks like a secret" in text and "kill_by" in text and "c.toml:" in text


def test_the_package_and_its_settings_do_not_import_boto3():
    code = ("import sys; from opsconsole.backends import registry; b = registry.load('ecs'); "
            "s = b.settings({'cluster': 'c', 'task_families': ['x-*']}); b.open_url; "
            "import opsconsole.logs.aws; print('boto3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the tasks pane ------------------------------------------------------------------------

async def test_tasks_pane_lists_running_and_stopped_tasks_of_the_profiles_families(aws, tmp_path):
    ctx = _setup(aws, tmp_path)
    try:
        broker = run(aws, "broker-twap", 2, startedBy="airflow", tags=[{"key": "team", "value": "exec"}])
        system = run(aws, "system")
        run(aws, "other-team")  # not one of the profile's families
        aws.client("ecs").stop_task(cluster="trading", task=broker[1], reason="Essential container exited")
        source = _session(ctx).sources()[0]
        items = await source.fetch()
        by_key = {i.key: i for i in items}
        assert set(by_key) == {*broker, *system}
        running = by_key[broker[0]]
        assert running.state is State.RUNNING
        assert running.cells["family"] == "broker-twap" and running.cells["rev"] == "1"
        assert running.cells["started_by"] == "airflow" and running.cells["tags"] == "team=exec"
        assert running.cells["cpu_mem"] == "256/512" and running.cells["desired"] == "running"
        stopped = by_key[broker[1]]
        assert stopped.cells["state"] == "stopped" and stopped.cells["reason"] == "Essential container exited"
        assert stopped.cells["exit"] == "0" and stopped.state is State.SUCCESS
        assert [i.key for i in items].index(broker[1]) > [i.key for i in items].index(system[0])  # stopped last
        # drill-down to the containers, describe
        containers = source.drill(running)
        (container,) = await containers.fetch()
        assert container.cells["name"] == "main" and container.cells["image"] == "cmamp:prod"
        described = await source.describe(running)
        assert described["taskArn"] == broker[0] and {"key": "team", "value": "exec"} in described["tags"]
    finally:
        ctx.close()


async def test_many_tasks_are_described_in_batches_and_capped(aws, tmp_path):
    ctx = _setup(aws, tmp_path, extra="task_limit = 150\nstopped_limit = 5")
    try:
        arns: list[str] = []
        for _ in range(17):
            arns += run(aws, "system", 10)
        source = _session(ctx).sources()[0]
        items = await source.fetch()
        assert len(items) == 150 and set(i.key for i in items) <= set(arns)
        assert source.warning == "showing the first 150 tasks"
    finally:
        ctx.close()


async def test_services_appear_as_a_row_when_the_cluster_has_any(aws, tmp_path):
    ctx = _setup(aws, tmp_path)
    try:
        (arn,) = run(aws, "system")
        (source,) = _session(ctx).sources()
        assert [i.key for i in await source.fetch()] == [arn]  # no services: no row
        aws.client("ecs").create_service(cluster="trading", serviceName="broker-gateway",
                                         taskDefinition="system", desiredCount=2)
        source._services_at = None  # counted at most once a minute: ask again now
        row, task = await source.fetch()
        assert task.key == arn and row.cells["task"] == "services ›" and row.cells["family"] == "1 service"
        with pytest.raises(Exception, match="select a task first"):
            await source.prepare("ecs.stop", row)
        services = source.drill(row)
        (item,) = await services.fetch()
        assert item.cells["name"] == "broker-gateway" and item.cells["counts"].split("/")[1] == "2"
        assert (await services.describe(item))["serviceName"] == "broker-gateway"
        assert [s["serviceName"] for s in (await source.describe(row))["services"]] == ["broker-gateway"]
    finally:
        ctx.close()


def _throttle(client, times: int) -> list[int]:
    """The next `times` requests of `client` answer 400 ThrottlingException (as AWS does)."""
    left = [times]

    def handler(request, **_):
        if left[0] <= 0:
            return None
        left[0] -= 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))

    client.meta.events.register_first("before-send.ecs.*", handler, unique_id="test-throttle")
    return left


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body


async def test_throttling_is_retried_and_never_shown_as_an_outage(aws, tmp_path):
    ctx = _setup(aws, tmp_path, extra="timeout = 8")
    from opsconsole.logs.aws import client

    ecs = client("ecs", _session(ctx).settings.aws)  # the session's own boto3 client
    try:
        arns = run(aws, "system", 2)
        source = _session(ctx).sources()[0]
        left = _throttle(ecs, 4)  # more than botocore's own 3 attempts: our backoff takes over
        items = await source.fetch()
        assert left[0] == 0 and {i.key for i in items} == set(arns) and source.warning is None
        # throttled past the whole budget: the last listing stays, with a warning, no error
        left[0] = 10_000
        again = await source.fetch()
        assert [i.key for i in again] == [i.key for i in items]
        assert source.warning and "throttling" in source.warning
        left[0] = 0
        await source.fetch()
        assert source.warning is None
    finally:
        ecs.meta.events.unregister("before-send.ecs.*", unique_id="test-throttle")
        ctx.close()


async def test_a_refresh_shares_a_listing_in_flight(aws, tmp_path):
    ctx = _setup(aws, tmp_path)
    try:
        run(aws, "system", 3)
        client = _session(ctx).client
        before = client.calls
        a, b = await asyncio.gather(client.tasks(), client.tasks())
        assert a is b
        single = client.calls - before
        await client.tasks()
        assert client.calls - before == 2 * single  # the second listing cost as much as the shared one
    finally:
        ctx.close()


# -- actions through the action path --------------------------------------------------------

async def test_stop_and_run_again_through_the_action_path(aws, tmp_path):
    ctx = _setup(aws, tmp_path)
    try:
        (arn,) = run(aws, "broker-twap", startedBy="airflow", tags=[{"key": "team", "value": "exec"}],
                     overrides={"containerOverrides": [{"name": "main", "command": ["python", "run.py", "--x", "1"]}]})
        source = _session(ctx).sources()[0]
        items = {i.key: i for i in await source.fetch()}
        runner = ActionRunner(ctx, "tester")

        async def confirm(call):
            return True

        call = await source.prepare("ecs.stop", items[arn])
        assert "Reason recorded on the task: opsconsole: stopped from the Status pane" in call.body
        outcome = await runner.run(call, confirm=confirm)
        assert outcome.ok, outcome.detail
        (task,) = describe(aws, [arn])
        assert task["lastStatus"] == "STOPPED" and task["stoppedReason"].startswith("opsconsole: stopped from the Status pane by")
        assert EcsTask(task).state is State.STOPPED
        audit = ctx.ledger.list_action_audit()
        assert audit[-1]["action"] == "ecs.stop" and audit[-1]["outcome"] == "ok"
        # run again: same definition, overrides and tags, a new ledger run
        items = {i.key: i for i in await source.fetch()}
        with pytest.raises(Exception, match="already stopped"):
            await source.prepare("ecs.stop", items[arn])
        outcome = await runner.run(await source.prepare("ecs.rerun", items[arn]), confirm=confirm)
        assert outcome.ok, outcome.detail
        (record,) = ctx.ledger.list_runs()
        assert record.kind == "ecs-rerun" and record.target == "ecs:broker-twap:1" and record.external_id
        assert record.command == ["python", "run.py", "--x", "1"]
        (again,) = describe(aws, [record.external_id])
        tags = {t["key"]: t["value"] for t in again["tags"]}
        assert tags["team"] == "exec" and tags["opsconsole:run-id"] == str(record.id)
        assert again["overrides"]["containerOverrides"][0]["command"] == ["python", "run.py", "--x", "1"]
    finally:
        ctx.close()


async def test_a_readonly_profile_refuses_the_stop(aws, tmp_path):
    ctx = _setup(aws, tmp_path, profile_extra="readonly = true")
    try:
        (arn,) = run(aws, "system")
        source = _session(ctx).sources()[0]
        items = {i.key: i for i in await source.fetch()}
        runner = ActionRunner(ctx, "tester")
        outcome = await runner.run(await source.prepare("ecs.stop", items[arn]), confirm=lambda c: asyncio.sleep(0, True))
        assert outcome.outcome == "refused"
        assert describe(aws, [arn])[0]["lastStatus"] == "RUNNING"
    finally:
        ctx.close()


# -- the kill step ---------------------------------------------------------------------------

async def test_kill_step_stops_every_running_task_of_the_families_and_confirms(aws, tmp_path):
    ctx = _setup(aws, tmp_path)
    try:
        mine = run(aws, "broker-twap", 3) + run(aws, "system", 2)
        other = run(aws, "other-team", 2)
        (step,) = _session(ctx).kill_steps()
        assert step.phase == "stop" and "broker-*" in step.description
        listed = await step.targets()
        assert {o.ident.split(" ")[0] for o in listed} == set(mine)
        log = StepLog()
        detail = await asyncio.wait_for(step.action(log), step.deadline)
        assert detail == "5 of 5 task(s) of families broker-*, system STOPPED"
        assert log.counts() == {"confirmed": 5} and log.verdict() is None
        tasks = {t["taskArn"]: t for t in describe(aws, mine + other)}
        assert all(tasks[a]["lastStatus"] == "STOPPED" and "kill-switch" in tasks[a]["stoppedReason"] for a in mine)
        assert all(tasks[a]["lastStatus"] == "RUNNING" for a in other)
        # nothing left: the step says so
        assert await step.action(StepLog()) == "no running ECS task of families broker-*, system on trading"
    finally:
        ctx.close()


async def test_kill_step_by_tag_stops_only_this_profiles_tasks(aws, tmp_path):
    ctx = _setup(aws, tmp_path, families="[]", extra='kill_by = "tag"')
    try:
        ours = run(aws, "system", tags=[{"key": "opsconsole:profile", "value": "preprod"}])
        theirs = run(aws, "system", tags=[{"key": "opsconsole:profile", "value": "prod"}]) + run(aws, "other-team")
        (step,) = _session(ctx).kill_steps()
        log = StepLog()
        await step.action(log)
        assert [o.ident.split(" ")[0] for o in log.objects] == ours and log.counts() == {"confirmed": 1}
        assert all(t["lastStatus"] == "RUNNING" for t in describe(aws, theirs))
    finally:
        ctx.close()


async def test_kill_step_reports_tasks_not_seen_stopped_within_the_deadline(aws, tmp_path, monkeypatch):
    ctx = _setup(aws, tmp_path)
    try:
        (arn,) = run(aws, "system")
        session = _session(ctx)
        real = session.client.describe

        async def never_stopped(arns):  # an agent that does not answer: the task stays RUNNING
            tasks = await real(arns)
            for t in tasks:
                t.raw["lastStatus"] = "RUNNING"
            return tasks

        monkeypatch.setattr(session.client, "describe", never_stopped)
        from opsconsole.backends.ecs.kill import ecs_kill_step

        step = ecs_kill_step(session, deadline=2.0)
        log = StepLog()
        await step.action(log)
        assert log.counts() == {"not confirmed": 1} and log.verdict() == "unknown"
    finally:
        ctx.close()


def test_task_states_and_exit_codes_as_ecs_reports_them():
    def task(status, codes, **kw):
        return EcsTask({"taskArn": "arn:aws:ecs:r:1:task/c/abc", "taskDefinitionArn": "arn:aws:ecs:r:1:task-definition/f:7",
                        "lastStatus": status, "containers": [{"name": f"c{i}", "exitCode": c} for i, c in enumerate(codes)],
                        **kw})

    assert task("PROVISIONING", [None]).state is State.QUEUED
    assert task("DEACTIVATING", [None]).state is State.RUNNING and task("RUNNING", [0]).exit_code is None
    oom = task("STOPPED", [0, 137], stoppedReason="OutOfMemoryError: Container killed due to memory usage")
    assert oom.state is State.FAILED and oom.exit_code == 137 and oom.cells()["exit"] == "0,137"
    assert task("STOPPED", [0, 0]).state is State.SUCCESS
    never = task("STOPPED", [None], stopCode="TaskFailedToStart", stoppedReason="CannotPullContainerError")
    assert never.state is State.FAILED and never.exit_code is None and never.cells()["exit"] == "-"
    assert task("STOPPED", [143], stopCode="UserInitiated").state is State.STOPPED
    assert (task("RUNNING", []).family, task("RUNNING", []).revision) == ("f", "7")
