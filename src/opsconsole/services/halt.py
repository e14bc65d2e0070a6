"""The kill-switch's plain files, beside the ledger: they work when the ledger does not.

* ``HALTED`` — the latch as a small JSON file written atomically (temp file, fsync, rename). Every
  process reads it (the ledger's ``halt_latch`` and ``claim_run`` merge it in), so a corrupt,
  locked or full ledger can neither stop a kill from latching nor hide the latch. A ``HALTED``
  file that cannot be parsed counts as halted (fail safe); released means no file.
* ``kill-journal.jsonl`` — audit rows the ledger could not take, one JSON object a line, replayed
  into the ledger later (each row has a uid: a replay never duplicates a row).
* ``kill-inprogress.json`` — written when a kill starts, removed when it ended: found with its
  process gone, it says a kill was interrupted (the app killed with -9 mid-kill).

When the profile's data dir itself is unusable (a file in its place, a read-only or full disk),
the same files go to a fallback dir (``$XDG_RUNTIME_DIR`` or the temp dir, per user and per
data dir); readers look in both places. Every function here is blocking and small: call it in a
thread from the event loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opsconsole.domain.models import HaltLatch, utcnow

LATCH_FILE = "HALTED"
JOURNAL_FILE = "kill-journal.jsonl"
INPROGRESS_FILE = "kill-inprogress.json"


def fallback_dir(state_dir: Path) -> Path:
    """Where the files go when ``state_dir`` can't take them: per user, per data dir."""
    base = os.environ.get("OPSCONSOLE_FALLBACK_DIR") or os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    digest = hashlib.sha1(str(Path(state_dir).absolute()).encode()).hexdigest()[:16]
    return Path(base) / f"opsconsole-{os.getuid()}" / digest


def locations(state_dir: Path) -> list[Path]:
    return [Path(state_dir), fallback_dir(state_dir)]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _write_somewhere(state_dir: Path, name: str, data: bytes) -> tuple[Path | None, list[str]]:
    """Write ``name`` in the first location that takes it; (where, the errors met on the way)."""
    errors: list[str] = []
    for where in locations(state_dir):
        try:
            _atomic_write(where / name, data)
            return where / name, errors
        except OSError as exc:
            errors.append(f"{where / name}: {exc.strerror or exc}")
    return None, errors


# --- the latch ------------------------------------------------------------------------------


@dataclass
class LatchWrite:
    """How setting or releasing the latch file went: ``where`` it was written (None: nowhere)."""

    where: Path | None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.where is not None


def set_latch_file(state_dir: Path, reason: str, by: str, kill_id: str = "") -> LatchWrite:
    body = {"halted": True, "set_at": utcnow().isoformat(), "reason": reason, "by": by, "kill_id": kill_id}
    where, errors = _write_somewhere(state_dir, LATCH_FILE, (json.dumps(body) + "\n").encode())
    return LatchWrite(where, errors)


def read_latch_file(state_dir: Path) -> HaltLatch | None:
    """The latch as the files say (any location halted → halted; unreadable → halted)."""
    for where in locations(state_dir):
        path = where / LATCH_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            continue
        except OSError as exc:
            return HaltLatch(set_at=utcnow(), reason=f"latch file {path} unreadable ({exc.strerror or exc})",
                             by="unknown")
        try:
            body = json.loads(raw.decode("utf-8"))
            if not isinstance(body, dict):
                raise ValueError("not an object")
            if body.get("halted") is False:
                continue
            set_at = datetime.fromisoformat(str(body.get("set_at")))
            return HaltLatch(set_at=set_at, reason=str(body.get("reason", "")), by=str(body.get("by", "unknown")))
        except (ValueError, UnicodeDecodeError, TypeError):
            return HaltLatch(set_at=utcnow(), reason=f"latch file {path} unparsable: treated as HALTED",
                             by="unknown")
    return None


def clear_latch_file(state_dir: Path) -> list[str]:
    """Remove the latch file everywhere; the errors (a latch file that stays means still halted)."""
    errors = []
    for where in locations(state_dir):
        path = where / LATCH_FILE
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
    return errors


# --- the audit journal ------------------------------------------------------------------------


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(28, "short write (disk full?)")
        os.fsync(fd)
    finally:
        os.close(fd)



def journal_append(state_dir: Path, rows: list[dict[str, Any]]) -> tuple[Path | None, list[str]]:
    """Append rows to the journal (first location that takes them). Appends are small writes
    of whole lines with O_APPEND."""
    data = "".join(json.dumps(r, default=str) + "\n" for r in rows).encode()
    errors: list[str] = []
    for where in locations(state_dir):
        path = where / JOURNAL_FILE
        try:
            _append(path, data)
            return path, errors
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
    return None, errors


def journal_rows(state_dir: Path) -> list[dict[str, Any]]:
    """Every journalled row (all locations); a torn last line is skipped."""
    rows: list[dict[str, Any]] = []
    for where in locations(state_dir):
        try:
            text = (where / JOURNAL_FILE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def journal_clear(state_dir: Path, replayed: set[str]) -> None:
    """Drop the replayed rows from the journals (the rows left stay for the next replay)."""
    for where in locations(state_dir):
        path = where / JOURNAL_FILE
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        keep = []
        for line in lines:
            try:
                uid = json.loads(line).get("uid")
            except (ValueError, AttributeError):
                continue
            if uid not in replayed:
                keep.append(line)
        try:
            if keep:
                _atomic_write(path, ("\n".join(keep) + "\n").encode())
            else:
                path.unlink()
        except OSError:
            pass


# --- a kill in progress -------------------------------------------------------------------------


def mark_in_progress(state_dir: Path, body: dict[str, Any]) -> tuple[Path | None, list[str]]:
    return _write_somewhere(state_dir, INPROGRESS_FILE, (json.dumps(body, default=str) + "\n").encode())


def clear_in_progress(state_dir: Path, kill_id: str | None = None) -> None:
    """Remove the marker (only ours when ``kill_id`` is given)."""
    for where in locations(state_dir):
        path = where / INPROGRESS_FILE
        try:
            if kill_id is not None and json.loads(path.read_text()).get("kill_id") != kill_id:
                continue
            path.unlink()
        except (OSError, ValueError, AttributeError):
            pass


def in_progress(state_dir: Path) -> list[dict[str, Any]]:
    """Kill markers found: each with ``alive`` (its process still runs: a kill in progress) or
    not (it was interrupted)."""
    from opsconsole.backends.local.procs import process_alive

    out = []
    for where in locations(state_dir):
        path = where / INPROGRESS_FILE
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(body, dict):
            continue
        pid = body.get("pid")
        body["alive"] = isinstance(pid, int) and process_alive(pid, body.get("proc_start"))
        body["path"] = str(path)
        out.append(body)
    return out
