"""A backend whose server answers with hostile text in every field it returns (registered by
the hostile tests only): item keys, cells, state labels, details, the source's title and
warning, action labels, errors. Its items are built through the Airflow models from hostile
API JSON, like a real Airflow answer would be (an anyone-can-trigger run conf)."""

from __future__ import annotations

from typing import Any

from hostile_corpus import HOSTILE

from opsconsole.backends.airflow.models import AirflowDag, AirflowRun
from opsconsole.backends.base import DESCRIBE, Backend, BackendSession, PaneSource, SessionEnv
from opsconsole.config.schema import Table
from opsconsole.domain import policy
from opsconsole.domain.actions import Action, ActionCall
from opsconsole.domain.items import Column, Item

POKE = Action("hostile.poke", f"Poke {HOSTILE}", "ctrl+o", policy.CHANGE, f"poke {HOSTILE}")

DAG_JSON = {"dag_id": f"dag{HOSTILE}", "is_paused": False, "tags": [{"name": f"tag{HOSTILE}"}],
            "owners": [f"owner{HOSTILE}"], "timetable_summary": f"@daily{HOSTILE}"}
RUN_JSON = {"dag_id": f"dag{HOSTILE}", "dag_run_id": f"manual__{HOSTILE}", "state": f"running{HOSTILE}",
            "run_type": "manual", "conf": {"strategy": HOSTILE, f"key{HOSTILE}": [HOSTILE, {"x": HOSTILE}]}}


class HostileBackend(Backend):
    name = "hostile"
    title = f"Hostile {HOSTILE}"
    schema = Table({})
    actions = (POKE,)

    def settings(self, table: Any) -> dict:
        return dict(table or {})

    def open(self, env: SessionEnv) -> "HostileSession":
        return HostileSession(self, env)


class HostileSession(BackendSession):
    def sources(self) -> list[PaneSource]:
        return [HostileSource()]


class HostileSource(PaneSource):
    key = "hostile"
    title = f"Runs {HOSTILE}"
    scope = "hostile"
    warning = f"warning {HOSTILE}"
    capabilities = frozenset({DESCRIBE})
    actions = (POKE,)
    columns = (Column("dag", "DAG", 30), Column("run", "RUN", 30), Column("conf", "CONF", 40),
               Column("state", "STATE", 12))
    interval = 0.5

    async def fetch(self) -> list[Item]:
        dag = AirflowDag.from_api(DAG_JSON)
        run = AirflowRun.from_api(RUN_JSON)
        return [Item(key=run.run_id, state=run.state,
                     cells={"dag": dag.dag_id, "run": run.run_id, "conf": run.conf_summary,
                            "state": run.raw_state},
                     detail={"dag": dag.raw, "run": run.raw})]

    async def describe(self, item: Item) -> dict[str, Any]:
        return item.detail

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        raise RuntimeError(f"server said: {HOSTILE}")


BACKEND = HostileBackend()
