"""moto in server mode for the tests: the peer handle (reset, state pinning, clients) and the config."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from opsconsole.logs import aws as aws_logs

REGION = "us-east-1"


@dataclass
class Aws:
    url: str

    def post(self, path: str, body: dict | None = None) -> None:
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def reset(self) -> None:
        self.post("/moto-api/reset")
        self.pin_tasks()

    def pin_tasks(self) -> None:
        self.post("/moto-api/state-manager/set-transition",
                  {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000_000}})

    def progress_tasks(self) -> None:
        """Tasks move one state per describe_tasks call (RUNNING → … → STOPPED in four)."""
        self.post("/moto-api/state-manager/set-transition",
                  {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1}})

    def client(self, service: str):
        return aws_logs.client(service, self.config)

    @property
    def config(self) -> aws_logs.AwsConfig:
        return aws_logs.AwsConfig(region=REGION, endpoint_url=self.url, timeout=20.0)


def ecs_config(url: str, *, families: str = '["broker-*", "system"]', extra: str = "", profile_extra: str = "") -> str:
    return f"""
default_profile = "preprod"
[profiles.preprod]
environment = "PREPROD"
{profile_extra}
[profiles.preprod.ecs]
cluster = "trading"
region = "{REGION}"
endpoint_url = "{url}"
task_families = {families}
poll_interval = 1
{extra}
"""


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
