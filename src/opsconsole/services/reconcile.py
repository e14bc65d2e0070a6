"""What an operator looks at before releasing the HALTED latch after a kill: what is still
open on the exchanges (orders left), balances against the last snapshot, and the runs still
alive in the ledger. Every backend contributes its own lines (``BackendSession.reconciliation``),
each bounded by a deadline so a server down cannot hold the release up."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsconsole.services.context import Context

DEADLINE = 20.0
SECTIONS = ("open orders", "balances", "runs still alive")


async def reconciliation(context: "Context", deadline: float = DEADLINE) -> list[tuple[str, str]]:
    """(section, line) in SECTIONS order (other sections after)."""
    lines: list[tuple[str, str]] = []

    async def one(session) -> list[tuple[str, str]]:
        try:
            return await asyncio.wait_for(session.reconciliation(), deadline)
        except Exception as exc:  # noqa: BLE001 - shown; the operator decides
            return [(session.backend.name, f"cannot reconcile: {type(exc).__name__}: {exc}")]

    for part in await asyncio.gather(*(one(s) for s in context.sessions)):
        lines += part
    active = await asyncio.to_thread(context.ledger.active_runs)
    for run in active:
        lines.append(("runs still alive", f"run {run.id} {run.preset or run.kind} {run.state.value} on {run.target}"
                      + (f" ({run.external_id})" if run.external_id else "")))
    if not active:
        lines.append(("runs still alive", "none"))
    order = {name: i for i, name in enumerate(SECTIONS)}
    return sorted(lines, key=lambda kv: order.get(kv[0], len(SECTIONS)))


def format_reconciliation(lines: list[tuple[str, str]]) -> str:
    """As text: a heading per section, its lines indented."""
    out: list[str] = []
    section = None
    for name, line in lines:
        if name != section:
            out.append(f"{name}:")
            section = name
        out += ["  " + part for part in line.splitlines()]
    return "\n".join(out)
