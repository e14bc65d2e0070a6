"""The execution report of a finished run (seed 000, "Logging the results"): the fields an
operator used to copy by hand out of the Airflow graph into the execution log, as data and as
Markdown.

* start = the first ``# wall_clock_time=…: done waiting`` line (the real start of the trade
  execution), in UTC; the run's own start when no log printed one (and the report says so);
* pre/post balance = the first and last balance dicts (or exchange snapshots) of the run, in
  the quote currency, and the P&L between them;
* notebooks = the web addresses the notebook task printed;
* warnings/errors counted in the run's logs; a Notes section the operator writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opsconsole.domain.balances import RunBalance

DONE_WAITING = re.compile(
    r"wall_clock_time=(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)\s*:\s*done waiting")
URL = re.compile(r"https?://[^\s'\"<>`]+")
_URL_TRAIL = ".,;:)]}"
DESCRIPTION_MAX = 400


def parse_wall_clock(stamp: str) -> datetime:
    """`2023-10-05 07:40:00.078250-04:00` → an aware UTC datetime (a stamp without an offset
    is taken as UTC)."""
    text = stamp.replace("Z", "+00:00")
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:  # nanoseconds: Python keeps microseconds
        text = text.replace(frac.group(0), "." + frac.group(1)[:6])
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def find_done_waiting(line: str) -> datetime | None:
    m = DONE_WAITING.search(line)
    if not m:
        return None
    try:
        return parse_wall_clock(m.group(1))
    except ValueError:
        return None


def find_urls(line: str) -> list[str]:
    return [u.rstrip(_URL_TRAIL) for u in URL.findall(line)]


def short_description(parameters: dict[str, Any], limit: int = DESCRIPTION_MAX) -> str:
    """The run's parameters as one line (`strategy=C5b, run_duration=7200, …`), cut at `limit`."""
    parts = []
    for key in sorted(parameters):
        value = parameters[key]
        if value is None or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, (list, tuple)):
            value = " ".join(map(str, value))
        parts.append(f"{key}={value}")
    text = ", ".join(parts) or "(no parameters)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class LogFacts:
    """What the run's logs say, gathered line by line over every part."""

    first_done_waiting: datetime | None = None
    done_waiting_part: str | None = None
    last_done_waiting: datetime | None = None
    urls: list[str] = field(default_factory=list)
    warnings: int = 0
    errors: int = 0
    lines: int = 0
    parts: list[str] = field(default_factory=list)


@dataclass
class ExecutionReport:
    run_id: int
    title: str
    description: str
    state: str
    target: str
    external_id: str | None
    start: datetime | None
    start_source: str               # "done waiting" (from which part) or "run start (no done waiting line)"
    end: datetime | None
    balance: RunBalance
    notebooks: list[str]
    warnings: int
    errors: int
    notes: str = ""
    parts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        b = self.balance
        return {
            "run_id": self.run_id, "title": self.title, "description": self.description, "state": self.state,
            "target": self.target, "external_id": self.external_id,
            "start": self.start.isoformat() if self.start else None, "start_source": self.start_source,
            "end": self.end.isoformat() if self.end else None, "quote": b.quote,
            "pre": b.pre.quote_total if b.pre else None, "post": b.post.quote_total if b.post else None,
            "pnl": b.pnl, "notebooks": list(self.notebooks), "warnings": self.warnings, "errors": self.errors,
            "parts": list(self.parts), "problems": list(self.problems),
        }


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S") + (f".{value.microsecond:06d}" if value.microsecond else "") + " UTC"


def _money(value: float | None, quote: str) -> str:
    return "—" if value is None else f"{value:,.4f} {quote}"


def md_escape(text: str) -> str:
    """Outside text inside Markdown: no markup, no HTML, control characters made visible."""
    out = []
    for ch in text:
        if ch in "\\`*_{}[]<>#|!":
            out.append("\\" + ch)
        elif ord(ch) < 32 and ch not in "\n\t" or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def render_markdown(r: ExecutionReport) -> str:
    b = r.balance
    pnl = b.pnl
    lines = [
        f"# Execution report — run {r.run_id}: {md_escape(r.title)}",
        "",
        f"- **Short description:** {md_escape(r.description)}",
        f"- **State:** {r.state}",
        f"- **Target:** {md_escape(r.target)}" + (f" ({md_escape(r.external_id)})" if r.external_id else ""),
        f"- **Start time (UTC):** {_when(r.start)} — {md_escape(r.start_source)}",
        f"- **End time (UTC):** {_when(r.end)}",
        f"- **Pre-run balance ({b.quote}):** {_money(b.pre.quote_total if b.pre else None, b.quote)}"
        + (f" — {md_escape(b.pre.source)} {md_escape(b.pre.account)}" if b.pre else ""),
        f"- **Post-run balance ({b.quote}):** {_money(b.post.quote_total if b.post else None, b.quote)}"
        + (f" — {md_escape(b.post.source)} {md_escape(b.post.account)}" if b.post else ""),
        f"- **P&L ({b.quote}):** " + ("—" if pnl is None else f"{pnl:+,.4f} {b.quote}"),
        f"- **Warnings / errors in the logs:** {r.warnings} / {r.errors}",
        "",
        "## Notebooks",
        "",
    ]
    lines += [f"- <{u}>" for u in r.notebooks] or ["- (no notebook address in the logs)"]
    if r.parts:
        lines += ["", "## Logs read", ""] + [f"- {md_escape(p)}" for p in r.parts]
    if r.problems:
        lines += ["", "## Problems building this report", ""] + [f"- {md_escape(p)}" for p in r.problems]
    lines += ["", "## Notes", "", r.notes.strip() or "(none yet)", ""]
    return "\n".join(lines)
