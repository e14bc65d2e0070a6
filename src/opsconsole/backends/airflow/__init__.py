"""The Airflow backend: Airflow 2 (`/api/v1`) and 3 (`/api/v2`) over REST (httpx, imported on
first use). Its pane drills DAGs → runs → task instances; its actions trigger, clear, mark
failed and pause; its launch target triggers one DAG run per sweep point; its kill step marks
the profile's running DAG runs failed and pauses their DAGs; task logs are streams spooled by
the log engine. See docs/airflow.md.

This module stays light: the client, sources and spool are imported when a session needs them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from opsconsole.backends.airflow.remote_logs import SCHEMA as REMOTE_LOGS_SCHEMA
from opsconsole.backends.base import Backend, BackendSession, Preview, SessionEnv
from opsconsole.config.schema import Bool, List, Num, Str, Table, Url
from opsconsole.domain import policy
from opsconsole.domain.actions import Action

if TYPE_CHECKING:
    from opsconsole.backends.airflow.client import AirflowClient, AirflowSettings
    from opsconsole.backends.airflow.logs import AirflowLogSpool
    from opsconsole.backends.airflow.models import AirflowDag
    from opsconsole.backends.base import LaunchTarget, PaneSource
    from opsconsole.domain.kill import KillStep

SCHEMA = Table({
    "url": Url(),
    "username_env": Str(env_name=True),
    "password_env": Str(env_name=True),
    "dags": List(Str()),
    "tags": List(Str()),
    "verify_tls": Bool(),
    "timeout": Num(min=0.1, max=600),
    "poll_interval": Num(min=0.5, max=3600),
    "remote_logs": REMOTE_LOGS_SCHEMA,
}, required=("url",))
PRESET_SCHEMA = Table({"dag_id": Str(), "run_id_prefix": Str()})

# The pane's actions, on the selected item of the current level (DAG, run or task instance).
TRIGGER = Action("airflow.trigger", "Trigger", "t", policy.LAUNCH, "trigger a run of the DAG (its preset's typed form, or a JSON conf)")
CLEAR = Action("airflow.clear", "Clear ↓", "c", policy.LAUNCH, "clear the task (and downstream) or the run: they run again")
CLEAR_FAILED = Action("airflow.clear_failed", "Clear failed", "C", policy.LAUNCH, "clear the failed tasks: they run again")
MARK_FAILED = Action("airflow.mark_failed", "Mark failed", "F", policy.CHANGE, "mark the run or task instance failed")
# unpausing starts work (the scheduler runs the DAG again): declared as launch; a pause is a change
PAUSE = Action("airflow.pause", "Pause/unpause", "p", policy.LAUNCH, "pause or unpause the DAG")
ACTIONS = (TRIGGER, CLEAR, CLEAR_FAILED, MARK_FAILED, PAUSE)


class AirflowBackend(Backend):
    name = "airflow"
    title = "Airflow"
    schema = SCHEMA
    preset_schema = PRESET_SCHEMA
    actions = ACTIONS

    def settings(self, table: Any) -> "AirflowSettings":
        from opsconsole.backends.airflow.client import AirflowSettings

        settings = AirflowSettings.from_profile(table or {})
        if table and table.get("remote_logs"):  # finished task logs from S3/CloudWatch (remote_logs.py)
            import dataclasses

            from opsconsole.backends.airflow.remote_logs import RemoteLogs

            remote = RemoteLogs.from_table(table["remote_logs"], settings.timeout)
            settings = dataclasses.replace(settings, remote_logs=remote)
        return settings

    def open(self, env: SessionEnv) -> "AirflowSession":
        return AirflowSession(self, env)

    def preset_problems(self, table: Mapping[str, Any]) -> list[tuple[tuple[object, ...], str]]:
        if not table.get("dag_id"):
            return [(("target",), 'target airflow needs the DAG to trigger: [airflow] dag_id = "..."')]
        return []

    def ledger_target(self, preset: Any) -> str:
        return f"airflow:{preset.table('airflow').get('dag_id')}"

    def target_label(self, preset: Any) -> str:
        return f"airflow DAG {preset.table('airflow').get('dag_id')}"

    def preview(self, spec: Any) -> list[Preview]:
        import json

        return [Preview("DAG run conf:", json.dumps(spec.conf), "json")]


class AirflowSession(BackendSession):
    """One profile's Airflow: one client (one login, one version detection per session) and one
    log spool, shared by the pane, the Runs screen's sync and the launch target."""

    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.settings: AirflowSettings = env.settings
        self._client: AirflowClient | None = None
        self._spool: AirflowLogSpool | None = None
        self.dags: dict[str, AirflowDag] = {}  # as last listed (the pause toggle reads is_paused)

    @property
    def client(self) -> "AirflowClient":
        """The session's client (no request is made here: it connects on first use)."""
        if self._client is None:
            from opsconsole.backends.airflow.client import AirflowClient

            self._client = AirflowClient(self.settings)
        return self._client

    @property
    def spool(self) -> "AirflowLogSpool":
        if self._spool is None:
            from opsconsole.backends.airflow.logs import AirflowLogSpool

            self._spool = AirflowLogSpool(self.client, self.env.data_dir / "spool" / "airflow")
        return self._spool

    def sources(self) -> list["PaneSource"]:
        from opsconsole.backends.airflow.sources import AirflowDagsSource

        return [AirflowDagsSource(self)]

    def targets(self) -> list["LaunchTarget"]:
        from opsconsole.backends.airflow.target import AirflowTarget

        return [AirflowTarget(self)]

    def kill_steps(self) -> list["KillStep"]:
        from opsconsole.backends.airflow.kill import airflow_kill_step

        return [airflow_kill_step(self.settings, self.env.kill_deadline)]

    async def run_logs(self, run: Any, parts: Any = ("*",)) -> Any:
        from opsconsole.backends.airflow.runlogs import airflow_run_logs

        return await airflow_run_logs(self, run, parts)

    async def sync(self) -> list[str]:
        from opsconsole.backends.airflow.target import sync_airflow_runs

        return await sync_airflow_runs(self)

    async def aclose(self) -> None:
        """Stop the log jobs and close the connections. The session stays usable (the client
        reconnects on its next call, keeping its version and token)."""
        if self._spool is not None:
            await self._spool.close()
        if self._client is not None:
            await self._client.aclose()


BACKEND = AirflowBackend()


def session_for(client: "AirflowClient", data_dir: Path, profile: str = "-") -> AirflowSession:
    """A session around a client someone already holds (benchmarks, tools): its settings,
    its spool under `data_dir`; no ledger."""
    from opsconsole.domain.models import utcnow

    def no_store() -> Any:
        raise RuntimeError("this Airflow session has no ledger")

    env = SessionEnv(profile=profile, environment="", readonly=False, settings=client.settings, store=no_store,
                     data_dir=Path(data_dir), clock=utcnow)
    session = AirflowSession(BACKEND, env)
    session._client = client
    return session
