"""Airflow task logs read straight from Airflow's remote log storage (S3 or CloudWatch), at
their tail, instead of through the REST API (which renders a whole 945 MB log before its first
byte: ~128 s on Airflow 3).

The profile names the location Airflow's remote logging writes to:

    [profiles.P.airflow]
    remote_logs = { url = "s3://bucket/airflow/logs", aws_profile = "prod", region = "eu-west-1" }
    # or url = "cloudwatch://airflow-task-logs" (a log group)

Airflow's layout (its default ``log_filename_template``): each try's log is
``dag_id=<dag>/run_id=<run>/task_id=<task>/[map_index=<i>/]attempt=<try>.log`` — an S3 object
below the prefix, or (CloudWatch) a stream of that name with ``:`` replaced by ``_`` in the
group. A finished try opens there by range (its tail: < 1 MB transferred); when the object or
stream is absent (remote logging off for that run, a custom template) the caller falls back to
the REST API. A running try is always read through the API (remote storage gets the log at the
try's end). The readers are the generic ones of logs/aws.py: this package does not import the
ECS backend.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from opsconsole.config.schema import Str, Table, Url

if TYPE_CHECKING:
    from opsconsole.backends.airflow import AirflowSession
    from opsconsole.backends.airflow.models import AirflowTaskInstance
    from opsconsole.logs.aws import AwsConfig
    from opsconsole.logs.ref import LogRef

SCHEMA = Table({"url": Str(), "aws_profile": Str(), "region": Str(), "endpoint_url": Url()}, required=("url",))


@dataclass(frozen=True)
class RemoteLogs:
    """Where Airflow's remote logging writes: ``s3://bucket/prefix`` or ``cloudwatch://group``."""

    url: str
    aws_profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    timeout: float = 20.0

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, timeout: float = 20.0) -> "RemoteLogs | None":
        if not table:
            return None
        return cls(str(table["url"]), table.get("aws_profile"), table.get("region"), table.get("endpoint_url"), timeout)

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0].lower()

    @property
    def aws(self) -> "AwsConfig":
        from opsconsole.logs.aws import AwsConfig

        return AwsConfig(self.aws_profile, self.region, self.endpoint_url, self.timeout)


def log_relative_path(dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
    """A try's log path in Airflow's layout (its default `log_filename_template`)."""
    mapped = f"map_index={map_index}/" if map_index is not None and map_index >= 0 else ""
    return f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/{mapped}attempt={try_number}.log"


def s3_location(remote: RemoteLogs, path: str) -> tuple[str, str]:
    rest = remote.url.partition("://")[2]
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/{path}" if prefix else path


def cloudwatch_location(remote: RemoteLogs, path: str) -> tuple[str, str]:
    """(group, stream): Airflow's CloudWatch handler takes the group from the URL (a bare name
    or a log-group ARN) and names the stream after the path with ':' replaced by '_'."""
    group = remote.url.partition("://")[2]
    if group.startswith("arn:"):
        group = group.split(":log-group:", 1)[-1].split(":", 1)[0]
    return group, path.replace(":", "_")


def _exists_s3(remote: RemoteLogs, bucket: str, key: str) -> bool:
    from opsconsole.logs.aws import client, error_code

    try:
        client("s3", remote.aws).head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound", "403"):
            return False
        raise
    return True


def _exists_cloudwatch(remote: RemoteLogs, group: str, stream: str) -> bool:
    from opsconsole.logs.aws import client, error_code

    try:
        found = client("logs", remote.aws).describe_log_streams(logGroupName=group, logStreamNamePrefix=stream, limit=5)
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return False
        raise
    return any(s.get("logStreamName") == stream for s in found.get("logStreams", []))


async def open_remote_log(session: "AirflowSession", ti: "AirflowTaskInstance", try_number: int) -> "LogRef | None":
    """The try's log from remote storage (its tail first), or None when it is not there (the
    caller reads the REST API). Raises only for an unusable `remote_logs` URL."""
    remote: RemoteLogs | None = getattr(session.settings, "remote_logs", None)
    if remote is None:
        return None
    path = log_relative_path(ti.dag_id, ti.run_id, ti.task_id, try_number, ti.map_index)
    title = f"{ti.dag_id} {ti.run_id} {ti.task_id}{'' if ti.map_index < 0 else f'[{ti.map_index}]'} try {try_number}"
    try:
        if remote.scheme == "s3":
            from opsconsole.logs.aws import S3RangeReader
            from opsconsole.logs.ref import RangedLog

            bucket, key = s3_location(remote, path)
            if not await asyncio.to_thread(_exists_s3, remote, bucket, key):
                return None
            reader = S3RangeReader(bucket, key, remote.aws, spool_dir=session.env.data_dir / "spool" / "airflow-s3")
            return RangedLog(reader, f"{title} (s3)")
        if remote.scheme in ("cloudwatch", "logs"):
            from opsconsole.logs.aws import CloudWatchStream
            from opsconsole.logs.ref import StreamLog

            group, stream = cloudwatch_location(remote, path)
            if not await asyncio.to_thread(_exists_cloudwatch, remote, group, stream):
                return None
            cw = CloudWatchStream(group, stream, remote.aws, finished=lambda: True, label=f"{title} (cloudwatch)")
            job = await session.spool.spool.open(cw)
            return StreamLog(job, cw.label)
    except Exception:  # noqa: BLE001 - storage unreachable or refused: the REST API still serves the log
        return None
    raise ValueError(f"remote_logs: {remote.url}: expected an s3://bucket/prefix or cloudwatch://group URL")
