"""The kill-switch engine: every backend contributes :class:`KillStep` s; :meth:`KillSwitch.fire`
runs them phase by phase (domain/kill.py's PHASES: circuit breaker → stop launches and cancel
orders → stop runs/tasks/pods/services → flatten → alert).

**Stop first, write later.** Nothing that stops something ever waits on the ledger:

1. take the cross-process lock (a second fire waits for the first; an unusable lock file or a
   hung holder never stops a kill);
2. write the HALTED latch *file* and the "kill in progress" marker (services/halt.py: small
   atomic files beside the ledger, or in the fallback dir when the data dir is unusable);
3. run the phases: every enabled step of a phase at once, each under its own deadline; the next
   phase starts when every step of this one ended (or passed its deadline: its coroutine is
   cancelled, its unfinished objects are marked "not confirmed"); a failing step never blocks
   another;
4. meanwhile a recorder writes the latch row and the audit rows (each step's start and end with
   its objects) into the ledger from a worker thread; rows it cannot write go to the fallback
   journal (replayed into the ledger later) and every such failure lands in the report's
   ``errors`` (shown by the modal, the CLI and the header);
5. the steps' ``record`` hooks (mark local runs stopped) run after their step, in threads;
6. "done", the recorder flushed (bounded), the marker removed, the lock released.

A step's action must be a real coroutine: blocking calls belong in ``asyncio.to_thread`` or its
deadline can't be enforced. On a deadline the coroutine is cancelled, but a thread it started
runs on in the background.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.domain.kill import PHASES, KillStep, StepLog
from opsconsole.domain.models import utcnow
from opsconsole.services import halt
from opsconsole.services.lock import FileLock

if TYPE_CHECKING:
    from opsconsole.services.ledger import Ledger

__all__ = ["KillReport", "KillStep", "KillSwitch", "StepResult", "StepLog"]

log = logging.getLogger(__name__)

PENDING, RUNNING, OK, FAILED, UNKNOWN, SKIPPED = "pending", "running", "ok", "failed", "unknown", "skipped"
# the action was taken; the step is waiting for the outside world to confirm it (e.g. Airflow
# kills task processes at the worker's next heartbeat)
STOPPING = "stopping"

FLUSH_WITHIN = 5.0  # seconds the end of a fire waits for the ledger before journalling the rest
RECORD_WITHIN = 10.0  # seconds the steps' record hooks get after their phase


@dataclass
class StepResult:
    name: str
    kind: str
    outcome: str = PENDING
    started: float | None = None  # time.monotonic()
    ended: float | None = None
    detail: str = ""
    log: StepLog = field(default_factory=StepLog)  # the objects the step reported
    phase: str = "stop"
    deadline: float = 30.0
    record_error: str = ""  # its record hook failed: the ledger does not show what it did

    @property
    def elapsed(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    @property
    def final(self) -> bool:
        return self.outcome not in (PENDING, RUNNING, STOPPING)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "phase": self.phase, "outcome": self.outcome,
                "elapsed": None if self.elapsed is None else round(self.elapsed, 3), "deadline": self.deadline,
                "detail": self.detail, "objects": [o.as_dict() for o in self.log.objects],
                "record_error": self.record_error or None}


@dataclass
class KillReport:
    kill_id: str
    results: list[StepResult]
    latch_set: bool = True
    errors: list[str] = field(default_factory=list)  # the engine's own trouble (latch, audit)
    latch_where: list[str] = field(default_factory=list)  # where the latch was written
    ledger_ok: bool = True  # every audit row and the latch row reached the ledger
    journal: str | None = None  # the journal file holding the rows the ledger did not take
    interrupted: list[dict[str, Any]] = field(default_factory=list)  # earlier kills found interrupted
    done: bool = False

    @property
    def steps_ok(self) -> bool:
        return all(r.outcome in (OK, SKIPPED) for r in self.results)

    @property
    def ok(self) -> bool:
        """True only if the latch was set and every enabled step ended ok."""
        return self.latch_set and self.steps_ok

    @property
    def recorded(self) -> bool:
        """Everything reached the ledger and every record hook worked."""
        return self.ledger_ok and not self.errors and not any(r.record_error for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {"kill_id": self.kill_id, "ok": self.ok, "done": self.done,
                "latch": {"set": self.latch_set, "where": self.latch_where},
                "recorded": self.recorded, "ledger_ok": self.ledger_ok, "journal": self.journal,
                "errors": list(self.errors), "interrupted_before": self.interrupted,
                "steps": [r.as_dict() for r in self.results]}


class _Recorder:
    """Writes audit rows (and the latch row) into the ledger from one worker thread at a time,
    never in the way of a step. What the ledger does not take goes to the journal."""

    def __init__(self, source: Any, state_dir: Path, report: KillReport) -> None:
        self._source = source
        self._state_dir = state_dir
        self._report = report
        self._ledger: Any = None
        self._ledger_error: str | None = None
        self._pending: list[dict[str, Any]] = []
        self._in_flight: list[dict[str, Any]] = []
        self._mutex = threading.Lock()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="kill-recorder")

    def add(self, row: dict[str, Any]) -> None:
        row.setdefault("uid", uuid.uuid4().hex)
        row.setdefault("ts", utcnow().isoformat(sep=" ", timespec="microseconds"))
        with self._mutex:
            self._pending.append(row)
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._mutex:
                batch, self._pending = self._pending, []
                self._in_flight = batch
            if batch:
                await asyncio.to_thread(self._write, batch)
                with self._mutex:
                    self._in_flight = []
            if self._closing and not self._pending:
                return

    def _open(self) -> Any:
        if self._ledger is None and self._ledger_error is None:
            try:
                source = self._source
                self._ledger = source() if callable(source) else source
                if self._ledger is None:
                    self._ledger_error = "no ledger"
            except Exception as exc:  # a corrupt ledger, a directory in its place, a full disk
                self._ledger_error = f"ledger unusable: {_describe(exc)}"
                self._report.errors.append(self._ledger_error)
        return self._ledger

    def _write(self, rows: list[dict[str, Any]]) -> None:
        ledger = self._open()
        failed: list[dict[str, Any]] = []
        for row in rows:
            if ledger is None:
                failed.append(row)
                continue
            try:
                if row.get("event") == "latch":
                    ledger.set_halt(row.get("detail") or "kill-switch", row.get("by") or "unknown")
                else:
                    ledger.audit(row["kill_id"], row["event"], step=row.get("step"), outcome=row.get("outcome"),
                                 detail=row.get("detail"), elapsed=row.get("elapsed"), objects=row.get("objects"),
                                 uid=row["uid"], ts=row["ts"])
            except Exception as exc:
                what = "halt latch row" if row.get("event") == "latch" else "audit rows"
                message = f"{what} not written to the ledger: {_describe(exc)}"
                if message not in self._report.errors:  # once, not once per row
                    self._report.errors.append(message)
                failed.append(row)
        if failed:
            self._journal(failed)

    def _journal(self, rows: list[dict[str, Any]]) -> None:
        self._report.ledger_ok = False
        journal_rows = [r for r in rows if r.get("event") != "latch"]
        if not journal_rows:
            return
        where, errors = halt.journal_append(self._state_dir, journal_rows)
        if where is not None:
            self._report.journal = str(where)
        else:
            self._report.errors.append(f"{len(journal_rows)} audit row(s) LOST: the journal is unwritable too "
                                       f"({'; '.join(errors)})")

    async def close(self, within: float) -> None:
        """Flush; what the ledger has not taken after ``within`` s goes to the journal (a row
        that reaches the ledger later is not duplicated by a replay: rows have uids)."""
        self._closing = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=within)
        except TimeoutError:
            with self._mutex:
                left = self._in_flight + self._pending
                self._pending = []
            self._report.errors.append(f"the ledger did not answer within {within:g}s: "
                                       f"{len(left)} audit row(s) journalled")
            await asyncio.to_thread(self._journal, left)


class KillSwitch:
    def __init__(
        self,
        ledger: Any,
        steps: list[KillStep],
        lock_path: Path,
        *,
        lock_timeout: float | None = None,
        state_dir: Path | None = None,
        profile: str = "",
    ) -> None:
        """``ledger``: a Ledger, or a callable opening it (it may raise: the kill goes on), or
        None. ``state_dir``: where the latch file, journal and marker live (default: beside the
        ledger, else beside the lock file)."""
        self._ledger_source = ledger
        self.steps = _in_phase_order(steps)
        self.lock_path = Path(lock_path)
        if state_dir is None:
            path = getattr(ledger, "path", None)
            state_dir = Path(path).parent if path is not None else self.lock_path.parent
        self.state_dir = Path(state_dir)
        self.profile = profile
        # How long a fire waits for another one still holding the lock before it fires anyway;
        # None: the longest step deadline (with its retries) plus 30 s.
        self.lock_timeout = lock_timeout

    @property
    def ledger(self) -> "Ledger":
        source = self._ledger_source
        return source() if callable(source) else source

    def plan(self) -> list[KillStep]:
        """The steps a fire would run, in phase order."""
        return list(self.steps)

    def dry_run(self) -> list[KillStep]:
        """The plan, and nothing else: no latch, no audit, no lock, no action."""
        return self.plan()

    async def targets(self, within: float = 3.0) -> dict[str, list[Any] | str]:
        """What each step would stop (its ``targets`` listing, bounded by ``within`` s): step
        name → the objects, or a string saying why there is no list."""
        async def one(step: KillStep) -> list[Any] | str:
            if step.targets is None:
                return "no listing for this step"
            try:
                return await asyncio.wait_for(step.targets(), timeout=within)
            except TimeoutError:
                return f"listing took more than {within:g}s"
            except Exception as exc:
                return f"listing failed: {_describe(exc)}"

        found = await asyncio.gather(*(one(s) for s in self.steps))
        return {s.name: f for s, f in zip(self.steps, found)}

    # --- status ------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """(Blocking.) See :func:`halt_status`."""
        return halt_status(self.state_dir, self._ledger_source)

    # --- firing ------------------------------------------------------------------------------
    async def fire(
        self,
        by: str,
        on_update: Callable[[StepResult], None] | None = None,
        kill_id: str | None = None,
    ) -> KillReport:
        kill_id = kill_id or uuid.uuid4().hex[:12]
        results = [StepResult(s.name, s.kind, phase=s.phase, deadline=s.deadline) for s in self.steps]
        report = KillReport(kill_id, results)
        recorder = _Recorder(self._ledger_source, self.state_dir, report)
        reason = f"kill-switch fired by {by} ({kill_id})"

        def update(result: StepResult) -> None:
            if on_update is None:
                return
            try:
                on_update(result)
            except Exception:  # the UI's trouble must never stop a kill
                log.exception("kill-switch on_update callback failed")

        def audit(event: str, **kw: Any) -> None:
            recorder.add({"kill_id": kill_id, "event": event, **kw})

        lock = FileLock(self.lock_path)
        lock_timeout = self.lock_timeout
        if lock_timeout is None:  # a fire ends within its longest deadline (plus the audit)
            lock_timeout = max((s.deadline * (1 + max(0, s.retries)) for s in self.steps), default=0) + 30.0
        lock_note = ""
        try:
            # free (the usual case): taken at once, without yielding, so the steps are
            # dispatched before anything else gets the loop (the UI drawing the results)
            if not lock.try_acquire():
                await asyncio.wait_for(lock.acquire(), timeout=lock_timeout)
        except TimeoutError:
            # The holder is hung (stopped, stuck in a syscall): stopping things matters more
            # than not overlapping with it.
            lock_note = f"; lock {self.lock_path} still held after {lock_timeout:g}s, fired anyway"
        except OSError as exc:  # a full or read-only disk, a data dir that is a file
            lock_note = f"; lock {self.lock_path} unusable ({exc.strerror or exc}), fired without it"
        if lock_note:
            report.errors.append(lock_note[2:])
        try:
            # The latch file and the marker: small files, in a thread (a hung disk holds a
            # thread, not the kill). Nothing waits for them: a run that starts before the latch
            # lands is caught by the local step's rescans, and refused by claim_run after.
            latch_task = asyncio.create_task(asyncio.to_thread(self._set_latch_files, report, reason, by))
            recorder.start()
            audit("latch", detail=reason, by=by)
            steps = ", ".join(f"{s.phase}:{s.name}" for s in self.steps) or "none"
            audit("fired", detail=f"by {by}; profile {self.profile or '?'}; steps: {steps}{lock_note}")

            record_tasks: list[asyncio.Task[None]] = []
            for phase in PHASES:
                pairs = [(s, r) for s, r in zip(self.steps, results) if s.phase == phase]
                if not pairs:
                    continue
                outcome = self._outcome(report, by) if phase == "alert" else None
                tasks = []
                for step, result in pairs:
                    if step.enabled:
                        tasks.append(asyncio.create_task(
                            self._run_step(step, result, update, audit, outcome), name=f"kill-{step.name}"))
                    else:
                        result.outcome, result.detail = SKIPPED, "disabled in the profile"
                        update(result)
                        audit("step_end", step=step.name, outcome=SKIPPED, detail=result.detail)
                if tasks:
                    # a step is cancelled at its deadline; a coroutine that ignores its cancel
                    # must not hold up the next phase
                    longest = max(s.deadline for s, _ in pairs if s.enabled)
                    await asyncio.wait(tasks, timeout=longest + 1.0)
                for step, result in pairs:
                    if step.enabled and step.record is not None and result.started is not None:
                        record_tasks.append(asyncio.create_task(self._record(step, result)))
            if not latch_task.done():
                await asyncio.wait([latch_task], timeout=5.0)
            if not latch_task.done():
                report.latch_set = False
                report.errors.append("the HALTED file could not be written within 5s (disk hung?)")
            if record_tasks:
                await asyncio.wait(record_tasks, timeout=RECORD_WITHIN)
                if any(not t.done() for t in record_tasks):
                    report.errors.append(f"recording the steps' results took more than {RECORD_WITHIN:g}s")
            summary = ", ".join(f"{r.name}={r.outcome}" for r in results) or "no steps"
            audit("done", outcome=OK if report.ok else FAILED, detail=summary)
            await recorder.close(FLUSH_WITHIN)
            report.done = True
            await asyncio.to_thread(halt.clear_in_progress, self.state_dir, kill_id)
        finally:
            lock.release()
        return report

    def _set_latch_files(self, report: KillReport, reason: str, by: str) -> None:
        """(Thread.) The HALTED file and the in-progress marker; earlier interrupted kills noted."""
        try:
            report.interrupted = [m for m in halt.in_progress(self.state_dir) if not m["alive"]]
        except Exception:  # noqa: BLE001 - noting old markers must not stop the latch
            report.interrupted = []
        if halt.read_latch_file(self.state_dir) is not None:  # already halted: that latch stands
            written = halt.LatchWrite(self.state_dir / halt.LATCH_FILE)
            for where in halt.locations(self.state_dir):
                if (where / halt.LATCH_FILE).exists():
                    written = halt.LatchWrite(where / halt.LATCH_FILE)
                    break
        else:
            written = halt.set_latch_file(self.state_dir, reason, by, report.kill_id)
        if written.ok:
            report.latch_where.append(str(written.where))
            if written.errors:
                report.errors.append(f"HALTED file written to the fallback {written.where} "
                                     f"({'; '.join(written.errors)})")
        else:
            report.latch_set = False
            report.errors.append(f"HALTED file NOT written: {'; '.join(written.errors)}")
        for marker in report.interrupted:
            halt.clear_in_progress(self.state_dir, marker.get("kill_id"))
        from opsconsole.backends.local.procs import process_start_time

        halt.mark_in_progress(self.state_dir, {
            "kill_id": report.kill_id, "pid": os.getpid(), "proc_start": process_start_time(os.getpid()),
            "started_at": utcnow().isoformat(), "by": by, "profile": self.profile,
            "steps": [s.name for s in self.steps]})

    def _outcome(self, report: KillReport, by: str) -> dict[str, Any]:
        """The kill so far, for the alert phase (a webhook posts it)."""
        body = report.as_dict()
        body.update({"profile": self.profile, "by": by, "at": utcnow().isoformat(),
                     "ok_so_far": all(r.outcome in (OK, SKIPPED) for r in report.results if r.phase != "alert")})
        body["steps"] = [s for s in body["steps"] if s["phase"] != "alert"]
        return body

    async def _run_step(self, step: KillStep, result: StepResult, update: Callable[[StepResult], None],
                        audit: Callable[..., None], outcome: dict[str, Any] | None) -> None:
        def changed() -> None:
            if result.log.stopping and result.outcome == RUNNING:
                result.outcome = STOPPING
            result.detail = result.log.detail or result.detail
            update(result)

        async def attempts() -> str | None:
            for attempt in range(1, max(0, step.retries) + 2):
                result.log = StepLog(changed)
                result.log.outcome = outcome
                try:
                    return await step.action(result.log)
                except Exception as exc:
                    if attempt > step.retries:
                        raise
                    audit("step_retry", step=step.name, outcome=FAILED, detail=_describe(exc))
                    await asyncio.sleep(step.retry_delay)
            return None  # unreachable

        result.outcome, result.started = RUNNING, time.monotonic()
        update(result)
        audit("step_start", step=step.name, detail=f"[{step.phase}] {step.description}")
        try:
            detail = await asyncio.wait_for(attempts(), timeout=step.deadline)
            result.outcome, result.detail = result.log.verdict() or OK, detail or result.log.summary()
        except TimeoutError as exc:
            result.outcome = UNKNOWN
            if time.monotonic() - result.started >= step.deadline:
                result.detail = f"no answer within its {step.deadline:g}s deadline (cancelled); state unknown"
                for obj in result.log.unfinished():
                    result.log.not_confirmed(obj.kind, obj.ident, f"not confirmed within the {step.deadline:g}s deadline")
            else:  # the action's own timeout: we don't know what happened either
                result.detail = _describe(exc)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the fire itself is being cancelled
            result.outcome, result.detail = FAILED, "the action was cancelled"
        except Exception as exc:
            result.outcome, result.detail = FAILED, _describe(exc)
            if result.log.verdict() == "unknown":  # acted on things, then failed: say so per object
                for obj in result.log.unfinished():
                    result.log.not_confirmed(obj.kind, obj.ident, "the step failed before confirming it")
        summary = result.log.summary()
        if summary and summary not in result.detail:
            result.detail = f"{result.detail} [{summary}]" if result.detail else summary
        result.ended = time.monotonic()
        audit("step_end", step=step.name, outcome=result.outcome, detail=result.detail, elapsed=result.elapsed,
              objects=[o.as_dict() for o in result.log.objects])
        update(result)

    async def _record(self, step: KillStep, result: StepResult) -> None:
        assert step.record is not None
        try:
            await asyncio.to_thread(step.record, result.log)
        except Exception as exc:
            result.record_error = f"not recorded in the ledger: {_describe(exc)}"

    def release(self, by: str) -> None:
        """Clear the halt latch (launches are allowed again), with an audit row. Synchronous:
        call it through ``asyncio.to_thread`` from the event loop. Raises if the ledger can't be
        opened or the latch file can't be removed (the latch then stays set: a release is only
        ever done with a working ledger, so that it is audited)."""
        ledger = self.ledger
        ledger.release_halt(by)
        ledger.audit(f"release-{uuid.uuid4().hex[:8]}", "released", detail=f"by {by}")


def halt_status(state_dir: Path, ledger_source: Any, replay: bool = True) -> dict[str, Any]:
    """(Blocking.) The latch, interrupted kills and unreplayed journal rows: the files first
    (they work without a ledger), then the ledger if it opens (journalled rows are replayed
    into it then). ``ledger`` is "ok" or says what is wrong with it."""
    out: dict[str, Any] = {"halted": False, "latch": None, "latch_file": None, "ledger": "ok",
                           "interrupted": [], "in_progress": [], "journal_rows": 0}
    file_latch = halt.read_latch_file(state_dir)
    if file_latch is not None:
        out["latch_file"] = {"set_at": file_latch.set_at.isoformat(), "by": file_latch.by, "reason": file_latch.reason}
    latch = file_latch
    try:
        ledger = ledger_source() if callable(ledger_source) else ledger_source
        if replay:
            try:
                ledger.replay_journal()
            except Exception as exc:
                out["ledger"] = f"journal not replayed: {_describe(exc)}"
        latch = ledger.halt_latch() or latch
    except Exception as exc:
        out["ledger"] = f"unusable: {_describe(exc)}"
    if latch is not None:
        out["halted"] = True
        out["latch"] = {"set_at": latch.set_at.isoformat(), "by": latch.by, "reason": latch.reason}
    for marker in halt.in_progress(state_dir):
        (out["in_progress"] if marker["alive"] else out["interrupted"]).append(marker)
    out["journal_rows"] = len(halt.journal_rows(state_dir))
    return out


def _in_phase_order(steps: list[KillStep]) -> list[KillStep]:
    order = {p: i for i, p in enumerate(PHASES)}
    return sorted(steps, key=lambda s: order.get(s.phase, len(PHASES)))  # stable inside a phase


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
