"""Launch target: one Airflow DAG run per sweep point, with the rendered conf and a readable
run id; every run — from a preset or triggered from the pane — is recorded in the ledger and its
state kept in sync with Airflow."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import LaunchRefused
from opsconsole.domain.models import RunRecord, RunSpec
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.airflow import AirflowSession
    from opsconsole.config.presets import Preset

AIRFLOW_PREFIX = "airflow:"
TRIGGER_KIND = "airflow-trigger"  # the ledger's kind of a run triggered from the pane (no run kind)


def airflow_run_id(preset: "Preset", index: int, now: datetime | None = None) -> str:
    """A readable DAG run id: opsconsole__broker-only-twap__20261122T093000__003."""
    now = now or datetime.now(timezone.utc)
    prefix = preset.table("airflow").get("run_id_prefix") or f"opsconsole__{preset.name}"
    return f"{prefix}__{now:%Y%m%dT%H%M%S}__{index:03d}"


class AirflowTarget:
    name = "airflow"

    def __init__(self, session: "AirflowSession") -> None:
        self._session = session

    async def wait(self, records: list[RunRecord], *, started_only: bool = False) -> None:
        return None  # the runs live in Airflow: the ledger follows them (sync)

    def _check(self, dag_id: str) -> None:
        session = self._session
        if not session.settings.wants(dag_id):
            raise LaunchRefused(f"DAG {dag_id!r} is not one of profile {session.env.profile!r}'s "
                                f"dags ({', '.join(session.settings.dags)})")

    async def check(self, preset: "Preset") -> None:
        """Before the confirmation: the DAG is one of the profile's and the server knows it."""
        dag_id = preset.table("airflow").get("dag_id")
        if not dag_id:
            raise LaunchRefused(f"preset {preset.name!r}: no [airflow] dag_id")
        self._check(dag_id)
        from opsconsole.backends.airflow.client import AirflowError

        try:
            await self._session.client.get_dag(dag_id)
        except AirflowError as exc:
            if exc.status == 404:
                raise LaunchRefused(f"DAG {dag_id!r} does not exist on {self._session.settings.shown_url}") from None
            raise

    async def launch(self, preset: "Preset", specs: list[RunSpec]) -> list[RunRecord]:
        store = self._session.env.store()
        if await asyncio.to_thread(store.halt_latch) is not None:
            raise LaunchRefused("HALTED: launches are refused until the kill-switch latch is released")
        dag_id = preset.table("airflow")["dag_id"]
        self._check(dag_id)
        now = datetime.now(timezone.utc)
        records: list[RunRecord] = []
        for index, spec in enumerate(specs, start=1):
            run_id = airflow_run_id(preset, index, now)
            records.append(await self._trigger_one(dag_id, spec, run_id, f"opsconsole run {{id}} ({preset.name})"))
        return records

    async def trigger_conf(self, dag_id: str, conf: dict[str, Any]) -> str:
        """The pane's trigger: one DAG run with a raw conf, recorded in the ledger like a launch."""
        store = self._session.env.store()
        if await asyncio.to_thread(store.halt_latch) is not None:
            raise LaunchRefused("HALTED: triggers are refused until the kill-switch latch is released")
        self._check(dag_id)
        spec = RunSpec(kind=TRIGGER_KIND, command=[], parameters=dict(conf), target=f"{AIRFLOW_PREFIX}{dag_id}",
                       conf=dict(conf), shell=json.dumps(conf))
        run_id = f"opsconsole__trigger__{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}"
        record = await self._trigger_one(dag_id, spec, run_id, "opsconsole run {id} (triggered from the pane)")
        if record.state is State.FAILED:
            raise RuntimeError(f"{dag_id}: {record.error} (ledger run {record.id})")
        return f"{dag_id}: triggered {record.external_id} ({record.state.value}); ledger run {record.id}"

    async def _trigger_one(self, dag_id: str, spec: RunSpec, run_id: str, note: str) -> RunRecord:
        store = self._session.env.store()
        record = await asyncio.to_thread(store.create_run, spec)
        # a kill-switch fired mid-sweep must not be overtaken by the rest of the sweep
        if await asyncio.to_thread(store.halt_latch) is not None:
            return await asyncio.to_thread(store.update_run, record.id, state=State.SKIPPED,
                                           error="HALTED before it was triggered",
                                           ended_at=datetime.now(timezone.utc))
        try:
            run = await self._session.client.trigger(dag_id, spec.conf, run_id=run_id,
                                                     note=note.format(id=record.id))
        except Exception as exc:  # noqa: BLE001 - recorded on the run, the others go on
            return await asyncio.to_thread(store.update_run, record.id, state=State.FAILED,
                                           external_id=run_id, error=f"trigger failed: {_reason(exc)}",
                                           ended_at=datetime.now(timezone.utc))
        return await asyncio.to_thread(store.update_run, record.id, external_id=run.run_id,
                                       state=run.state, started_at=run.start_date)


def _reason(exc: BaseException) -> str:
    """An exception as text that is never empty (a timeout's str() is "")."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no answer from the server)"


async def sync_airflow_runs(session: "AirflowSession") -> list[str]:
    """Bring the ledger's active Airflow runs up to date with the server, through the session's
    client (one login per session). Returns the problems met, one per run (a deleted run, a
    server down); the rows of those runs stay as last seen."""
    store = session.env.store()
    active = [r for r in await asyncio.to_thread(store.active_runs)
              if r.target.startswith(AIRFLOW_PREFIX) and r.external_id]
    if not active:
        return []
    client = session.client
    problems: list[str] = []
    for record in active:
        try:
            run = await client.get_run(record.target[len(AIRFLOW_PREFIX):], record.external_id or "")
        except Exception as exc:  # noqa: BLE001 - reported by the caller, the other runs go on
            problems.append(f"run {record.id} ({record.external_id}): {type(exc).__name__}: {exc}")
            continue
        if (run.state, run.start_date, run.end_date) != (record.state, record.started_at, record.ended_at):
            await asyncio.to_thread(store.update_run, record.id, state=run.state,
                                    started_at=run.start_date, ended_at=run.end_date)
    return problems
