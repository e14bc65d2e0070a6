"""The kill-switch engine: every backend contributes :class:`KillStep` s; :meth:`KillSwitch.fire`
runs them all at once.

Order of a fire: take the cross-process lock (a second fire waits for the first) → persist the
HALTED latch and an audit row "fired" → dispatch every step concurrently, each under its own
deadline, with audit rows before and after it → audit "done" → release the lock. A step that
raises ends ``failed``, one that passes its deadline ends ``unknown`` (it is cancelled); neither
holds up or stops the others.

A step's action must be a real coroutine: blocking calls (boto3, subprocess waits) belong in
``asyncio.to_thread``, or its deadline can't be enforced and it would hold up the event loop.
On a deadline the coroutine is cancelled, but a thread it started runs on in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from opsconsole.domain.kill import KillStep, StepLog
from opsconsole.services.ledger import Ledger
from opsconsole.services.lock import FileLock

log = logging.getLogger(__name__)

PENDING, RUNNING, OK, FAILED, UNKNOWN, SKIPPED = "pending", "running", "ok", "failed", "unknown", "skipped"
# the action was taken; the step is waiting for the outside world to confirm it (e.g. Airflow
# kills task processes at the worker's next heartbeat)
STOPPING = "stopping"


@dataclass
class StepResult:
    name: str
    kind: str
    outcome: str = PENDING
    started: float | None = None  # time.monotonic()
    ended: float | None = None
    detail: str = ""
    log: StepLog = field(default_factory=StepLog)  # the objects the step reported

    @property
    def elapsed(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    @property
    def final(self) -> bool:
        return self.outcome not in (PENDING, RUNNING, STOPPING)


@dataclass
class KillReport:
    kill_id: str
    results: list[StepResult]
    latch_set: bool = True
    errors: list[str] = field(default_factory=list)  # the engine's own trouble (latch, audit)

    @property
    def ok(self) -> bool:
        """True only if the latch was set and every enabled step ended ok."""
        return self.latch_set and all(r.outcome in (OK, SKIPPED) for r in self.results)


class KillSwitch:
    def __init__(
        self, ledger: Ledger, steps: list[KillStep], lock_path: Path, *, lock_timeout: float | None = None
    ) -> None:
        self.ledger = ledger
        self.steps = list(steps)
        self.lock_path = Path(lock_path)
        # How long a fire waits for another one still holding the lock before it fires anyway;
        # None: the longest step deadline (with its retries) plus 30 s.
        self.lock_timeout = lock_timeout

    def plan(self) -> list[KillStep]:
        """The steps a fire would run, in display order."""
        return list(self.steps)

    def dry_run(self) -> list[KillStep]:
        """The plan, and nothing else: no latch, no audit, no lock, no action."""
        return self.plan()

    async def fire(
        self,
        by: str,
        on_update: Callable[[StepResult], None] | None = None,
        kill_id: str | None = None,
    ) -> KillReport:
        kill_id = kill_id or uuid.uuid4().hex[:12]
        results = [StepResult(step.name, step.kind) for step in self.steps]
        report = KillReport(kill_id, results)

        def update(result: StepResult) -> None:
            if on_update is None:
                return
            try:
                on_update(result)
            except Exception:  # the UI's trouble must never stop a kill
                log.exception("kill-switch on_update callback failed")

        async def audit(event: str, **kw: object) -> None:
            try:
                await asyncio.to_thread(self.ledger.audit, kill_id, event, **kw)  # type: ignore[arg-type]
            except Exception as exc:  # keep stopping things even if the audit can't be written
                log.exception("kill-switch audit %s failed", event)
                report.errors.append(f"audit {event}: {exc!r}")

        async def attempts(step: KillStep, result: StepResult) -> str | None:
            def changed() -> None:
                if result.log.stopping and result.outcome == RUNNING:
                    result.outcome = STOPPING
                result.detail = result.log.detail or result.detail
                update(result)

            for attempt in range(1, max(0, step.retries) + 2):
                result.log = StepLog(changed)
                try:
                    return await step.action(result.log)
                except Exception as exc:
                    if attempt > step.retries:
                        raise
                    await audit("step_retry", step=step.name, outcome=FAILED, detail=_describe(exc))
                    await asyncio.sleep(step.retry_delay)
            return None  # unreachable

        async def run_step(step: KillStep, result: StepResult) -> None:
            result.outcome, result.started = RUNNING, time.monotonic()
            update(result)
            await audit("step_start", step=step.name, detail=step.description)
            try:
                detail = await asyncio.wait_for(attempts(step, result), timeout=step.deadline)
                result.outcome, result.detail = result.log.verdict() or OK, detail or result.log.summary()
            except TimeoutError as exc:
                result.outcome = UNKNOWN
                if time.monotonic() - result.started >= step.deadline:
                    result.detail = f"no answer within its {step.deadline:g}s deadline (cancelled); state unknown"
                else:  # the action's own timeout: we don't know what happened either
                    result.detail = _describe(exc)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the fire itself is being cancelled
                result.outcome, result.detail = FAILED, "the action was cancelled"
            except Exception as exc:
                result.outcome, result.detail = FAILED, _describe(exc)
            result.ended = time.monotonic()
            await audit("step_end", step=step.name, outcome=result.outcome, detail=result.detail, elapsed=result.elapsed)
            update(result)

        lock = FileLock(self.lock_path)
        lock_timeout = self.lock_timeout
        if lock_timeout is None:  # a fire ends within its longest deadline (plus the audit)
            lock_timeout = max((s.deadline * (1 + max(0, s.retries)) for s in self.steps), default=0) + 30.0
        lock_note = ""
        try:
            await asyncio.wait_for(lock.acquire(), timeout=lock_timeout)
        except TimeoutError:
            # The holder is hung (stopped, stuck in a syscall): stopping things matters more
            # than not overlapping with it.
            lock_note = f"; lock {self.lock_path} still held after {lock_timeout:g}s, fired anyway"
            log.error("kill-switch %s", lock_note[2:])
        except OSError as exc:  # a full or read-only disk must not stop the kill either
            lock_note = f"; lock {self.lock_path} unusable ({exc}), fired without it"
            log.error("kill-switch %s", lock_note[2:])
        try:
            try:
                await asyncio.to_thread(self.ledger.set_halt, f"kill-switch fired by {by} ({kill_id})", by)
            except Exception as exc:  # still stop everything; the report says the latch failed
                log.exception("could not set the halt latch")
                report.latch_set = False
                report.errors.append(f"halt latch: {exc!r}")
            steps = ", ".join(s.name for s in self.steps) or "none"
            await audit("fired", detail=f"by {by}; steps: {steps}{lock_note}")

            tasks = []
            for step, result in zip(self.steps, results):
                if step.enabled:
                    tasks.append(asyncio.create_task(run_step(step, result), name=f"kill-{step.name}"))
            for step, result in zip(self.steps, results):
                if not step.enabled:
                    result.outcome, result.detail = SKIPPED, "disabled in the profile"
                    update(result)
                    await audit("step_end", step=step.name, outcome=SKIPPED, detail=result.detail)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            summary = ", ".join(f"{r.name}={r.outcome}" for r in results) or "no steps"
            await audit("done", outcome=OK if report.ok else FAILED, detail=summary)
        finally:
            lock.release()
        return report

    def release(self, by: str) -> None:
        """Clear the halt latch (launches are allowed again), with an audit row. Synchronous:
        call it through ``asyncio.to_thread`` from the event loop."""
        self.ledger.release_halt(by)
        self.ledger.audit(f"release-{uuid.uuid4().hex[:8]}", "released", detail=f"by {by}")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
