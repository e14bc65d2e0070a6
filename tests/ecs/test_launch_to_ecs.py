"""Launch → ECS → ledger: a preset with `target = "ecs"` runs one task per sweep point (the run
kind's command as the container's command, the preset's environment, opsconsole tags, the
profile's network configuration, at most `max_parallel` submissions at once); the ledger
follows each task to STOPPED with its exit code. From the Launch screen too."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ecs_helpers import cluster, context, describe, register
from opsconsole.config.kinds import load_kinds
from opsconsole.config.presets import parse_preset
from opsconsole.domain.states import State
from opsconsole.services.launcher import launch, plan_launch
from ui_helpers import wait_for

PRESET = """kind = "broker-only"
target = "ecs"
[ecs]
task_definition = "broker-twap"
environment = { CK_STAGE = "preprod", CK_SECRET_ID = "4" }
[values]
num_bars = 2
volatility_multiple = [0.75, 1.0]
[sweep]
passivity_factor = [0.5, 0.55, 0.6, 0.65, 0.7]
"""


def _vpc(aws) -> tuple[str, str]:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="ops", Description="ops", VpcId=vpc)["GroupId"]
    return subnet, sg


def _preset(tmp_path: Path, text: str = PRESET):
    kinds = load_kinds().kinds
    path = tmp_path / "twap-ecs.toml"
    path.write_text(text)
    return parse_preset(text, path, kinds), kinds


async def test_a_sweep_runs_one_task_per_point_and_the_ledger_follows_them_to_stopped(aws, tmp_path):
    cluster(aws)
    register(aws, "broker-twap", networkMode="awsvpc", requiresCompatibilities=["FARGATE"])
    subnet, sg = _vpc(aws)
    ctx = context(aws, tmp_path, extra=f'launch_type = "FARGATE"\nsubnets = ["{subnet}"]\n'
                                       f'security_groups = ["{sg}"]\nmax_parallel = 2')
    try:
        preset, kinds = _preset(tmp_path)
        plan = plan_launch(preset, kinds[preset.kind], preset.values)
        assert plan.ok and len(plan.specs) == 5
        session = ctx.session("ecs")
        # count run_task calls in flight at once
        in_flight, peak = 0, 0
        real = session.client.run_task

        async def counting(**kw):
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                await asyncio.sleep(0.05)
                return await real(**kw)
            finally:
                in_flight -= 1

        session.client.run_task = counting
        records = await launch(ctx, plan)
        assert peak == 2
        assert [r.state for r in records] == [State.RUNNING] * 5 and all(r.external_id for r in records)
        assert {r.target for r in records} == {"ecs:broker-twap"}
        tasks = {t["taskArn"]: t for t in describe(aws, [r.external_id for r in records])}
        for record, spec in zip(records, plan.specs):
            task = tasks[record.external_id]
            (override,) = task["overrides"]["containerOverrides"]
            assert override["name"] == "main" and override["command"] == spec.command
            assert "--passivity_factor" in override["command"]
            assert {e["name"]: e["value"] for e in override["environment"]} == {"CK_STAGE": "preprod", "CK_SECRET_ID": "4"}
            tags = {t["key"]: t["value"] for t in task["tags"]}
            assert tags["opsconsole:run-id"] == str(record.id) and tags["opsconsole:preset"] == "twap-ecs"
            assert tags["opsconsole:profile"] == "preprod" and tags["opsconsole:user"]
            assert task["startedBy"] == "opsconsole" and task["launchType"] == "FARGATE"
            assert task["attachments"][0]["type"] == "ElasticNetworkInterface"
            assert {"name": "subnetId", "value": subnet} in task["attachments"][0]["details"]
        # the tasks finish by themselves: the ledger follows them to STOPPED with their exit code
        assert await session.sync() == []
        assert all(r.state is State.RUNNING for r in ctx.ledger.list_runs())
        aws.progress_tasks()
        for _ in range(10):
            assert await session.sync() == []
            if all(r.state.final for r in ctx.ledger.list_runs()):
                break
        runs = ctx.ledger.list_runs()
        assert {r.state for r in runs} == {State.SUCCESS} and {r.exit_code for r in runs} == {0}
        assert all(r.ended_at is not None for r in runs)
        # one stopped by an operator is STOPPED, with the reason recorded on the task and the run
        aws.pin_tasks()
        (again,) = await launch(ctx, plan_launch(preset, kinds[preset.kind], preset.values, sweep={}))
        await session.client.stop(again.external_id, "opsconsole: stopped from the Status pane by tester")
        await session.sync()
        record = ctx.ledger.get_run(again.id)
        assert record.state is State.STOPPED and record.error == "opsconsole: stopped from the Status pane by tester"
    finally:
        ctx.close()


async def test_launch_is_refused_when_halted_or_outside_the_families(aws, tmp_path):
    cluster(aws)
    register(aws, "broker-twap")
    register(aws, "other-team")
    ctx = context(aws, tmp_path)
    try:
        preset, kinds = _preset(tmp_path, PRESET.replace('"broker-twap"', '"other-team"'))
        plan = plan_launch(preset, kinds[preset.kind], preset.values, sweep={})
        try:
            await launch(ctx, plan)
            raise AssertionError("launched outside the profile's families")
        except Exception as exc:  # LaunchRefused
            assert "task family 'other-team' is not one of profile 'preprod'" in str(exc)
        assert ctx.ledger.list_runs() == []
        assert aws.client("ecs").list_tasks(cluster="trading")["taskArns"] == []
    finally:
        ctx.close()


async def test_run_task_failures_are_recorded_on_the_run(aws, tmp_path):
    cluster(aws)
    ctx = context(aws, tmp_path)
    try:
        preset, kinds = _preset(tmp_path, PRESET.replace('task_definition = "broker-twap"',
                                                         'task_definition = "broker-twap:7"\ncontainer = "main"'))
        (record,) = await launch(ctx, plan_launch(preset, kinds[preset.kind], preset.values, sweep={}))
        assert record.state is State.FAILED and record.error.startswith("run_task failed:")
    finally:
        ctx.close()


async def test_launch_screen_sends_the_preset_to_ecs(aws, tmp_path, make_app):
    from opsconsole.ui.screens.launch import LaunchScreen
    from aws_peer import ecs_config

    cluster(aws)
    register(aws, "broker-twap")
    presets = Path(os.environ["XDG_CONFIG_HOME"]) / "opsconsole" / "presets"
    presets.mkdir(parents=True, exist_ok=True)
    (presets / "twap-ecs.toml").write_text(PRESET.replace("0.5, 0.55, 0.6, 0.65, 0.7", "0.5, 0.6"))
    app = make_app(ecs_config(aws.url, extra='launch_type = "FARGATE"'))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen))
        screen = app.screen
        await wait_for(pilot, lambda: getattr(screen, "catalog", None) is not None
                       and any(p.name == "twap-ecs" for p in screen.catalog.presets))
        options = screen.query_one("#presets")
        options.highlighted = [p.name for p in screen.catalog.presets].index("twap-ecs")
        await wait_for(pilot, lambda: screen.plan is not None and screen.plan.preset.name == "twap-ecs"
                       and len(screen.plan.specs) == 2)
        assert "ECS task broker-twap" in str(screen.plan.target_label)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: len(app.context.ledger.list_runs()) == 2
                       and all(r.external_id for r in app.context.ledger.list_runs()), timeout=30)
        runs = app.context.ledger.list_runs()
    assert {r.target for r in runs} == {"ecs:broker-twap"}
    assert len(describe(aws, [r.external_id for r in runs])) == 2

