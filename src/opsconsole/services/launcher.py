"""From a preset and the form's values to runs: validate, expand the sweep, render every point,
and hand the batch to its target — the launch target of the backend the preset names
(backends/base.py LaunchTarget), found through the context, never by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from opsconsole.backends import registry
from opsconsole.backends.base import Backend, LaunchRefused, Preview
from opsconsole.config.presets import Preset
from opsconsole.domain.kinds import RunKind
from opsconsole.domain.models import RunRecord, RunSpec
from opsconsole.domain.params import ParamError, Rendered
from opsconsole.domain.sweeps import MAX_RUNS, SweepTooLarge, check_size, iter_points

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
    def backend(self) -> Backend:
        """The backend the preset launches on (its `target`; checked when the preset loaded)."""
        return registry.load(self.preset.target)

    @property
    def target_label(self) -> str:
        return self.backend.target_label(self.preset)

    def previews(self, spec: RunSpec) -> list[Preview]:
        return self.backend.preview(spec)


def run_cap(preset: Preset, max_runs: int | None = None) -> int:
    """How many runs one launch of `preset` may start: --max-runs, else the preset's
    `max_runs`, else MAX_RUNS."""
    if max_runs is not None:
        return max_runs
    return preset.max_runs or MAX_RUNS


def plan_launch(preset: Preset, kind: RunKind, values: dict[str, Any],
                sweep: dict[str, list[Any]] | None = None, *, max_runs: int | None = None) -> LaunchPlan:
    """Validate `values` (the form's, or the preset's; the kind's defaults fill the rest) and
    render every sweep point. A sweep over the cap (`run_cap`) is counted, never expanded:
    the plan carries a `sweep` error instead."""
    sweep = preset.sweep if sweep is None else sweep
    plan = LaunchPlan(preset=preset, kind=kind, values=dict(values))
    try:
        check_size(sweep, run_cap(preset, max_runs))
    except SweepTooLarge as exc:
        plan.errors["sweep"] = str(exc)
        plan.points = [next(iter_points(sweep))]  # the first point, for the preview
        return plan
    plan.points = list(iter_points(sweep))
    for point, spec, errors in iter_specs(plan, plan.points):
        if errors:
            plan.errors.update(errors)
            continue
        assert spec is not None
        plan.specs.append(spec)
    return plan


def iter_specs(plan: LaunchPlan, points: Iterable[dict[str, Any]]
               ) -> Iterator[tuple[dict[str, Any], RunSpec | None, dict[str, str]]]:
    """(point, spec, errors) for each point, rendered one at a time (`launch --dry-run`
    streams a big sweep this way); sets `plan.first` from the first good point."""
    kind, preset = plan.kind, plan.preset
    target_name = plan.backend.ledger_target(preset)
    defaults = kind.defaults()
    for point in points:
        merged = {**defaults, **plan.values, **point}
        clean, errors = kind.validate(merged)
        if errors:
            yield point, None, errors
            continue
        rendered = kind.render(merged)
        plan.first = plan.first or rendered
        yield point, RunSpec(kind=kind.name, command=rendered.argv, parameters=clean, preset=preset.name,
                             target=target_name, sweep_point=point or None, conf=rendered.conf,
                             shell=rendered.shell), {}


async def launch(context: "Context", plan: LaunchPlan) -> list[RunRecord]:
    """Launch a valid plan on its target; the ledger records every run."""
    if not plan.ok:
        raise ParamError("; ".join(f"{k}: {v}" for k, v in plan.errors.items()) or "nothing to launch")
    target = context.target(plan.preset.target)
    if target is None:
        raise LaunchRefused(f"preset {plan.preset.name!r} launches on {plan.preset.target!r}, which profile "
                            f"{context.profile.name!r} does not configure ([profiles.{context.profile.name}."
                            f"{plan.preset.target}])")
    if not plan.preset.snapshot_balances:
        return await target.launch(plan.preset, plan.specs)
    from opsconsole.domain.balances import PRE
    from opsconsole.services.balances import snapshot_accounts

    taken = await _take(context)
    records = await target.launch(plan.preset, plan.specs)
    await snapshot_accounts(context, role=PRE, run_ids=[r.id for r in records], taken=taken)
    return records


async def _take(context: "Context") -> list:
    """Every account's balances now (before the launch); accounts down are skipped."""
    import asyncio

    answers = await asyncio.gather(*(s.balance_snapshots() for s in context.sessions), return_exceptions=True)
    return [snap for a in answers if not isinstance(a, BaseException) for snap in a[0]]


async def precheck(context: "Context", plan: LaunchPlan) -> str | None:
    """Why launching `plan` on this profile would fail, found before confirming it (the
    profile has no such target, the target refuses: e.g. a DAG the profile doesn't show or that
    does not exist); None when it can go. A target offers `async check(preset)` raising
    LaunchRefused (optional)."""
    from opsconsole.backends.base import LaunchRefused

    name = plan.preset.target
    target = context.target(name)
    if target is None:
        return f"profile {context.profile.name!r} has no {name!r} launch target (configure [profiles.{context.profile.name}.{name}])"
    check = getattr(target, "check", None)
    if check is None:
        return None
    try:
        await check(plan.preset)
    except LaunchRefused as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - the target can't be reached: the launch would fail too
        return f"{name}: cannot check the launch: {type(exc).__name__}: {exc}"
    return None
