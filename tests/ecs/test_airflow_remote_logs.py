"""Airflow task logs from Airflow's remote log storage, laid out as Airflow's S3 and CloudWatch
task handlers write them (`dag_id=…/run_id=…/task_id=…/[map_index=N/]attempt=N.log`): a finished
try opens there at its tail by range; a try absent from the storage falls back to the REST API.
No Airflow server is needed for the mapping: the objects are written here as Airflow writes them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ecs_helpers import put_events
from opsconsole.backends import registry
from opsconsole.backends.airflow import AirflowSession
from opsconsole.backends.airflow.models import AirflowTaskInstance
from opsconsole.backends.airflow.remote_logs import cloudwatch_location, log_relative_path, open_remote_log
from opsconsole.backends.airflow.sources import AirflowTasksSource
from opsconsole.backends.base import SessionEnv
from opsconsole.config.settings import ConfigError, parse_config
from opsconsole.domain.items import Item
from opsconsole.domain.models import utcnow
from opsconsole.domain.states import State
from opsconsole.logs.follow import LogDocument
from opsconsole.logs.ref import RangedLog, StreamLog

DAG, RUN = "test.daily_live_system_run_reconcile_fargate2_juraj", "scheduled__2023-10-05T11:40:00+00:00"
MB = 1 << 20


def _session(tmp_path: Path, remote: str, endpoint: str) -> AirflowSession:
    table = {"url": "http://127.0.0.1:9", "timeout": 5,
             "remote_logs": {"url": remote, "region": "us-east-1", "endpoint_url": endpoint}}
    backend = registry.load("airflow")
    settings = backend.settings(table)
    env = SessionEnv(profile="pre", environment="PREPROD", readonly=False, settings=settings,
                     store=lambda: None, data_dir=tmp_path / "data", clock=utcnow)
    return backend.open(env)


def _ti(task: str = "C5b.system_run", try_number: int = 2, map_index: int = -1, state: State = State.SUCCESS):
    return AirflowTaskInstance(dag_id=DAG, run_id=RUN, task_id=task, map_index=map_index, try_number=try_number,
                               state=state, raw_state=state.value)


def test_the_layout_is_airflows():
    assert log_relative_path("d", "r", "t", 3) == "dag_id=d/run_id=r/task_id=t/attempt=3.log"
    assert log_relative_path("d", "r", "t", 1, 4) == "dag_id=d/run_id=r/task_id=t/map_index=4/attempt=1.log"
    from opsconsole.backends.airflow.remote_logs import RemoteLogs

    remote = RemoteLogs("cloudwatch://arn:aws:logs:eu-west-1:123456789012:log-group:airflow-task-logs:*")
    assert cloudwatch_location(remote, "dag_id=d/run_id=manual__2023-10-05T11:40:00+00:00/task_id=t/attempt=1.log") == (
        "airflow-task-logs", "dag_id=d/run_id=manual__2023-10-05T11_40_00+00_00/task_id=t/attempt=1.log")


def test_remote_logs_is_a_checked_table_of_the_airflow_profile(tmp_path):
    text = '[profiles.p.airflow]\nurl = "http://a:8080"\nremote_logs = { url = "s3://b/logs", color = 1 }\n'
    with pytest.raises(ConfigError, match="color"):
        parse_config(text, str(tmp_path / "c.toml"))
    ok = parse_config(text.replace(", color = 1", ', aws_profile = "prod"'), str(tmp_path / "c.toml"))
    settings = registry.load("airflow").settings(ok.profile("p").tables["airflow"])
    assert settings.remote_logs.url == "s3://b/logs" and settings.remote_logs.aws_profile == "prod"
    assert registry.load("airflow").settings({"url": "http://a:8080"}).remote_logs is None


async def test_a_finished_try_opens_from_s3_at_its_tail(aws, tmp_path):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="airflow-logs")
    line = b"[2023-10-05, 11:40:00 UTC] {run_Cx_prod_system.py:120} DEBUG - wall_clock_time=... process_forecasts\n"
    body = line * (40 * MB // len(line)) + b"[2023-10-05, 23:40:00 UTC] {taskinstance.py:1345} INFO - Marking task as SUCCESS.\n"
    s3.put_object(Bucket="airflow-logs", Key=f"prod/dag_id={DAG}/run_id={RUN}/task_id=C5b.system_run/attempt=2.log",
                  Body=body)
    s3.put_object(Bucket="airflow-logs", Key=f"prod/dag_id={DAG}/run_id={RUN}/task_id=flatten/map_index=3/attempt=1.log",
                  Body=b"{'USDT': 6090.5617341}\n")
    session = _session(tmp_path, "s3://airflow-logs/prod/", aws.url)
    ref = await open_remote_log(session, _ti(), 2)
    assert isinstance(ref, RangedLog) and ref.reader.key.endswith("task_id=C5b.system_run/attempt=2.log")
    doc = LogDocument(ref).start()
    try:
        assert await asyncio.to_thread(doc.wait_tail, 30)
        lines = doc.lines
        start, end = lines.line_span(lines.line_count - 1)
        assert doc.source.read(start, end - start).endswith(b"Marking task as SUCCESS.")
        assert ref.reader.bytes_transferred < MB
    finally:
        doc.close(wait=True)
    mapped = await open_remote_log(session, _ti("flatten", 1, 3), 1)
    assert isinstance(mapped, RangedLog) and mapped.reader.key.endswith("task_id=flatten/map_index=3/attempt=1.log")
    # an attempt not in the storage: None (the REST API serves it)
    assert await open_remote_log(session, _ti(try_number=1), 1) is None


async def test_the_pane_opens_remote_logs_of_finished_tries_and_falls_back_to_the_api(aws, tmp_path, monkeypatch):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="airflow-logs")
    s3.put_object(Bucket="airflow-logs", Key=f"dag_id={DAG}/run_id={RUN}/task_id=C5b.system_run/attempt=2.log",
                  Body=b"done\n")
    session = _session(tmp_path, "s3://airflow-logs", aws.url)
    source = AirflowTasksSource(session, DAG, RUN)
    finished, older, running = _ti(), _ti(try_number=1), _ti("C5b.run_notebooks", 1, state=State.RUNNING)
    source.objects = {ti.key: ti for ti in (finished, older, running)}
    api = []

    async def from_the_api(item):
        api.append(item.key)
        return "api-job"

    monkeypatch.setattr(source, "start_log", from_the_api)
    ref = await source.open_log(Item(key=finished.key, state=State.SUCCESS, cells={}))
    assert isinstance(ref, RangedLog) and api == []
    fallback = await source.open_log(Item(key=older.key, state=State.SUCCESS, cells={}))
    assert isinstance(fallback, StreamLog) and api == [older.key]  # not in the storage
    await source.open_log(Item(key=running.key, state=State.RUNNING, cells={}))
    assert api == [older.key, running.key]  # a running try is read through the API


async def test_a_finished_try_opens_from_cloudwatch(aws, tmp_path):
    path = log_relative_path(DAG, RUN, "C5b.flatten_account2", 1)
    put_events(aws, "airflow-task-logs", path.replace(":", "_"),
               ["{'BNB': 0.0,", " 'USDT': 6090.5617341,", " 'XRP': 0.0}"])
    session = _session(tmp_path, "cloudwatch://airflow-task-logs", aws.url)
    ref = await open_remote_log(session, _ti("C5b.flatten_account2", 1), 1)
    assert isinstance(ref, StreamLog)
    for _ in range(200):
        if ref.job.complete:
            break
        await asyncio.sleep(0.05)
    assert ref.job.state == "done" and ref.job.path.read_text().splitlines()[1] == " 'USDT': 6090.5617341,"
    assert await open_remote_log(session, _ti("C5b.flatten_account1", 1), 1) is None
    await session.aclose()
