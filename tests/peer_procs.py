"""Processes a test peer's servers started outside their own process groups (YARN containers,
runs detached on an SSH host with setsid or tmux), found by a working directory under the
peer's root and killed when the peer stops: nothing a run started outlives the test session."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def kill_below(root: Path) -> list[int]:
    """SIGKILL every process whose working directory is `root` or below it; their pids."""
    top = str(Path(root).resolve())
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == top or cwd.startswith(top + "/"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                pass
    return killed
