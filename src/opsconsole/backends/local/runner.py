"""The local runner: the embedded default backend, seed 002's experiment manager.

Runs each :class:`RunSpec` as a local process in its own result dir, at most ``parallelism`` at
a time, with retries, abort-on-error and incremental re-runs, and records everything in the
ledger as it happens. :func:`stop_local_runs` stops the active local runs of *any* process
(the headless ``opsconsole kill`` is not the UI that started them). See docs/local-runner.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from opsconsole.domain.models import BatchOptions, RunRecord, RunSpec, utcnow
from opsconsole.domain.states import State
from opsconsole.backends.base import LaunchRefused, RunStore
from opsconsole.backends.local.procs import process_alive, process_group_alive, process_start_time
from opsconsole.backends.local.recovery import EXIT_CODE_FILE, LOCAL_TARGET, reconcile

log = logging.getLogger(__name__)

# `sh -c WRAPPER opsconsole-run CMD ARGS...`: runs the command, then leaves its exit code in the
# result dir (written to a temp name and renamed, so a reader never sees half a number). That
# file is how a restarted opsconsole learns how a run ended while nobody was watching.
WRAPPER = (
    '"$@"; rc=$?; '
    'printf "%s\\n" "$rc" > "$OPSCONSOLE_RESULT_DIR/exit_code.tmp" '
    '&& mv -f "$OPSCONSOLE_RESULT_DIR/exit_code.tmp" "$OPSCONSOLE_RESULT_DIR/exit_code"; '
    "exit $rc"
)

_POLL = 0.05  # seconds between checks while waiting for processes to go away
_KILL_WAIT = 5.0  # after SIGKILL, how long the kernel gets to tear a group down


@dataclass
class StopReport:
    """What a stop of local runs did. ``ok`` only if nothing was left alive."""

    stopped: list[int] = field(default_factory=list)  # had a process; it is gone
    cancelled: list[int] = field(default_factory=list)  # never started; will never start
    survivors: list[int] = field(default_factory=list)  # still alive after SIGKILL
    killed: list[int] = field(default_factory=list)  # needed SIGKILL (subset of stopped)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.survivors and not self.errors

    @property
    def detail(self) -> str:
        if not (self.stopped or self.cancelled or self.survivors or self.errors):
            return "no active local runs"
        parts = []
        if self.stopped:
            parts.append(f"stopped {_ids(self.stopped)}")
        if self.killed:
            parts.append(f"SIGKILL needed for {_ids(self.killed)}")
        if self.cancelled:
            parts.append(f"never started {_ids(self.cancelled)}")
        if self.survivors:
            parts.append(f"STILL ALIVE {_ids(self.survivors)}")
        parts.extend(self.errors)
        return "; ".join(parts)


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def result_dir_for(runs_dir: Path, run_id: int) -> Path:
    return Path(runs_dir) / f"{run_id:06d}"


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


@dataclass
class _Batch:
    run_ids: list[int]
    semaphore: asyncio.Semaphore
    options: BatchOptions
    on_change: Callable[[RunRecord], None] | None
    failed_run: int | None = None  # set once a run failed for good under abort-on-error


class LocalRunner:
    """Runs batches of local processes; one instance per app (or per headless command)."""

    def __init__(self, ledger: RunStore, runs_dir: Path, *, grace: float = 5.0) -> None:
        self.ledger = ledger
        self.runs_dir = Path(runs_dir).resolve()
        self.grace = grace
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # Env values live only here, in memory: the ledger and config.json keep the names.
        self._env: dict[int, dict[str, str]] = {}

    # -- launching --------------------------------------------------------------------------

    async def launch(
        self,
        specs: list[RunSpec],
        options: BatchOptions = BatchOptions(),
        on_change: Callable[[RunRecord], None] | None = None,
    ) -> list[RunRecord]:
        """Record the runs (queued, or skipped under ``incremental``) and return them at once;
        the batch then runs in the background. Raises :class:`LaunchRefused` while the halt
        latch is set."""
        if options.parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        for spec in specs:
            if spec.target != LOCAL_TARGET:
                raise LaunchRefused(f"the local runner can't launch a {spec.target!r} run ({spec.kind})")
        latch = await asyncio.to_thread(self.ledger.halt_latch)
        if latch is not None:
            raise LaunchRefused(
                f"launches are halted since {latch.set_at:%Y-%m-%d %H:%M:%S} UTC by {latch.by}: "
                f"{latch.reason} -- release the kill-switch first"
            )
        records = await asyncio.to_thread(self._create_rows, list(specs), options)
        batch = _Batch(
            run_ids=[r.id for r in records if r.state is State.QUEUED],
            semaphore=asyncio.Semaphore(options.parallelism),
            options=options,
            on_change=on_change,
        )
        for run_id in batch.run_ids:
            task = asyncio.create_task(self._run(run_id, batch), name=f"local-run-{run_id}")
            self._tasks[run_id] = task
        return records

    def _create_rows(self, specs: list[RunSpec], options: BatchOptions) -> list[RunRecord]:
        records: list[RunRecord] = []
        seen: dict[str, int] = {}
        for spec in specs:
            if options.incremental:
                earlier = self.ledger.find_succeeded(spec.fingerprint)
                reason = f"already succeeded as run {earlier.id}" if earlier else None
                if reason is None and spec.fingerprint in seen:
                    reason = f"same fingerprint as run {seen[spec.fingerprint]} of this batch"
                if reason is not None:
                    record = self.ledger.create_run(spec, state=State.SKIPPED)
                    records.append(self.ledger.update_run(record.id, error=reason))
                    continue
            record = self.ledger.create_run(spec, state=State.QUEUED)
            seen.setdefault(spec.fingerprint, record.id)
            if spec.env:
                self._env[record.id] = dict(spec.env)
            result_dir = result_dir_for(self.runs_dir, record.id)
            result_dir.mkdir(parents=True, exist_ok=True)
            _write_json(
                result_dir / "config.json",
                {
                    "run_id": record.id,
                    "kind": spec.kind,
                    "preset": spec.preset,
                    "target": spec.target,
                    "parameters": spec.parameters,
                    "command": list(spec.command),
                    "sweep_point": spec.sweep_point,
                    "fingerprint": spec.fingerprint,
                    "env": sorted(spec.env),  # names only: values may be secrets
                    "created_at": record.created_at.isoformat(),
                },
            )
            records.append(self.ledger.update_run(record.id, result_dir=str(result_dir)))
        return records

    async def wait(self, run_ids: Iterable[int] | None = None) -> None:
        """Until those runs (or all runs of this runner) are final. Cancelling the wait does not
        cancel the runs."""
        wanted = self._tasks.keys() if run_ids is None else set(run_ids)
        tasks = [t for i, t in list(self._tasks.items()) if i in wanted]
        if tasks:
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))

    def run_ids(self) -> list[int]:
        return list(self._tasks)

    def pending_ids(self) -> list[int]:
        """Runs this runner still has to start or retry: they need this process alive (a run
        already started lives on in its own session when opsconsole exits)."""
        pending = []
        for run_id, task in self._tasks.items():
            if task.done():
                continue
            record = self.ledger.get_run(run_id)
            if record is not None and (record.state in (State.QUEUED, State.UP_FOR_RETRY) or record.pid is None):
                pending.append(run_id)
        return pending

    async def stop_all(self, grace: float | None = None) -> StopReport:
        """Stop this runner's active runs (see :func:`stop_local_runs`) and wait for its tasks."""
        mine = [i for i, t in self._tasks.items() if not t.done()]
        report = await stop_local_runs(self.ledger, self.grace if grace is None else grace, run_ids=mine)
        await self.wait(mine)
        return report

    # -- one run ----------------------------------------------------------------------------

    async def _run(self, run_id: int, batch: _Batch) -> None:
        try:
            async with batch.semaphore:
                await self._attempts(run_id, batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an OS error must not leave the row "running"
            log.exception("local run %s crashed the runner", run_id)
            await self._finish(run_id, batch, state=State.FAILED, error=f"runner error: {exc!r}")
        finally:
            self._env.pop(run_id, None)

    async def _attempts(self, run_id: int, batch: _Batch) -> None:
        record = await asyncio.to_thread(self.ledger.get_run, run_id)
        if record is None or record.result_dir is None:
            return
        result_dir = Path(record.result_dir)
        attempts = 1 + max(0, batch.options.retries)
        for attempt in range(1, attempts + 1):
            if batch.failed_run is not None:
                await self._not_started(run_id, batch, attempt)
                return
            log_path = result_dir / f"attempt-{attempt}.log"
            claimed = await asyncio.to_thread(self.ledger.claim_run, run_id, attempt, log_path)
            if not claimed:
                await self._not_started(run_id, batch, attempt)
                return
            self._notify(batch, await asyncio.to_thread(self.ledger.get_run, run_id))
            rc = await self._spawn_and_wait(run_id, record, result_dir, log_path)

            if await asyncio.to_thread(self.ledger.stop_requested, run_id):
                await self._finish(run_id, batch, state=State.STOPPED, exit_code=rc, error=_stopped_error(rc))
                return
            if rc == 0:
                await self._finish(run_id, batch, state=State.SUCCESS, exit_code=0, error=None)
                return
            if rc < 0:
                # The wrapper shell itself died of a signal: someone signalled the process group
                # (a crash would end the command, not the shell). Don't retry a deliberate stop.
                error = f"killed by {_signal_name(-rc)} from outside opsconsole"
                await self._finish(run_id, batch, state=State.STOPPED, exit_code=rc, error=error)
                return
            error = f"exit code {rc} (attempt {attempt}/{attempts})"
            if attempt < attempts and batch.failed_run is None:
                updated = await asyncio.to_thread(
                    self.ledger.transition, run_id, [State.RUNNING],
                    state=State.UP_FOR_RETRY, exit_code=rc, error=error,
                )  # fmt: skip
                if updated is None:  # settled by someone else (a stop) meanwhile
                    self._notify(batch, await asyncio.to_thread(self.ledger.get_run, run_id))
                    return
                self._notify(batch, updated)
                continue
            await self._finish(run_id, batch, state=State.FAILED, exit_code=rc, error=error)
            if batch.options.abort_on_error and batch.failed_run is None:
                batch.failed_run = run_id
                await self._abort_rest(run_id, batch)
            return

    async def _spawn_and_wait(self, run_id: int, record: RunRecord, result_dir: Path, log_path: Path) -> int:
        env = {**os.environ, **self._env.get(run_id, {})}
        env["OPSCONSOLE_RUN_ID"] = str(run_id)
        env["OPSCONSOLE_RESULT_DIR"] = str(result_dir)
        (result_dir / EXIT_CODE_FILE).unlink(missing_ok=True)
        # The child gets its own copy of the descriptor; ours is closed as soon as it started.
        with open(log_path, "wb", buffering=0) as log_file:
            try:
                proc = await asyncio.create_subprocess_exec(
                    "sh", "-c", WRAPPER, "opsconsole-run", *record.command,
                    stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
                    env=env, start_new_session=True,  # own session + process group: pgid == pid
                )  # fmt: skip
            except OSError as exc:
                log_file.write(f"opsconsole: could not start the run: {exc}\n".encode())
                return 127
        start = process_start_time(proc.pid)
        await asyncio.to_thread(self.ledger.update_run, run_id, pid=proc.pid, proc_start=start)
        # A stop requested between the claim and now found no pid to signal: do it ourselves.
        if await asyncio.to_thread(self.ledger.stop_requested, run_id):
            _signal_group(proc.pid, signal.SIGTERM)
        rc = await proc.wait()
        # The wrapper may have died alone (kill -9 of its pid): its command lives on in the group.
        # The run is not over (and never recorded stopped) while any process of it runs.
        while await asyncio.to_thread(process_group_alive, proc.pid):
            await asyncio.sleep(0.25)
        return rc

    async def _not_started(self, run_id: int, batch: _Batch, attempt: int) -> None:
        """The run may not (re)start: say why, unless someone else already settled it."""
        record = await asyncio.to_thread(self.ledger.get_run, run_id)
        if record is None or record.state.final:
            self._notify(batch, record)  # settled elsewhere (a stop): the UI still wants to know
            return
        latch = await asyncio.to_thread(self.ledger.halt_latch)
        if batch.failed_run is not None:
            why = f"run {batch.failed_run} failed (abort-on-error)"
        elif latch is not None:
            why = f"kill-switch halt latch set by {latch.by}"
        else:
            why = "stop requested"
        if record.state is State.QUEUED:
            await self._finish(run_id, batch, state=State.SKIPPED, error=f"not started: {why}")
        else:  # up for retry: the previous attempt's failure stands
            await self._finish(
                run_id, batch, state=State.FAILED, error=f"{record.error}; not retried: {why}"
            )

    async def _abort_rest(self, failed_id: int, batch: _Batch) -> None:
        error = f"not started: run {failed_id} failed (abort-on-error)"
        for other in batch.run_ids:
            if other == failed_id:
                continue
            updated = await asyncio.to_thread(
                self.ledger.transition, other, [State.QUEUED],
                state=State.SKIPPED, error=error, ended_at=utcnow(),
            )  # fmt: skip
            self._notify(batch, updated)

    async def _finish(self, run_id: int, batch: _Batch, *, state: State, **fields: object) -> None:
        updated = await asyncio.to_thread(
            self.ledger.transition, run_id, [State.QUEUED, State.RUNNING, State.UP_FOR_RETRY],
            state=state, ended_at=utcnow(), **fields,
        )  # fmt: skip
        if updated is None:  # already settled by someone else (stop_local_runs): report that
            updated = await asyncio.to_thread(self.ledger.get_run, run_id)
        self._notify(batch, updated)

    @staticmethod
    def _notify(batch: _Batch, record: RunRecord | None) -> None:
        if record is None or batch.on_change is None:
            return
        try:
            batch.on_change(record)
        except Exception:  # a UI callback must never break a batch
            log.exception("on_change callback failed for run %s", record.id)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _stopped_error(rc: int) -> str:
    how = _signal_name(-rc) if rc < 0 else f"exit code {rc}"
    return f"stopped on request ({how})"


def _signal_group(pgid: int, signum: int) -> bool:
    """Signal a process group; False if it no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        log.warning("not allowed to signal process group %s", pgid)
        return True
    return True


# --- stopping across processes --------------------------------------------------------------


async def stop_local_runs(
    ledger: RunStore, grace: float = 5.0, *, run_ids: Iterable[int] | None = None
) -> StopReport:
    """Stop every active local run recorded in the ledger (or only ``run_ids``), whichever
    process started it: mark them stop-requested, cancel the ones not started, SIGTERM each
    run's process group, SIGKILL what is left after ``grace`` seconds, then verify that no
    process of those groups is alive. Runs whose group is gone are marked stopped; the others
    are reported as survivors (and the report is not ok)."""
    report = StopReport()
    wanted = None if run_ids is None else set(run_ids)
    # Rows an opsconsole that died left behind: settle those that can't be stopped (never
    # started, already ended); the ones whose process still runs stay running and are stopped.
    await asyncio.to_thread(reconcile, ledger)
    runs = [r for r in await asyncio.to_thread(ledger.active_runs, LOCAL_TARGET) if wanted is None or r.id in wanted]
    if not runs:
        return report
    ids = [r.id for r in runs]
    # From here on no runner (in any process) starts or retries these: claim_run checks it.
    await asyncio.to_thread(ledger.request_stop, ids)

    groups: dict[int, int] = {}  # run id -> pgid
    pending: list[int] = []  # running, but its pid isn't recorded yet
    for run in runs:
        if run.state is State.QUEUED or (run.state is State.UP_FOR_RETRY):
            settled = await asyncio.to_thread(
                ledger.transition, run.id, [run.state],
                state=State.SKIPPED if run.state is State.QUEUED else State.STOPPED,
                ended_at=utcnow(), error="stopped before start (kill-switch)" if run.state is State.QUEUED
                else f"{run.error or 'failed'}; not retried: stopped (kill-switch)",
            )  # fmt: skip
            if settled is not None:
                report.cancelled.append(run.id)
                continue
            current = await asyncio.to_thread(ledger.get_run, run.id)
            run = current or run  # it started meanwhile
            if run.state.final:
                continue
        pending.append(run.id)

    # Collect process groups; a run claimed a moment ago may not have its pid yet.
    deadline = time.monotonic() + max(grace, 1.0)
    while pending:
        for run_id in list(pending):
            current = await asyncio.to_thread(ledger.get_run, run_id)
            if current is None or current.state.final:
                pending.remove(run_id)
                if current is not None and current.state is State.STOPPED:
                    report.stopped.append(run_id)
                continue
            pid, start = await asyncio.to_thread(ledger.process_identity, run_id)
            if pid is not None:
                pending.remove(run_id)
                if _same_group(pid, start):
                    groups[run_id] = pid
                    _signal_group(pid, signal.SIGTERM)
                else:
                    await _mark_stopped(ledger, run_id, "process already gone when stopped (kill-switch)")
                    report.stopped.append(run_id)
        if not pending or time.monotonic() > deadline:
            break
        await asyncio.sleep(_POLL)
    for run_id in pending:  # claimed but never got a pid: its runner will see stop_requested
        report.errors.append(f"run #{run_id} is marked running but has no process yet")

    # Grace period, then SIGKILL, then verify.
    alive = await _wait_groups_gone(groups, grace)
    for run_id in alive:
        _signal_group(groups[run_id], signal.SIGKILL)
        report.killed.append(run_id)
    still = await _wait_groups_gone({r: groups[r] for r in alive}, _KILL_WAIT)
    for run_id, pgid in groups.items():
        if run_id in still:
            report.survivors.append(run_id)
            continue
        how = "SIGKILL after a grace period of %gs" % grace if run_id in alive else "SIGTERM"
        await _mark_stopped(ledger, run_id, f"stopped by kill-switch ({how})")
        report.stopped.append(run_id)
    report.stopped.sort()
    return report


def _same_group(pid: int, start: str | None) -> bool:
    """The recorded process still exists as the leader of its own group (pid reuse guard)."""
    if process_alive(pid, start):
        try:
            return os.getpgid(pid) == pid
        except ProcessLookupError:
            pass
    # The leader (the wrapper shell) may be gone while its children live on in the group;
    # a fresh process can't join a group whose id isn't a live pid, so the group is still ours.
    return not process_alive(pid) and process_group_alive(pid)


async def _wait_groups_gone(groups: dict[int, int], timeout: float) -> set[int]:
    """Poll until every group is empty or ``timeout`` passes; returns the runs still alive."""
    deadline = time.monotonic() + timeout
    alive = set(groups)
    while alive:
        alive = {r for r in alive if await asyncio.to_thread(process_group_alive, groups[r])}
        if not alive or time.monotonic() >= deadline:
            break
        await asyncio.sleep(_POLL)
    return alive


async def _mark_stopped(ledger: RunStore, run_id: int, error: str) -> None:
    await asyncio.to_thread(
        ledger.transition, run_id, [State.QUEUED, State.RUNNING, State.UP_FOR_RETRY],
        state=State.STOPPED, ended_at=utcnow(), error=error,
    )  # fmt: skip
