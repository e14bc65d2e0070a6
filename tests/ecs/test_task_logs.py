"""An ECS task's log from the pane: its container's awslogs stream, followed while the task
runs, ended once it STOPPED."""

from __future__ import annotations

import asyncio

from ecs_helpers import LOG_GROUP, cluster, context, put_events, register, run
from opsconsole.logs.ref import StreamLog


async def test_ecs_task_log_from_the_pane_ends_when_the_task_stopped(aws, tmp_path):
    cluster(aws)
    register(aws, "system", prefix="ecs")
    ctx = context(aws, tmp_path)
    try:
        (arn,) = run(aws, "system")
        task_id = arn.rsplit("/", 1)[-1]
        put_events(aws, LOG_GROUP, f"ecs/main/{task_id}",
                   ["# wall_clock_time=2023-10-05 07:40:00.078250-04:00: done waiting", "trading..."])
        source = ctx.session("ecs").sources()[0]
        items = {i.key: i for i in await source.fetch()}
        ref = await source.open_log(items[arn])
        assert isinstance(ref, StreamLog) and "system:1" in ref.label
        job = ref.job
        for _ in range(200):
            if job.lines >= 2:
                break
            await asyncio.sleep(0.05)
        assert job.path.read_text().splitlines() == ["# wall_clock_time=2023-10-05 07:40:00.078250-04:00: done waiting",
                                                     "trading..."]
        assert not job.complete  # the task runs: the log is followed
        aws.client("ecs").stop_task(cluster="trading", task=arn, reason="done")
        for _ in range(200):
            if job.complete:
                break
            await asyncio.sleep(0.05)
        assert job.state == "done"
        # the containers level opens the same stream by container name
        (container,) = await source.drill(items[arn]).fetch()
        assert (await source.drill(items[arn]).open_log(container)).job.path == job.path
    finally:
        ctx.close()
