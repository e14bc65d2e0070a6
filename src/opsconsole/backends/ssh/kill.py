"""The hosts' kill steps (phase "stop"; the circuit breaker is the kill-switch's own first phase):

* one step per host with services and `kill = true`: stop its services in reverse start order,
  each confirmed by its manager's state (stopped) before the next; a service that will not stop
  is reported and the next is still stopped;
* one step for the runs launched over SSH (ledger runs with target ``ssh:HOST``): a ``stopped``
  marker in the run dir, SIGTERM to the remote process group, SIGKILL after the grace, and
  confirmed when the group leader is gone. The ledger is not touched (the engine records; the
  next sync reads the marker and settles the run as stopped).

Listings are bounded: the configured services (no I/O), at most :data:`MAX_RUNS` ledger runs.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from opsconsole.backends.ssh.managers import ManagerError, manager_for, wait_state
from opsconsole.backends.ssh.target import SSH_PREFIX, RemoteRun, _dir_expr
from opsconsole.domain.kill import STOP, KillObject, KillStep, StepLog

if TYPE_CHECKING:
    from opsconsole.backends.ssh import HostSettings, HostsSession
    from opsconsole.domain.models import RunRecord

MAX_RUNS = 200
GRACE = 5.0
SERVICE, RUN = "service", "ssh run"


def kill_steps(session: "HostsSession") -> list[KillStep]:
    deadline = session.env.kill_deadline
    steps = [services_step(session, h, deadline) for h in session.settings.hosts if h.services]
    steps.append(runs_step(session, deadline))
    return steps


def services_step(session: "HostsSession", host: "HostSettings", deadline: float) -> KillStep:
    order = host.stopping_order

    async def action(log: StepLog) -> str:
        manager = manager_for(session.pool, host)
        budget_end = time.monotonic() + deadline
        for name in order:
            ident = f"{host.name}/{name}"
            left = max(1.0, min(host.state_timeout, budget_end - time.monotonic()))
            try:
                log.progress(f"stopping {ident}")
                await manager.act("stop", name)
                log.acted(SERVICE, ident)
                st = await wait_state(manager, name, "stopped", left)
                log.confirmed(SERVICE, ident, st.raw)
            except ManagerError as exc:  # acted but never seen stopped, or refused by the manager
                if "still" in str(exc):
                    log.not_confirmed(SERVICE, ident, str(exc))
                else:
                    log.failed(SERVICE, ident, str(exc))
            except Exception as exc:  # noqa: BLE001 - the next service is still stopped
                log.failed(SERVICE, ident, f"{type(exc).__name__}: {exc}")
        return log.summary() or "nothing to stop"

    async def targets() -> list[KillObject]:
        return [KillObject(SERVICE, f"{host.name}/{name}") for name in order]

    return KillStep(name=f"stop services on {host.name}", kind="hosts",
                    description=f"{host.manager}: stop {' → '.join(order)} (in stop order), each confirmed stopped",
                    action=action, deadline=deadline, enabled=host.kill, phase=STOP, targets=targets)


def _stop_script(run: RemoteRun, grace: float) -> str:
    pid, d, ticks = run.pid, _dir_expr(run.dir), max(1, int(grace * 10))
    return (f"touch {d}/stopped 2>/dev/null; kill -TERM -- -{pid} 2>/dev/null || kill -TERM {pid} 2>/dev/null; "
            f"i=0; while kill -0 {pid} 2>/dev/null && [ $i -lt {ticks} ]; do sleep 0.1; i=$((i+1)); done; "
            f"if kill -0 {pid} 2>/dev/null; then kill -KILL -- -{pid} 2>/dev/null || kill -KILL {pid}; sleep 0.2; fi; "
            f"kill -0 {pid} 2>/dev/null && echo alive || echo gone")


async def _active_ssh_runs(session: "HostsSession") -> list["RunRecord"]:
    store = session.env.store()
    runs = await asyncio.to_thread(store.active_runs)
    return [r for r in runs if r.target.startswith(SSH_PREFIX) and r.external_id][:MAX_RUNS]


def runs_step(session: "HostsSession", deadline: float) -> KillStep:
    async def action(log: StepLog) -> str:
        runs = await _active_ssh_runs(session)
        if not runs:
            return "no run launched over SSH is active"

        async def one(record: "RunRecord") -> None:
            ident = f"run {record.id} ({record.external_id})"
            try:
                run = RemoteRun.parse(record.external_id or "")
                if run.pid is None or run.host not in session.pool.hosts:
                    log.failed(RUN, ident, "no pid or host unknown to this profile")
                    return
                log.acted(RUN, ident)
                res = await session.pool.run(run.host, _stop_script(run, GRACE), timeout=GRACE + 10)
                if res.stdout.strip().endswith("gone"):
                    log.confirmed(RUN, ident, "process group gone")
                else:
                    log.not_confirmed(RUN, ident, "still alive after SIGKILL")
            except Exception as exc:  # noqa: BLE001 - one run's failure is its own object
                log.failed(RUN, ident, f"{type(exc).__name__}: {exc}")

        log.progress(f"stopping {len(runs)} run(s) on their hosts")
        await asyncio.gather(*(one(r) for r in runs))
        return log.summary()

    async def targets() -> list[KillObject]:
        return [KillObject(RUN, f"run {r.id} ({r.external_id})") for r in await _active_ssh_runs(session)]

    return KillStep(name="stop runs launched over SSH", kind="hosts",
                    description=f"SIGTERM each run's process group on its host, SIGKILL after {GRACE:g}s, confirm it is gone",
                    action=action, deadline=deadline, phase=STOP, targets=targets)
