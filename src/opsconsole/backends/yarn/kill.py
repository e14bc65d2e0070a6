"""The YARN kill-switch step (phase "stop"): kill the profile's running applications (its
queue/user/name filter) and confirm each by its state (KILLED, or any final state it reached
first). The listing is bounded twice: at most `kill_cap` applications (the RM's `limit`) and its
own deadline, so a huge RM cannot push the step past its deadline."""

from __future__ import annotations

import asyncio

from opsconsole.backends.yarn.client import ACTIVE_STATES, YarnApp, YarnClient, YarnError, YarnSettings
from opsconsole.domain.kill import STOP, KillObject, KillStep, StepLog

KIND = "yarn app"
PARALLEL = 16  # kill requests in flight at once


async def list_targets(client: YarnClient, settings: YarnSettings, within: float) -> tuple[list[YarnApp], bool]:
    """The profile's active applications (bounded by `kill_cap` and `within` seconds), and
    whether the RM's answer hit the cap (there may be more)."""
    apps = await asyncio.wait_for(client.list_apps(states=ACTIVE_STATES, limit=settings.kill_cap), timeout=within)
    capped = len(apps) >= settings.kill_cap
    return [a for a in apps if settings.matches(a)], capped


def _describe(app: YarnApp) -> str:
    return f"{app.name} · {app.user} · {app.queue} · {app.state}"


async def kill_apps(client: YarnClient, log: StepLog, apps: list[YarnApp], confirm_within: float) -> tuple[int, int]:
    """Kill every app at once (PARALLEL in flight) and wait for each to reach a final state.
    Reports each object on `log`; returns (confirmed, total)."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(app: YarnApp) -> bool:
        try:
            async with gate:
                answer = await client.kill(app.id)
        except YarnError as exc:
            log.failed(KIND, app.id, str(exc))
            return False
        log.acted(KIND, app.id, f"{_describe(app)} → {answer or 'kill sent'}")
        try:
            final = await client.wait_ended(app.id, confirm_within)
        except YarnError as exc:
            log.not_confirmed(KIND, app.id, f"state unreadable: {exc}")
            return False
        if final is None:
            log.not_confirmed(KIND, app.id, f"still not ended after {confirm_within:g}s")
            return False
        log.confirmed(KIND, app.id, f"{app.name}: {final}")
        return True

    results = await asyncio.gather(*(one(a) for a in apps))
    return sum(results), len(apps)


def yarn_kill_step(settings: YarnSettings, deadline: float) -> KillStep:
    """The step of a profile with YARN (its own client: a kill never waits on the pane's)."""
    list_within = max(1.0, min(10.0, deadline / 3))
    confirm_within = max(1.0, deadline - list_within - 2.0)

    async def action(log: StepLog) -> str:
        client = YarnClient(settings)
        try:
            log.progress(f"listing the running applications at {settings.shown_url}")
            apps, capped = await list_targets(client, settings, list_within)
            if not apps:
                return f"no running application ({settings.scope})" + (f" in the first {settings.kill_cap}" if capped else "")
            log.progress(f"killing {len(apps)} application(s); waiting for their state")
            ok, total = await kill_apps(client, log, apps, confirm_within)
            more = f"; the listing hit kill_cap ({settings.kill_cap}): there may be more" if capped else ""
            if capped:
                raise RuntimeError(f"{ok} of {total} application(s) killed{more}")
            return f"{ok} of {total} application(s) killed ({settings.scope})"
        finally:
            await client.aclose()

    async def targets() -> list[KillObject]:
        client = YarnClient(settings)
        try:
            apps, _ = await list_targets(client, settings, list_within)
            return [KillObject(KIND, a.id, reason=_describe(a)) for a in apps]
        finally:
            await client.aclose()

    return KillStep(name="kill YARN applications", kind="yarn",
                    description=f"kill the running applications of {settings.scope} at {settings.shown_url} "
                                "(PUT state KILLED) and confirm each by its state",
                    action=action, deadline=deadline, phase=STOP, targets=targets, retries=1)
