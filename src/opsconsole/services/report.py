"""The execution report of a finished run, for any target: its logs come from the run's
backend (its `run_logs`: a file, a remote run's task logs...), its balances from services/balances.
Built reports are stored in the ledger with the operator's notes (kept across rebuilds) and can
be exported to a Markdown file. See docs/report.md."""

from __future__ import annotations

import asyncio
import os
import tempfile
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from opsconsole.backends.base import RunLog
from opsconsole.domain.report import (ExecutionReport, LogFacts, find_done_waiting, find_urls, render_markdown,
                                      short_description)
from opsconsole.logs.levels import detect_level
from opsconsole.services.balances import Balances, iter_lines, run_logs

if TYPE_CHECKING:
    from opsconsole.domain.models import RunRecord
    from opsconsole.services.context import Context

NOTEBOOK_PARTS = ("*notebook*",)
MAX_URLS = 50


def scan_logs(logs: list[RunLog], notebook_parts: tuple[str, ...] = NOTEBOOK_PARTS) -> LogFacts:
    """(Blocking: a thread.) Every line of every part once: the first and last `done waiting`
    wall-clock times, the notebook addresses (every URL a notebook part printed; elsewhere only
    URLs on lines that mention a notebook), and the warning and error lines."""
    facts = LogFacts(parts=[p.name for p in logs])
    seen: set[str] = set()
    for part in logs:
        notebook_part = any(fnmatchcase(part.name, p) for p in notebook_parts)
        for line in iter_lines(part.path):
            facts.lines += 1
            if "done waiting" in line:
                when = find_done_waiting(line)
                if when is not None:
                    if facts.first_done_waiting is None:
                        facts.first_done_waiting, facts.done_waiting_part = when, part.name
                    facts.last_done_waiting = when
            if "http" in line and (notebook_part or "notebook" in line.lower()):
                for url in find_urls(line):
                    if url not in seen and len(facts.urls) < MAX_URLS:
                        seen.add(url)
                        facts.urls.append(url)
            level = detect_level(line)
            if level is not None:
                if level[0] == "WARN":
                    facts.warnings += 1
                elif level[0] == "ERROR":
                    facts.errors += 1
    return facts


async def build_report(context: "Context", run_id: int, *, balances: Balances | None = None) -> ExecutionReport:
    """Read the run's logs and balances, build its report and store it in the ledger."""
    ledger = context.ledger
    run = await asyncio.to_thread(ledger.get_run, run_id)
    if run is None:
        raise LookupError(f"no run {run_id} in the ledger of profile {context.profile.name!r}")
    problems: list[str] = []
    try:
        logs = await run_logs(context, run, ("*",))
    except Exception as exc:  # noqa: BLE001 - the report says it
        logs = []
        problems.append(f"logs not read: {type(exc).__name__}: {exc}")
    if not logs and not problems:
        problems.append("no log found for this run")
    facts = await asyncio.to_thread(scan_logs, logs)
    balance = await (balances or Balances(context)).run_balance(run)
    problems += balance.notes
    stored = await asyncio.to_thread(ledger.get_report, run_id)
    report = ExecutionReport(
        run_id=run.id, title=run.preset or run.kind, description=short_description(run.parameters),
        state=run.state.value, target=run.target, external_id=run.external_id,
        start=facts.first_done_waiting or run.started_at,
        start_source=(f'first "done waiting" line ({facts.done_waiting_part})' if facts.first_done_waiting
                      else 'the run\'s start: no "done waiting" line in its logs'),
        end=run.ended_at, balance=balance, notebooks=facts.urls, warnings=facts.warnings, errors=facts.errors,
        notes=(stored or {}).get("notes", ""), parts=facts.parts, problems=problems)
    if run.state.active:
        report.problems.append("the run has not finished: this report is provisional")
    await asyncio.to_thread(ledger.save_report, run.id, render_markdown(report), report.fields())
    return report


async def set_notes(context: "Context", run_id: int, notes: str) -> str:
    """Store the operator's notes and re-render the stored report with them; the Markdown."""
    ledger = context.ledger
    await asyncio.to_thread(ledger.set_report_notes, run_id, notes)
    stored = await asyncio.to_thread(ledger.get_report, run_id)
    if not stored or not stored.get("markdown"):
        return (await markdown_of(context, run_id))
    text = stored["markdown"]
    head, sep, _ = text.rpartition("\n## Notes\n")
    text = (head if sep else text.rstrip("\n")) + "\n## Notes\n\n" + (notes.strip() or "(none yet)") + "\n"
    await asyncio.to_thread(ledger.save_report, run_id, text, stored.get("fields") or {})
    return text


async def markdown_of(context: "Context", run_id: int) -> str:
    report = await build_report(context, run_id)
    return render_markdown(report)


def export(markdown: str, path: Path) -> Path:
    """(Blocking.) Write the report atomically (a temporary file renamed into place)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(markdown)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def default_export_path(context: "Context", run: "RunRecord") -> Path:
    return context.data_dir / "reports" / f"run-{run.id}.md"
