"""The local launch target and the local kill step."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from opsconsole.backends.base import RunStore
from opsconsole.backends.local.procs import process_alive, process_group_alive, run_processes
from opsconsole.backends.local.recovery import LOCAL_TARGET, reconcile
from opsconsole.domain.kill import CONFIRMED, FAILED_OBJECT, STOP, KillObject, KillStep, StepLog
from opsconsole.domain.models import BatchOptions, RunRecord, RunSpec, utcnow
from opsconsole.domain.states import State

_KILL_WAIT = 5.0  # after SIGKILL, how long the kernel gets to tear a group down

if TYPE_CHECKING:
    from opsconsole.backends.local import LocalSession
    from opsconsole.config.presets import Preset


class LocalTarget:
    """`target = "local"`: the runs go to this process's local runner."""

    name = LOCAL_TARGET

    def __init__(self, session: "LocalSession") -> None:
        self._session = session

    def options(self, preset: "Preset") -> BatchOptions:
        """The profile's local-runner settings, overridden by the preset's [local] table."""
        base = self._session.settings.batch
        return BatchOptions(**{**base.__dict__, **preset.table(LOCAL_TARGET)})

    async def launch(self, preset: "Preset", specs: list[RunSpec]) -> list[RunRecord]:
        return await self._session.runner.launch(specs, self.options(preset))

    async def wait(self, records: list[RunRecord], *, started_only: bool = False) -> None:
        """Until the runs ended; with `started_only`, until each started (its process lives in
        its own session and outlives us) or ended: never-started runs would be skipped."""
        if not started_only:
            await self._session.runner.wait([r.id for r in records])
            return
        store = self._session.env.store()
        while True:
            now = [await asyncio.to_thread(store.get_run, r.id) for r in records]
            if all(r is None or r.state.final or (r.state == State.RUNNING and r.pid) for r in now):
                return
            await asyncio.sleep(0.05)


RUN = "local run"
LEDGER_READ_WITHIN = 2.0  # the ledger only adds runs /proc did not show: it never delays a signal
_POLL = 0.1


def _read_active(store_opener: Callable[[], RunStore]) -> list[tuple[RunRecord, str | None]]:
    store = store_opener()
    return [(run, store.process_identity(run.id)[1] if run.pid is not None else None)
            for run in store.active_runs(LOCAL_TARGET)]


async def _ledger_runs(store_opener: Callable[[], RunStore]) -> tuple[list[tuple[RunRecord, str | None]], str]:
    """The ledger's active local runs, bounded; ([], why) when it can't be read."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_read_active, store_opener), timeout=LEDGER_READ_WITHIN), ""
    except Exception as exc:  # a corrupt / missing / locked ledger: /proc still finds the processes
        why = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return [], f"ledger unreadable ({why}): /proc only"


def _signal(pid: int, signum: int, group: bool) -> None:
    try:
        (os.killpg if group else os.kill)(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


async def stop_local_processes(log: StepLog, runs_dir: Path, store_opener: Callable[[], RunStore],
                               grace: float) -> str:
    """Stop every local run of this profile, found by /proc (their environment names a result
    dir under ``runs_dir``) and by the ledger's recorded process groups: SIGTERM each group and
    process at once, SIGKILL what is left after ``grace``, then verify by /proc that nothing of
    them lives. Never writes the ledger (the step's record hook does, afterwards)."""
    groups: dict[int, set[int]] = {}  # run id -> process group ids
    pids: dict[int, set[int]] = {}  # run id -> pids seen (for the verification)

    async def scan_and_signal(signum: int) -> None:
        found = await asyncio.to_thread(run_processes, runs_dir)
        for run_id, procs in found.items():
            new = run_id not in groups
            groups.setdefault(run_id, set()).update(procs.values())
            pids.setdefault(run_id, set()).update(procs)
            for pgid in set(procs.values()):
                _signal(pgid, signum, group=True)
            for pid in procs:  # a process that left the group (setsid) is still ours
                _signal(pid, signum, group=False)
            if new:
                log.acted(RUN, f"#{run_id}", f"{signal.Signals(signum).name} to process group "
                                             f"{', '.join(map(str, sorted(set(procs.values()))))}")

    # 1. /proc first: no ledger in the way of the first signal
    await scan_and_signal(signal.SIGTERM)
    # 2. the ledger adds what /proc missed (a run recorded with a group we did not see) and the
    #    queued runs, which the HALTED latch keeps from starting
    ledger_rows, ledger_note = await _ledger_runs(store_opener)
    if ledger_note:
        log.progress(f"{ledger_note}: stopping what /proc shows")
    for run, proc_start in ledger_rows:
        key = f"#{run.id}"
        if run.pid is not None and run.id not in groups:
            if process_alive(run.pid, proc_start) or process_group_alive(run.pid):
                groups[run.id] = {run.pid}
                _signal(run.pid, signal.SIGTERM, group=True)
                log.acted(RUN, key, f"SIGTERM to process group {run.pid} (from the ledger)")
            else:
                log.confirmed(RUN, key, "its processes had already ended")
        elif run.pid is None and run.id not in groups:
            if run.state is State.RUNNING:
                log.acted(RUN, key, "starting (no process recorded yet): the latch and the rescan catch it")
            else:
                log.confirmed(RUN, key, f"{run.state.value}: will not start (HALTED)")
    # 3. wait for them to go (rescanning: a run spawned a moment ago is stopped too)
    killed: set[int] = set()
    t_end = time.monotonic() + grace
    while True:
        await scan_and_signal(signal.SIGTERM)
        alive = await asyncio.to_thread(_alive_runs, groups, pids)
        if not alive or time.monotonic() >= t_end:
            break
        await asyncio.sleep(_POLL)
    if alive:
        for run_id in alive:
            killed.add(run_id)
            for pgid in groups[run_id]:
                _signal(pgid, signal.SIGKILL, group=True)
            for pid in pids.get(run_id, ()):
                _signal(pid, signal.SIGKILL, group=False)
        log.progress(f"SIGKILL after {grace:g}s for {', '.join(f'#{r}' for r in sorted(alive))}")
        t_end = time.monotonic() + _KILL_WAIT
        while True:
            await scan_and_signal(signal.SIGKILL)
            alive = await asyncio.to_thread(_alive_runs, groups, pids)
            if not alive or time.monotonic() >= t_end:
                break
            await asyncio.sleep(_POLL)
    # 4. verdict per run, by /proc
    for run_id in sorted(groups):
        key = f"#{run_id}"
        if run_id in alive:
            left = sorted(p for p in pids.get(run_id, ()) if process_alive(p))
            log.failed(RUN, key, f"STILL ALIVE after SIGKILL: pid {', '.join(map(str, left)) or '?'} "
                                 f"(group {', '.join(map(str, sorted(groups[run_id])))})")
        else:
            how = f"SIGKILL after a grace period of {grace:g}s" if run_id in killed else "SIGTERM"
            log.confirmed(RUN, key, f"gone ({how}; verified by /proc)")
    for obj in log.unfinished():  # "starting" runs that never showed a process
        log.confirmed(obj.kind, obj.ident, "no process appeared: will not start (HALTED)")
    where = ledger_note or "checked /proc and the ledger"
    if not log.objects:
        return f"no active local runs ({where})"
    by_state: dict[str, list[str]] = {}
    for obj in log.objects:
        by_state.setdefault(obj.state, []).append(obj.ident)
    words = {CONFIRMED: "stopped", FAILED_OBJECT: "STILL ALIVE"}
    done = "; ".join(f"{words.get(state, state)} {', '.join(ids)}" for state, ids in by_state.items())
    return f"{done} ({ledger_note})" if ledger_note else done


def _alive_runs(groups: dict[int, set[int]], pids: dict[int, set[int]]) -> set[int]:
    return {r for r, gs in groups.items()
            if any(process_group_alive(g) for g in gs) or any(process_alive(p) for p in pids.get(r, ()))}


def record_local_stop(store_opener: Callable[[], RunStore], log: StepLog) -> None:
    """(Blocking; the engine calls it after the step.) The runs the step stopped become stopped
    in the ledger, the queued ones skipped; orphans left by a dead opsconsole are settled."""
    ids = [int(o.ident.lstrip("#")) for o in log.objects if o.kind == RUN]
    if not ids:
        return
    store = store_opener()
    store.request_stop(ids)
    for obj in log.objects:
        if obj.kind != RUN or obj.state != CONFIRMED:
            continue
        run_id = int(obj.ident.lstrip("#"))
        store.transition(run_id, [State.QUEUED], state=State.SKIPPED, ended_at=utcnow(),
                         error="not started: stopped by the kill-switch")
        store.transition(run_id, [State.UP_FOR_RETRY], state=State.STOPPED, ended_at=utcnow(),
                         error="not retried: stopped by the kill-switch")
        store.transition(run_id, [State.RUNNING], state=State.STOPPED, ended_at=utcnow(),
                         error=f"stopped by the kill-switch: {obj.reason}")
    reconcile(store)


async def local_targets(runs_dir: Path, store_opener: Callable[[], RunStore]) -> list[KillObject]:
    """What the local step would stop: runs with live processes (/proc) and the ledger's active runs."""
    found = await asyncio.to_thread(run_processes, runs_dir)
    out = {run_id: KillObject(RUN, f"#{run_id}", reason=f"pid {', '.join(map(str, sorted(procs)))}")
           for run_id, procs in found.items()}
    for run, _start in (await _ledger_runs(store_opener))[0]:
        if run.id not in out:
            out[run.id] = KillObject(RUN, f"#{run.id}", reason=f"{run.state.value} {run.preset or run.kind}")
        else:
            out[run.id].reason = f"{run.preset or run.kind}, {out[run.id].reason}"
    return [out[k] for k in sorted(out)]


def local_kill_step(store: RunStore | Callable[[], RunStore], grace: float = 5.0, deadline: float = 30.0,
                    runs_dir: Path | None = None) -> KillStep:
    """The step that stops every local run of this profile, whichever opsconsole started it and
    whatever state the ledger is in (``store`` may be a callable opening it: it is opened only
    to add to what /proc shows, and to record afterwards)."""
    opener: Callable[[], RunStore] = store if callable(store) else (lambda: store)
    if runs_dir is None:
        runs_dir = _runs_dir_of(opener)

    async def action(log: StepLog) -> str:
        return await stop_local_processes(log, runs_dir, opener, grace)

    return KillStep(
        name="stop local runs",
        kind="local",
        description=f"SIGTERM every local run's process group (found by /proc and the ledger), SIGKILL after "
                    f"{grace:g}s, verify by /proc that none is left",
        action=action,
        deadline=deadline,
        phase=STOP,
        targets=lambda: local_targets(runs_dir, opener),
        record=lambda log: record_local_stop(opener, log),
    )


def _runs_dir_of(opener: Callable[[], RunStore]) -> Path:
    """The runs dir beside a ledger (tests hand a ledger, not a data dir)."""
    path = getattr(opener(), "path", None)
    if path is None:
        raise ValueError("local_kill_step: give runs_dir")
    return Path(path).parent / "runs"
