"""A toy backend, registered by tests only: it proves that a backend is one package that
implements the contract (backends/base.py) and appears in Status, the kill plan, the Launch
targets and `config check` with no change anywhere else.

Configured as an array of tables (like SSH hosts will be):

    [[profiles.P.toy]]
    name = "box-1"
    items = ["a", "b"]

Its "outside system" is a JSON file per profile in the data dir: items and their states, the
runs launched on it, and what the kill step stopped — real state the tests can read back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from opsconsole.backends.base import DESCRIBE, Backend, BackendSession, PaneSource, Preview, SessionEnv
from opsconsole.config.schema import ArrayOf, List, Str, Table
from opsconsole.domain import policy
from opsconsole.domain.actions import Action, ActionCall, ActionUnavailable
from opsconsole.domain.items import Column, Item
from opsconsole.domain.kill import KillStep
from opsconsole.domain.models import RunRecord, RunSpec
from opsconsole.domain.states import State

POKE = Action("toy.poke", "Poke", "ctrl+o", policy.CHANGE, "poke the selected toy item")


class ToyBackend(Backend):
    name = "toy"
    title = "Toys"
    schema = ArrayOf(Table({"name": Str(), "items": List(Str())}, required=("name",)), unique="name")
    preset_schema = Table({"box": Str()})
    actions = (POKE,)

    def settings(self, table: Any) -> list[dict[str, Any]]:
        return list(table or [])

    def open(self, env: SessionEnv) -> "ToySession":
        return ToySession(self, env)

    def ledger_target(self, preset) -> str:
        return f"toy:{preset.table('toy')['box']}"

    def target_label(self, preset) -> str:
        return f"toy box {preset.table('toy')['box']}"

    def preview(self, spec: RunSpec) -> list[Preview]:
        return [Preview("toy payload:", json.dumps(spec.parameters, sort_keys=True))]

    def preset_problems(self, table):
        return [] if table.get("box") else [(("toy",), 'target toy needs [toy] box = "..."')]


class ToySession(BackendSession):
    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.path = env.data_dir / "toy.json"
        self.closed = False

    def state(self) -> dict[str, Any]:
        if self.path.exists():
            return json.loads(self.path.read_text())
        items = {f"{box['name']}/{item}": "running" for box in self.env.settings for item in box.get("items", [])}
        return {"items": items, "pokes": [], "launched": []}

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(state))

    def sources(self) -> list[PaneSource]:
        return [ToySource(self)]

    def targets(self):
        return [ToyTarget(self)]

    def kill_steps(self) -> list[KillStep]:
        async def stop(log) -> str:
            state = await asyncio.to_thread(self.state)
            stopped = [k for k, v in state["items"].items() if v == "running"]
            for key in stopped:
                state["items"][key] = "stopped"
            await asyncio.to_thread(self.save, state)
            return f"stopped {', '.join(stopped) or 'nothing'}"

        return [KillStep(name="stop toys", kind="toy", description="stop every running toy item", action=stop,
                         deadline=self.env.kill_deadline)]

    async def aclose(self) -> None:
        self.closed = True


class ToySource(PaneSource):
    key = "toy"
    title = "Toys"
    scope = "toy"
    capabilities = frozenset({DESCRIBE})
    actions = (POKE,)
    columns = (Column("item", "ITEM", 20), Column("state", "STATE", 12))
    interval = 0.5

    def __init__(self, session: ToySession) -> None:
        self.session = session

    async def fetch(self) -> list[Item]:
        state = await asyncio.to_thread(self.session.state)
        return [Item(key=k, state=State(v), cells={"item": k}, detail={"item": k, "state": v})
                for k, v in sorted(state["items"].items())]

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id != POKE.id:
            return await super().prepare(action_id, item)
        if item is None:
            raise ActionUnavailable("poke: select an item")
        session = self.session

        async def run(_: Any) -> str:
            state = await asyncio.to_thread(session.state)
            state["pokes"].append(item.key)
            await asyncio.to_thread(session.save, state)
            return f"poked {item.key}"

        return ActionCall(POKE, f"Poke {item.key}?", f"{item.key} gets poked.", [item.key], run, confirm_label="Poke")


class ToyTarget:
    name = "toy"

    def __init__(self, session: ToySession) -> None:
        self.session = session

    async def launch(self, preset, specs: list[RunSpec]) -> list[RunRecord]:
        store = self.session.env.store()
        records = []
        for spec in specs:
            record = await asyncio.to_thread(store.create_run, spec)
            state = await asyncio.to_thread(self.session.state)
            state["launched"].append(spec.parameters)
            await asyncio.to_thread(self.session.save, state)
            records.append(await asyncio.to_thread(store.update_run, record.id, state=State.SUCCESS,
                                                   external_id=f"toy-{record.id}"))
        return records

    async def wait(self, records, *, started_only: bool = False) -> None:
        return None


BACKEND = ToyBackend()
