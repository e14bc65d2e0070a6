"""From a preset and the form's values to runs: validate, expand the sweep, render every point,
and hand the batch to its target (the local runner now; Airflow, ECS and SSH targets plug in
behind `Target`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from opsconsole.config.presets import Preset
from opsconsole.domain.kinds import RunKind
from opsconsole.domain.models import BatchOptions, RunRecord, RunSpec
from opsconsole.domain.params import ParamError, Rendered
from opsconsole.domain.sweeps import expand

if TYPE_CHECKING:
    from opsconsole.services.context import Context


@dataclass
class LaunchPlan:
    """Everything the Launch screen previews and a launch sends."""

    preset: Preset
    kind: RunKind
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    points: list[dict[str, Any]] = field(default_factory=list)
    specs: list[RunSpec] = field(default_factory=list)
    first: Rendered | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.specs)

    @property
    def target_label(self) -> str:
        if self.preset.target == "airflow":
            return f"airflow DAG {self.preset.airflow.get('dag_id')}"
        return "local runner"


def plan_launch(preset: Preset, kind: RunKind, values: dict[str, Any],
                sweep: dict[str, list[Any]] | None = None) -> LaunchPlan:
    """Validate `values` (the form's, or the preset's; the kind's defaults fill the rest) and
    render every sweep point."""
    sweep = preset.sweep if sweep is None else sweep
    plan = LaunchPlan(preset=preset, kind=kind, values=dict(values))
    plan.points = expand(sweep)
    target = preset.target if preset.target != "airflow" else f"airflow:{preset.airflow.get('dag_id')}"
    defaults = kind.defaults()
    for point in plan.points:
        merged = {**defaults, **values, **point}
        clean, errors = kind.validate(merged)
        if errors:
            plan.errors.update(errors)
            continue
        rendered = kind.render(merged)
        plan.first = plan.first or rendered
        plan.specs.append(RunSpec(kind=kind.name, command=rendered.argv, parameters=clean, preset=preset.name,
                                  target=target, sweep_point=point or None, conf=rendered.conf,
                                  shell=rendered.shell))
    return plan


def batch_options(context: "Context", preset: Preset) -> BatchOptions:
    """The profile's local-runner settings, overridden by the preset's [local] table."""
    base = context.batch_options
    return BatchOptions(**{**base.__dict__, **preset.local})


def airflow_run_id(preset: Preset, index: int, now: datetime | None = None) -> str:
    """A readable DAG run id: opsconsole__broker-only-twap__20261122T093000__003."""
    now = now or datetime.now(timezone.utc)
    prefix = preset.airflow.get("run_id_prefix") or f"opsconsole__{preset.name}"
    return f"{prefix}__{now:%Y%m%dT%H%M%S}__{index:03d}"


class Target(Protocol):
    async def launch(self, plan: LaunchPlan) -> list[RunRecord]: ...


class LocalTarget:
    def __init__(self, context: "Context") -> None:
        self._context = context

    async def launch(self, plan: LaunchPlan) -> list[RunRecord]:
        return await self._context.runner.launch(plan.specs, batch_options(self._context, plan.preset))


def target_for(context: "Context", plan: LaunchPlan) -> Target:
    if plan.preset.target == "airflow":
        from opsconsole.services.airflow_target import AirflowTarget

        return AirflowTarget(context)
    return LocalTarget(context)


async def launch(context: "Context", plan: LaunchPlan) -> list[RunRecord]:
    """Launch a valid plan on its target; the ledger records every run."""
    if not plan.ok:
        raise ParamError("; ".join(f"{k}: {v}" for k, v in plan.errors.items()) or "nothing to launch")
    return await target_for(context, plan).launch(plan)
