"""The `[profiles.P.ecs]` table and a preset's `[ecs]` table: schemas and typed settings.

Credentials never appear here: `aws_profile` names a profile of the user's ~/.aws files; without
it boto3's standard chain applies (environment, ~/.aws default profile, SSO, instance role)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Mapping

from opsconsole.config.schema import Bool, List, MapOf, Num, Str, Table, Url
from opsconsole.logs.aws import AwsConfig

LAUNCH_TYPES = ("FARGATE", "EC2", "EXTERNAL")
KILL_BY = ("families", "tag")
TAG_RUN_ID, TAG_PRESET, TAG_USER, TAG_PROFILE = "opsconsole:run-id", "opsconsole:preset", "opsconsole:user", "opsconsole:profile"

SCHEMA = Table({
    "cluster": Str(),
    "aws_profile": Str(),
    "region": Str(),
    "log_group": Str(),
    "endpoint_url": Url(),
    "task_families": List(Str()),
    "timeout": Num(min=0.5, max=600),
    "poll_interval": Num(min=1, max=3600),
    # run_task's network configuration (awsvpc: Fargate, or EC2 tasks in awsvpc mode)
    "launch_type": Str(choices=LAUNCH_TYPES),
    "platform_version": Str(),
    "subnets": List(Str()),
    "security_groups": List(Str()),
    "assign_public_ip": Bool(),
    # what the kill-switch stops: running tasks of task_families, or tasks tagged opsconsole:profile=<profile>
    "kill_by": Str(choices=KILL_BY),
    "max_parallel": Num(integer=True, min=1, max=100),
    "stopped_limit": Num(integer=True, min=0, max=1000),
    "task_limit": Num(integer=True, min=1, max=100000),
    "services": Bool(),
}, required=("cluster",))

PRESET_SCHEMA = Table({
    "task_definition": Str(),   # family, family:revision or an ARN
    "container": Str(),         # the container whose command is overridden (default: the first)
    "environment": MapOf(Str(nonempty=False)),
    "launch_type": Str(choices=LAUNCH_TYPES),
})


@dataclass(frozen=True)
class EcsSettings:
    cluster: str
    aws_profile: str | None = None
    region: str | None = None
    log_group: str | None = None
    endpoint_url: str | None = None
    task_families: tuple[str, ...] = ()
    timeout: float = 20.0
    poll_interval: float = 5.0
    launch_type: str | None = None
    platform_version: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool = False
    kill_by: str = "families"
    max_parallel: int = 4
    stopped_limit: int = 100     # recently stopped tasks shown
    task_limit: int = 2000       # tasks listed at most per refresh (and per kill listing)
    services: bool = True

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> "EcsSettings":
        families = tuple(table.get("task_families") or ())
        return cls(
            cluster=str(table.get("cluster", "default")), aws_profile=table.get("aws_profile"),
            region=table.get("region"), log_group=table.get("log_group"),
            endpoint_url=table.get("endpoint_url"), task_families=families,
            timeout=float(table.get("timeout", 20.0)), poll_interval=float(table.get("poll_interval", 5.0)),
            launch_type=table.get("launch_type"), platform_version=table.get("platform_version"),
            subnets=tuple(table.get("subnets") or ()), security_groups=tuple(table.get("security_groups") or ()),
            assign_public_ip=bool(table.get("assign_public_ip", False)),
            kill_by=str(table.get("kill_by") or ("families" if families else "tag")),
            max_parallel=int(table.get("max_parallel", 4)), stopped_limit=int(table.get("stopped_limit", 100)),
            task_limit=int(table.get("task_limit", 2000)), services=bool(table.get("services", True)),
        )

    @property
    def aws(self) -> AwsConfig:
        return AwsConfig(profile=self.aws_profile, region=self.region, endpoint_url=self.endpoint_url,
                         timeout=self.timeout)

    def wants_family(self, family: str) -> bool:
        """True if `family` matches one of `task_families` (no patterns: every family)."""
        return not self.task_families or any(fnmatch.fnmatchcase(family, p) for p in self.task_families)

    def network_configuration(self) -> dict[str, Any] | None:
        if not self.subnets:
            return None
        vpc: dict[str, Any] = {"subnets": list(self.subnets),
                               "assignPublicIp": "ENABLED" if self.assign_public_ip else "DISABLED"}
        if self.security_groups:
            vpc["securityGroups"] = list(self.security_groups)
        return {"awsvpcConfiguration": vpc}
