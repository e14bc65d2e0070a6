"""A ledger run's logs from Airflow: the task instances of its DAG run whose task ids match the
wanted parts (``*flatten_account*``), each try's log spooled whole through the session's log
spool (cached: a finished try is downloaded once), in the order the tasks started."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from opsconsole.backends.base import RunLog
from opsconsole.domain.models import RunRecord

if TYPE_CHECKING:
    from opsconsole.backends.airflow import AirflowSession

PREFIX = "airflow:"


async def airflow_run_logs(session: "AirflowSession", run: RunRecord, parts: Sequence[str],
                           timeout: float = 600.0) -> list[RunLog] | None:
    if not run.target.startswith(PREFIX) or not run.external_id:
        return None
    dag_id = run.target[len(PREFIX):]
    tis = await session.client.list_task_instances(dag_id, run.external_id)
    wanted = [ti for ti in tis if ti.try_number >= 1 and any(fnmatchcase(ti.task_id, p) for p in parts)]
    earliest = datetime.min.replace(tzinfo=timezone.utc)
    wanted.sort(key=lambda ti: (ti.start_date or earliest, ti.task_id, ti.map_index))
    out: list[RunLog] = []
    for ti in wanted:
        job = await session.spool.open(ti, ti.try_number, running=ti.state.active)
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        while not job.complete and not ti.state.active:
            if loop.time() > until:
                raise TimeoutError(f"{ti.label}: log not downloaded in {timeout:.0f}s")
            await asyncio.sleep(0.05)
        if job.error:
            raise RuntimeError(f"{ti.label}: log download failed: {job.error}")
        out.append(RunLog(ti.label, job.path, ti.start_date))
    return out
