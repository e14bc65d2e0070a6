"""Process identity on Linux: is a recorded pid still the process we started, and does a
process group still have live members. Used by the ledger's reconcile and the local runner."""

from __future__ import annotations

import os
from pathlib import Path

def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 = state), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), to tell a reused pid apart.
    None where /proc is not available."""
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def process_alive(pid: int, start: str | None = None) -> bool:
    """True if ``pid`` runs, is not a zombie, and (when ``start`` is known) is the same process
    that was recorded, not a later one that reused the pid."""
    if pid <= 0:
        return False
    fields = _proc_stat(pid)
    if fields is not None:
        if fields[0] in ("Z", "X"):
            return False
        return start is None or len(fields) <= 19 or fields[19] == start
    if Path("/proc/self/stat").exists():
        return False  # /proc works and has no such pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_group_alive(pgid: int) -> bool:
    """True while any live (non-zombie) process belongs to process group ``pgid``."""
    if Path("/proc/self/stat").exists():
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            fields = _proc_stat(int(name))
            # fields: 0 state, 1 ppid, 2 pgrp
            if fields and len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_processes(runs_dir: Path) -> dict[int, dict[int, int]]:
    """Live processes of local runs under ``runs_dir``, found by /proc alone (no ledger): every
    process whose environment carries ``OPSCONSOLE_RUN_ID`` and an ``OPSCONSOLE_RESULT_DIR``
    inside ``runs_dir`` (the wrapper and everything it started inherit both, whatever happened
    to the wrapper). Returns run id → {pid: pgid}. Our own process is never listed."""
    prefixes = {str(Path(runs_dir).absolute()).rstrip("/") + "/", str(Path(runs_dir).resolve()).rstrip("/") + "/"}
    found: dict[int, dict[int, int]] = {}
    me = os.getpid()
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        try:
            raw = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"OPSCONSOLE_RUN_ID=" not in raw:
            continue
        env = dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
        result_dir = env.get(b"OPSCONSOLE_RESULT_DIR", b"").decode(errors="replace")
        try:
            run_id = int(env.get(b"OPSCONSOLE_RUN_ID", b""))
        except ValueError:
            continue
        if not any((result_dir + "/").startswith(prefix) for prefix in prefixes):
            continue
        fields = _proc_stat(pid)
        if not fields or len(fields) < 3 or fields[0] in ("Z", "X"):
            continue
        found.setdefault(run_id, {})[pid] = int(fields[2])
    return found
