"""Balances and P&L: snapshots from the exchange accounts and from the runs' logs, kept in the
ledger.

* From the exchange: on demand (the accounts pane's action, :func:`snapshot_accounts`), before
  a launch when the preset asks (``snapshot_balances = true``: one pre snapshot per account and
  run) and after such a run ended (:func:`snapshot_ended_runs`: its post snapshot).
* From run logs, wherever they live: the run's backend hands its logs over (``run_logs``: a
  run's own file, or the task logs of a remote run, spooled); the parts read are the run kind's
  ``[balances] logs`` patterns (``*flatten_account*`` by default). The first dict printed is
  the pre-run balance, the last one the post-run balance. A huge log is read at both ends only.

A run's pre/post: exchange snapshots win over log ones. Generic: no backend is named here; a
run's backend is the part of its ledger target before ":" ("<backend>:<rest>")."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from opsconsole.backends.base import RunLog
from opsconsole.domain.balances import (EXCHANGE, LOG, POST, PRE, BalanceDiff, BalanceSnapshot, RunBalance,
                                        balance_diff, parse_balance_dicts, parse_balance_lines)
from opsconsole.domain.models import RunRecord

if TYPE_CHECKING:
    from opsconsole.domain.kinds import RunKind
    from opsconsole.services.context import Context

WINDOW = 256 * 1024
DEFAULT_PARTS = ("*flatten_account*",)


def log_balances(path: str, quote: str = "USDT", window: int = WINDOW) -> BalanceDiff:
    """Blocking (call it in a thread). A missing log gives an empty diff."""
    dicts = file_balance_dicts(path, window)
    return balance_diff(dicts, quote)


def file_balance_dicts(path: str | Path, window: int = WINDOW) -> list[dict[str, float]]:
    """(Blocking.) The balance dicts of one log file: all of a small file, the first of its
    head and the last of its tail for a big one."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return []
    try:
        size = os.fstat(fd).st_size
        if size <= 2 * window:
            return parse_balance_dicts(os.pread(fd, size, 0).decode("utf-8", "replace"))
        head = parse_balance_dicts(os.pread(fd, window, 0).decode("utf-8", "replace"))
        tail = parse_balance_dicts(os.pread(fd, window, size - window).decode("utf-8", "replace"))
        return head[:1] + tail[-1:]
    finally:
        os.close(fd)


def iter_lines(path: Path, chunk: int = 1 << 20) -> Iterator[str]:
    """(Blocking.) A file's lines without reading it whole."""
    with open(path, "rb") as fh:
        rest = b""
        while True:
            data = fh.read(chunk)
            if not data:
                break
            data = rest + data
            lines = data.split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield line.decode("utf-8", "replace")
        if rest:
            yield rest.decode("utf-8", "replace")


# --- which backend, which kind ----------------------------------------------------------------
def run_backend(run: RunRecord) -> str:
    return run.target.partition(":")[0]


_KINDS: dict[str, "RunKind"] | None = None


def run_kind(run: RunRecord) -> "RunKind | None":
    global _KINDS
    if _KINDS is None:
        from opsconsole.config.kinds import load_kinds

        _KINDS = load_kinds().kinds
    return _KINDS.get(run.kind)


def balance_parts(run: RunRecord) -> tuple[tuple[str, ...], str, str]:
    """(log patterns, quote currency, account name) the run's kind reads its balances with."""
    kind = run_kind(run)
    if kind is None:
        return DEFAULT_PARTS, "USDT", "run log"
    return kind.balance_logs, kind.balance_quote, kind.balance_account


async def run_logs(context: "Context", run: RunRecord, parts: tuple[str, ...] = ("*",)) -> list[RunLog]:
    """The run's logs from its backend (its spool for remote ones); [] when the run's backend
    is not enabled in this profile or has no log for it."""
    session = context.session(run_backend(run))
    if session is None:  # its backend is not in this profile: the run's own log file, if any
        path = Path(run.log_path) if run.log_path else None
        return [RunLog(path.name, path, run.started_at)] if path is not None and path.is_file() else []
    logs = await session.run_logs(run, parts)
    return logs or []


# --- snapshots from logs ----------------------------------------------------------------------
def _log_snapshots(run: RunRecord, logs: list[RunLog], quote: str, account: str) -> list[BalanceSnapshot]:
    """(Blocking.) Pre = the first dict of the first part, post = the last dict of the last."""
    found: list[tuple[RunLog, dict[str, float]]] = []
    for part in logs:
        found += [(part, d) for d in file_balance_dicts(part.path)]
    out: list[BalanceSnapshot] = []
    if found:
        part, first = found[0]
        out.append(BalanceSnapshot.from_log_dict(first, account=account, quote=quote, role=PRE, run_id=run.id,
                                                 taken_at=part.started_at or run.started_at or run.created_at,
                                                 detail=part.name))
    if len(found) > 1:
        part, last = found[-1]
        same_part = part is found[0][0]  # one log holds both: the post one is the run's end
        when = (run.ended_at if same_part else part.started_at) or part.started_at or run.ended_at or run.created_at
        out.append(BalanceSnapshot.from_log_dict(last, account=account, quote=quote, role=POST, run_id=run.id,
                                                 taken_at=when,
                                                 detail=part.name))
    return out


class Balances:
    """Run balances for one session: reads each finished run's logs once (then the ledger
    holds its snapshots), re-reads running ones on every ask."""

    def __init__(self, context: "Context") -> None:
        self.context = context
        self._read: set[int] = set()  # finished runs whose logs were read this session

    async def run_balance(self, run: RunRecord, *, refresh: bool = False) -> RunBalance:
        ledger = self.context.ledger
        snaps = await asyncio.to_thread(ledger.list_snapshots, None, run.id)
        notes: list[str] = []
        have_log = any(s.source == LOG for s in snaps)
        if refresh or (not have_log and run.id not in self._read) or run.state.active:
            patterns, quote, account = balance_parts(run)
            try:
                logs = await run_logs(self.context, run, patterns)
                found = await asyncio.to_thread(_log_snapshots, run, logs, quote, account)
            except Exception as exc:  # noqa: BLE001 - a backend down: the run shows what the ledger has
                notes.append(f"logs not read: {type(exc).__name__}: {exc}")
            else:
                if run.state.final:
                    self._read.add(run.id)
                    if found:
                        await asyncio.to_thread(ledger.replace_run_snapshots, run.id, LOG, found)
                snaps = [s for s in snaps if s.source != LOG] + found
        return pick(run.id, snaps, notes)


def pick(run_id: int, snaps: list[BalanceSnapshot], notes: list[str] | None = None) -> RunBalance:
    """A run's pre/post from its snapshots, from one source so the P&L compares like with like:
    the exchange's when it has both (summed over the accounts snapshotted), else the log's when
    it has both, else whatever there is (exchange first)."""
    def best(source: str, role: str) -> BalanceSnapshot | None:
        found = [s for s in snaps if s.role == role and s.source == source]
        if not found:
            return None
        return found[0] if len(found) == 1 or source != EXCHANGE else combine(found, role)

    for source in (EXCHANGE, LOG):
        pre, post = best(source, PRE), best(source, POST)
        if pre is not None and post is not None:
            return RunBalance(run_id, pre, post, list(notes or []))
    pre = best(EXCHANGE, PRE) or best(LOG, PRE)
    post = best(EXCHANGE, POST) or best(LOG, POST)
    return RunBalance(run_id, pre, post, list(notes or []))


def combine(snaps: list[BalanceSnapshot], role: str) -> BalanceSnapshot:
    """Several accounts' snapshots as one (assets added up, quote totals summed)."""
    from opsconsole.domain.balances import AssetBalance

    assets: dict[str, AssetBalance] = {}
    for s in snaps:
        for k, v in s.assets.items():
            a = assets.get(k)
            assets[k] = v if a is None else AssetBalance(a.free + v.free, a.used + v.used, a.total + v.total)
    totals = [s.quote_total for s in snaps]
    total = None if any(t is None for t in totals) else sum(t for t in totals if t is not None)
    return BalanceSnapshot(" + ".join(sorted(s.account for s in snaps)), snaps[0].taken_at, snaps[0].quote, assets, total,
                           EXCHANGE, role, snaps[0].run_id)


# --- snapshots from the exchange ---------------------------------------------------------------
async def snapshot_accounts(context: "Context", *, role: str = "manual", run_ids: list[int] | None = None,
                            taken: list[BalanceSnapshot] | None = None) -> tuple[list[BalanceSnapshot], list[str]]:
    """Snapshot every exchange account of the profile now (or store `taken` ones again) for
    each run in `run_ids` (one row per run; none: a run-less snapshot). Returns the snapshots
    and the problems met (an account down)."""
    problems: list[str] = []
    snaps: list[BalanceSnapshot] = list(taken or [])
    if taken is None:
        answers = await asyncio.gather(*(s.balance_snapshots() for s in context.sessions), return_exceptions=True)
        for session, answer in zip(context.sessions, answers):
            if isinstance(answer, BaseException):
                problems.append(f"{session.backend.name}: {type(answer).__name__}: {answer}")
            else:
                snaps += answer[0]
                problems += answer[1]
    ledger = context.ledger
    from dataclasses import replace

    for snap in snaps:
        for run_id in run_ids or [None]:  # type: ignore[list-item]
            await asyncio.to_thread(ledger.add_snapshot, replace(snap, role=role, run_id=run_id))
    return snaps, problems


async def snapshot_ended_runs(context: "Context") -> list[int]:
    """Runs with an exchange pre snapshot, ended, without a post one: snapshot them now."""
    ledger = context.ledger
    runs = await asyncio.to_thread(ledger.list_runs, 200)
    wanted = []
    for run in runs:
        if not run.state.final:
            continue
        snaps = await asyncio.to_thread(ledger.list_snapshots, None, run.id)
        if any(s.source == EXCHANGE and s.role == PRE for s in snaps) and not any(
                s.source == EXCHANGE and s.role == POST for s in snaps):
            wanted.append(run.id)
    if wanted:
        await snapshot_accounts(context, role=POST, run_ids=wanted)
    return wanted


def history(snaps: list[BalanceSnapshot]) -> dict[str, list[tuple[datetime, float]]]:
    """account → [(time, quote total)] oldest first, for the chart."""
    out: dict[str, list[tuple[datetime, float]]] = {}
    for s in sorted(snaps, key=lambda s: s.taken_at):
        if s.quote_total is not None:
            out.setdefault(s.account, []).append((s.taken_at, s.quote_total))
    return out


__all__ = ["Balances", "WINDOW", "balance_parts", "file_balance_dicts", "history", "iter_lines", "log_balances",
           "parse_balance_lines", "pick", "run_logs", "snapshot_accounts", "snapshot_ended_runs"]
