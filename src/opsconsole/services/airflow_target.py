"""Launch target: one Airflow DAG run per sweep point, with the rendered conf and a readable
run id; every run is recorded in the ledger and its state kept in sync with Airflow."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from opsconsole.backends.local import LaunchRefused
from opsconsole.domain.models import RunRecord
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.services.context import Context
    from opsconsole.services.launcher import LaunchPlan

AIRFLOW_PREFIX = "airflow:"


def _client(context: "Context"):
    from opsconsole.backends.airflow import AirflowClient, AirflowSettings

    table = context.profile.airflow
    if not table:
        raise LaunchRefused(f"profile {context.profile.name!r} has no [profiles.{context.profile.name}.airflow] "
                            "section: cannot trigger DAG runs")
    settings = AirflowSettings.from_profile(table)
    return AirflowClient(settings), settings


class AirflowTarget:
    def __init__(self, context: "Context") -> None:
        self._context = context

    async def launch(self, plan: "LaunchPlan") -> list[RunRecord]:
        from opsconsole.services.launcher import airflow_run_id

        ledger = self._context.ledger
        if await asyncio.to_thread(ledger.halt_latch) is not None:
            raise LaunchRefused("HALTED: launches are refused until the kill-switch latch is released")
        client, settings = _client(self._context)
        dag_id = plan.preset.airflow["dag_id"]
        if not settings.wants(dag_id):
            raise LaunchRefused(f"DAG {dag_id!r} is not one of profile {self._context.profile.name!r}'s "
                                f"dags ({', '.join(settings.dags)})")
        now = datetime.now(timezone.utc)
        records: list[RunRecord] = []
        try:
            for index, spec in enumerate(plan.specs, start=1):
                run_id = airflow_run_id(plan.preset, index, now)
                record = await asyncio.to_thread(ledger.create_run, spec)
                # a kill-switch fired mid-sweep must not be overtaken by the rest of the sweep
                if await asyncio.to_thread(ledger.halt_latch) is not None:
                    record = await asyncio.to_thread(ledger.update_run, record.id, state=State.SKIPPED,
                                                     error="HALTED before it was triggered",
                                                     ended_at=datetime.now(timezone.utc))
                    records.append(record)
                    continue
                try:
                    run = await client.trigger(dag_id, spec.conf, run_id=run_id,
                                               note=f"opsconsole run {record.id} ({plan.preset.name})")
                except Exception as exc:  # noqa: BLE001 - recorded on the run, the others go on
                    record = await asyncio.to_thread(ledger.update_run, record.id, state=State.FAILED,
                                                     external_id=run_id, error=f"trigger failed: {exc}",
                                                     ended_at=datetime.now(timezone.utc))
                else:
                    record = await asyncio.to_thread(ledger.update_run, record.id, external_id=run.run_id,
                                                     state=run.state, started_at=run.start_date)
                records.append(record)
        finally:
            await client.aclose()
        return records


async def sync_airflow_runs(context: "Context") -> list[str]:
    """Bring the ledger's active Airflow runs up to date with the server, through the
    profile's shared client (one login per session). Returns the problems met, one per run
    (a deleted run, a server down); the rows of those runs stay as last seen."""
    ledger = context.ledger
    active = [r for r in await asyncio.to_thread(ledger.active_runs)
              if r.target.startswith(AIRFLOW_PREFIX) and r.external_id]
    if not active or not context.profile.airflow:
        return []
    from opsconsole.services.airflow_sources import AirflowHub

    client = AirflowHub.for_context(context).client
    problems: list[str] = []
    for record in active:
        try:
            run = await client.get_run(record.target[len(AIRFLOW_PREFIX):], record.external_id)
        except Exception as exc:  # noqa: BLE001 - reported by the caller, the other runs go on
            problems.append(f"run {record.id} ({record.external_id}): {type(exc).__name__}: {exc}")
            continue
        if (run.state, run.start_date, run.end_date) != (record.state, record.started_at, record.ended_at):
            await asyncio.to_thread(ledger.update_run, record.id, state=run.state,
                                    started_at=run.start_date, ended_at=run.end_date)
    return problems
