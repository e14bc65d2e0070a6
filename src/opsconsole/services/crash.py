"""Crash reports: an unexpected exception is written to a file under the state dir, and the
user is shown one line naming it — never a traceback (it may show locals, paths, values).

    ~/.local/share/opsconsole/crash/crash-20261129T231500-4242.txt   (mode 0600)
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

from opsconsole.config import paths


def crash_dir() -> Path:
    return paths.data_dir() / "crash"


def write_crash_report(exc: BaseException, where: str = "") -> Path | None:
    """Write `exc` with its traceback (no local variables) to a new report file; its path,
    or None when even that failed (a read-only disk: the caller still says what happened)."""
    from opsconsole import __version__

    now = datetime.now(timezone.utc)
    try:
        directory = crash_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"crash-{now:%Y%m%dT%H%M%S}-{os.getpid()}.txt"
        text = (f"opsconsole {__version__} crash report, {now:%Y-%m-%d %H:%M:%S} UTC\n"
                f"where: {where or '-'}\npython: {sys.version.split()[0]}\n\n"
                + "".join(traceback.format_exception(exc)))
        inner = getattr(exc, "error", None)  # a Textual WorkerFailed wraps the worker's exception
        if isinstance(inner, BaseException):
            text += "\nthe worker's exception:\n" + "".join(traceback.format_exception(inner))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(text)
        return path
    except Exception:  # noqa: BLE001 - reporting must never raise over the original error
        return None


def crash_message(exc: BaseException, report: Path | None) -> str:
    """The one line (two with the report) the user sees."""
    from opsconsole.domain.text import visible

    head = f"opsconsole: unexpected error: {type(exc).__name__}: {visible(str(exc))[:300]}"
    if report is None:
        return head + "\n(no crash report could be written)"
    return head + f"\na crash report was written to {report} — please attach it to a bug report"
