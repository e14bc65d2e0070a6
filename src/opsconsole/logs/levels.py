"""Log levels and timestamps recognised in the formats operators meet.

Formats seen in our runs:
    2023-10-05 07:40:00,078 INFO  hwcc.py:123 ... (python logging)
    [2024-01-02T03:04:05.678+0000] {taskinstance.py:12} ERROR - ... (Airflow task logs)
    E1005 07:40:00.078250  1234 file.cc:12] ... (glog: the letter is the level)
    2026-11-29T22:58:39.178Z INFO task.stdout 2023-10-05 07:40:00,078 ERROR ... (Airflow 3, as
        opsconsole renders its structured log: a captured stdout/stderr line is logged at INFO
        by Airflow, the program's own level inside it is the one that counts)
    # wall_clock_time=2023-10-05 07:40:00.078250-04:00: done waiting
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

LEVELS = ("ERROR", "WARN", "INFO", "DEBUG")

# The first level word near the start of a line wins; searching the whole line would
# colour an INFO line red because its message mentions "error".
_LEVEL_WORD = re.compile(
    r"\b(CRITICAL|FATAL|ERROR|ERR|WARNING|WARN|INFO|DEBUG|TRACE)\b", re.IGNORECASE
)
_GLOG = re.compile(r"^([EWIF])\d{4} \d\d:\d\d:\d\d")
# Airflow 3's capture of a program's output: `timestamp LEVEL task.stdout message` (a Python
# task's prints) or `timestamp LEVEL ….SubprocessHook message` (a BashOperator's command)
_CAPTURED = re.compile(r"^\S+ [A-Z]+ (?:task\.std(?:out|err)|\S*\.SubprocessHook) ")
_LEVEL_SCAN_CHARS = 120

_CANONICAL = {
    "CRITICAL": "ERROR",
    "FATAL": "ERROR",
    "ERROR": "ERROR",
    "ERR": "ERROR",
    "WARNING": "WARN",
    "WARN": "WARN",
    "INFO": "INFO",
    "DEBUG": "DEBUG",
    "TRACE": "DEBUG",
}
_GLOG_LEVEL = {"E": "ERROR", "F": "ERROR", "W": "WARN", "I": "INFO"}


def detect_level(line: str) -> tuple[str, int, int] | None:
    """Return (level, start, end) of the level token in `line`, or None.

    `level` is one of LEVELS; start/end are character offsets of the token so the viewer
    can emphasise it.
    """
    m = _GLOG.match(line)
    if m:
        return _GLOG_LEVEL[m.group(1)], 0, 1
    captured = _CAPTURED.match(line)
    if captured:  # the captured program's own level, if it printed one, outranks Airflow's
        inner = detect_level(line[captured.end():])
        if inner is not None:
            return inner[0], inner[1] + captured.end(), inner[2] + captured.end()
    head = line[:_LEVEL_SCAN_CHARS]
    m = _LEVEL_WORD.search(head)
    if m is None:
        return None
    word = m.group(1)
    # Lower-case "error" in prose is not a level; the formats above print levels upper-case.
    if not word.isupper():
        return None
    return _CANONICAL[word.upper()], m.start(1), m.end(1)


_TIMESTAMP = re.compile(
    rb"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    rb"(Z|[+-]\d\d:?\d\d)?"
)


def parse_timestamp(data: bytes, limit: int = 200) -> float | None:
    """Epoch seconds of the first ISO-like timestamp in the first `limit` bytes of `data`.

    Naive timestamps are taken as UTC: we only compare timestamps of one file with each
    other and with what the operator types, which is parsed the same way.
    """
    m = _TIMESTAMP.search(data, 0, limit)
    if m is None:
        return None
    return _match_to_epoch(m)


def _match_to_epoch(m: re.Match) -> float | None:
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        return None
    seconds = dt.replace(tzinfo=timezone.utc).timestamp()
    if frac:
        seconds += int(frac) / 10 ** len(frac)
    if tz and tz != b"Z":
        sign = -1 if tz[:1] == b"-" else 1
        digits = tz[1:].replace(b":", b"")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


def parse_user_time(text: str, reference: float | None = None) -> float | None:
    """Parse what an operator typed at the jump-to-time prompt.

    Accepts a full timestamp ("2023-10-05 07:40:00") or a time of day ("07:40", "07:40:05")
    taken on the date of `reference` (epoch seconds, e.g. the first timestamp of the file).
    """
    text = text.strip()
    full = parse_timestamp(text.encode(), limit=len(text) + 1)
    if full is not None:
        return full
    m = re.fullmatch(r"(\d{1,2}):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?", text)
    if m is None:
        return None
    h, mi, s, frac = m.groups()
    base = datetime.fromtimestamp(reference or 0, tz=timezone.utc)
    try:
        dt = base.replace(hour=int(h), minute=int(mi), second=int(s or 0), microsecond=0)
    except ValueError:
        return None
    seconds = dt.timestamp()
    if frac:
        seconds += int(frac) / 10 ** len(frac)
    return seconds
