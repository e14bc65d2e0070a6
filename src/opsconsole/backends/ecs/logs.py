"""Where an ECS task's log lives and how it opens.

* A container with the ``awslogs`` driver writes to group ``awslogs-group``, stream
  ``<awslogs-stream-prefix>/<container>/<task id>``: it opens as a CloudWatch stream, tail first,
  followed until the task STOPPED (then the stream ends). Without a log configuration the
  profile's ``log_group`` is tried with the prefix ``ecs``.
* ``opsconsole tail s3://bucket/key`` opens the object by range (its tail: < 1 MB transferred
  for any size); ``cloudwatch://group//stream`` opens a stream as above, followed forever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsconsole.backends.ecs.models import EcsTask
from opsconsole.backends.ecs.settings import EcsSettings
from opsconsole.logs.aws import AwsConfig, BackgroundSpool, CloudWatchStream, S3RangeReader, parse_cloudwatch_url, parse_s3_url
from opsconsole.logs.ref import RangedLog, StreamLog

if TYPE_CHECKING:
    from opsconsole.backends.ecs import EcsSession
    from opsconsole.logs.ref import LogRef


def log_location(definition: dict[str, Any], task: EcsTask, container: str | None,
                 fallback_group: str | None) -> tuple[str, str, str | None]:
    """(group, stream, region) of `container` (default: the first container with a log
    configuration, else the first) of `task`; LookupError when the task logs nowhere known."""
    defs = list(definition.get("containerDefinitions") or [])
    if container is not None:
        defs = [d for d in defs if d.get("name") == container] or [{"name": container}]
    with_logs = [d for d in defs if (d.get("logConfiguration") or {}).get("logDriver") == "awslogs"]
    chosen = (with_logs or defs or [{"name": (task.containers or [{}])[0].get("name", "")}])[0]
    name = str(chosen.get("name", ""))
    options = (chosen.get("logConfiguration") or {}).get("options") or {}
    if (chosen.get("logConfiguration") or {}).get("logDriver") == "awslogs" and options.get("awslogs-group"):
        prefix = options.get("awslogs-stream-prefix")
        if not prefix:
            raise LookupError(f"{name}: awslogs without awslogs-stream-prefix names its streams by container id; "
                              "set a stream prefix in the task definition")
        return str(options["awslogs-group"]), f"{prefix}/{name}/{task.id}", options.get("awslogs-region")
    if fallback_group:
        return fallback_group, f"ecs/{name}/{task.id}", None
    raise LookupError(f"task {task.id}: container {name or '?'} has no awslogs log configuration "
                      "(and the profile names no log_group)")


async def task_log(session: "EcsSession", task: EcsTask, container: str | None) -> "LogRef":
    """The CloudWatch log of one container of `task` as a spooled stream (tail first)."""
    client = session.client
    definition = await client.task_definition(str(task.raw.get("taskDefinitionArn", "")))
    group, stream, region = log_location(definition, task, container, session.settings.log_group)
    aws = session.settings.aws
    if region and region != aws.region:
        aws = AwsConfig(aws.profile, region, aws.endpoint_url, aws.timeout)

    def finished() -> bool:
        answer = client._blocking("describe_tasks", cluster=session.settings.cluster, tasks=[task.arn])
        tasks = answer.get("tasks") or []
        return not tasks or tasks[0].get("lastStatus") == "STOPPED"

    cw = CloudWatchStream(group, stream, aws, finished=finished,
                          label=f"{task.family}:{task.revision} {task.id[:12]} {stream.split('/')[-2]}")
    job = await session.spool.open(cw)
    return StreamLog(job, cw.label)


def open_url(url: str, settings: EcsSettings | None) -> "LogRef":
    """`s3://bucket/key` as a ranged object, `cloudwatch://group//stream` as a followed stream,
    with the profile's AWS settings (or the user's defaults)."""
    from opsconsole.config.paths import data_dir

    aws = settings.aws if settings is not None else AwsConfig()
    scheme = url.partition("://")[0].lower()
    spool_root = data_dir() / "spool" / "ecs"
    if scheme == "s3":
        bucket, key = parse_s3_url(url)
        return RangedLog(S3RangeReader(bucket, key, aws, spool_dir=spool_root), url)
    if scheme in ("cloudwatch", "logs"):
        group, stream = parse_cloudwatch_url(url)
        cw = CloudWatchStream(group, stream, aws)
        return StreamLog(BackgroundSpool.shared(spool_root).open(cw), url)
    raise ValueError(f"{url}: the ECS backend reads s3:// and cloudwatch:// URLs")
