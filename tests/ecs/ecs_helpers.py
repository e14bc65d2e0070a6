"""Setting up a cluster in moto the way the runbook's experiments look: task definitions with
the awslogs driver, tasks started by someone else, by opsconsole, of other families."""

from __future__ import annotations

import time
from pathlib import Path

from opsconsole.config.settings import parse_config
from opsconsole.services.context import Context

from aws_peer import REGION, Aws, ecs_config

LOG_GROUP = "/ecs/trading"


def register(aws: Aws, family: str, container: str = "main", prefix: str = "ecs", **kw) -> str:
    ecs = aws.client("ecs")
    answer = ecs.register_task_definition(family=family, **kw, containerDefinitions=[{
        "name": container, "image": "cmamp:prod", "memory": 512, "cpu": 256, "essential": True,
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": LOG_GROUP, "awslogs-stream-prefix": prefix, "awslogs-region": REGION}}}])
    return answer["taskDefinition"]["taskDefinitionArn"]


def cluster(aws: Aws, name: str = "trading") -> None:
    aws.client("ecs").create_cluster(clusterName=name)


def run(aws: Aws, family: str, n: int = 1, **kw) -> list[str]:
    answer = aws.client("ecs").run_task(cluster="trading", taskDefinition=family, count=n, launchType="FARGATE", **kw)
    assert not answer["failures"], answer["failures"]
    return [t["taskArn"] for t in answer["tasks"]]


def describe(aws: Aws, arns: list[str]) -> list[dict]:
    return aws.client("ecs").describe_tasks(cluster="trading", tasks=arns, include=["TAGS"])["tasks"]


def context(aws: Aws, tmp_path: Path, **kw) -> Context:
    config = parse_config(ecs_config(aws.url, **kw), str(tmp_path / "config.toml"))
    return Context.create(config, None, data_dir=tmp_path / "data")


def put_events(aws: Aws, group: str, stream: str, lines: list[str], start_ms: int | None = None) -> None:
    """Write `lines` as events, one ms apart and ending now (CloudWatch refuses events older
    than 14 days), in batches of 10,000 events / < 1 MB, as the API demands."""
    if start_ms is None:
        start_ms = int(time.time() * 1000) - len(lines)
    logs = aws.client("logs")
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    batch: list[dict] = []
    size = 0
    for i, line in enumerate(lines):
        if len(batch) >= 10_000 or size + len(line) + 26 > 900_000:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch, size = [], 0
        batch.append({"timestamp": start_ms + i, "message": line})
        size += len(line) + 26
    if batch:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
