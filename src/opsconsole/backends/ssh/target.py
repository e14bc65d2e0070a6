"""The `hosts` launch target (seed 004's experiments on a dev VM): each run is a ledger run
started detached on the preset's host — `setsid nohup` (default) or a tmux session — in its
own run dir (``<workdir>/run-<id>``), its output in ``out.log``, its exit code written to
``exit_code`` by the wrapper when it ends. The run lives on the host, not in this process:
:func:`sync_ssh_runs` (the Runs screen's sync, any opsconsole, after a restart too) follows it
and, once it ended, copies ``out.log``, ``exit_code`` and ``results/`` back into the run's local
result dir over SFTP (the seed's `sync-local`).

The ledger's ``external_id`` of such a run is ``ssh://HOST/RUN_DIR#PID`` (the pid is the
remote process group's; it never goes in the ledger's local ``pid`` column).
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import LaunchRefused
from opsconsole.backends.ssh.pool import q
from opsconsole.domain.models import RunRecord, RunSpec
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.ssh import HostSettings, HostsSession
    from opsconsole.config.presets import Preset

SSH_PREFIX = "ssh:"
ACTIVE = (State.QUEUED, State.RUNNING, State.UP_FOR_RETRY)
RESULTS = "results"
TMUX_SOCKET = "opsconsole"  # runs get a tmux server of their own: `tmux -L opsconsole attach -t opsconsole-run-NNNNNN-TOKEN`


@dataclass(frozen=True)
class RemoteRun:
    host: str
    dir: str
    pid: int | None

    @property
    def external_id(self) -> str:
        return f"ssh://{self.host}/{self.dir}#{self.pid or ''}"

    @classmethod
    def parse(cls, external_id: str) -> "RemoteRun":
        if not external_id.startswith("ssh://"):
            raise ValueError(f"not an ssh run id: {external_id!r}")
        rest = external_id[len("ssh://"):]
        host, _, tail = rest.partition("/")
        path, _, pid = tail.rpartition("#")
        return cls(host, path, int(pid) if pid.isdigit() else None)


def run_dir(workdir: str, run_id: int, token: str | None = None) -> str:
    """A run dir no other opsconsole (another ledger, another operator) will pick: the run id
    and a random token."""
    import secrets

    return f"{workdir.rstrip('/') or '.'}/run-{run_id:06d}-{token or secrets.token_hex(4)}"


def _dir_expr(path: str) -> str:
    """The run dir for the remote shell (relative paths are under the login directory)."""
    if path.startswith("~/"):
        path = path[2:]
    return q(path)


def start_script(spec: RunSpec, run_id: int, path: str, detach: str) -> str:
    """The shell script (fed on stdin, so environment values never touch the host's disk) that
    starts the run detached and prints its process group id."""
    command = spec.shell or shlex.join(spec.command)
    d = _dir_expr(path)
    exports = [f"export OPSCONSOLE_RUN_ID={run_id}", 'export OPSCONSOLE_RESULT_DIR="$PWD/results"']
    exports += [f"export {key}={q(str(value))}" for key, value in (spec.env or {}).items()]
    parent = _dir_expr(path.rsplit("/", 1)[0]) if "/" in path else "."
    # the run dir must be new: a clash fails the launch instead of sharing a dir with another run
    lines = ["set -e", f"mkdir -p {parent}", f"mkdir {d}", f"mkdir {d}/{RESULTS}", f"cd {d}",
             f"printf '%s\\n' {q(command)} > command.sh", ": > out.log", *exports]
    # out.log exists when the launch returns (tmux starts the command a moment later): its log
    # opens at once, empty, and follows; the command appends to it
    wrapper = 'sh ./command.sh >> out.log 2>&1; echo $? > exit_code.tmp; mv exit_code.tmp exit_code'
    if detach == "tmux":
        # a running tmux server gives new sessions its own environment, not ours: export inline
        # named by the run dir (id and token): another ledger's run N on the same host is another session
        session = f"opsconsole-{path.rstrip('/').rsplit('/', 1)[-1]}"
        inline = "; ".join(e.replace('"$PWD/results"', '"$PWD"/results') for e in exports[1:])
        wrapper = f"export OPSCONSOLE_RUN_ID={run_id}; {inline}; {wrapper}"
        lines += [f"tmux -L {TMUX_SOCKET} new-session -d -s {session} -c \"$PWD\" {q(wrapper)}",
                  f"tmux -L {TMUX_SOCKET} display-message -p -t {session} '#{{pane_pid}}'"]
    else:
        lines += [f"setsid nohup sh -c {q(wrapper)} > /dev/null 2>&1 < /dev/null &", "echo $!"]
    return "\n".join(lines) + "\n"


class SshTarget:
    """`target = "hosts"` with `[hosts] host = "dev-1"`."""

    name = "hosts"

    def __init__(self, session: "HostsSession") -> None:
        self.session = session

    async def wait(self, records: list[RunRecord], *, started_only: bool = False) -> None:
        return None  # the runs live on the host: the ledger follows them (sync)

    def _host(self, preset: "Preset") -> "HostSettings":
        name = str(preset.table("hosts").get("host") or "")
        try:
            return self.session.settings.host(name)
        except KeyError:
            known = ", ".join(h.name for h in self.session.settings.hosts) or "none"
            raise LaunchRefused(f"host {name!r} is not one of profile {self.session.env.profile!r}'s hosts ({known})") from None

    async def launch(self, preset: "Preset", specs: list[RunSpec]) -> list[RunRecord]:
        store = self.session.env.store()
        if await asyncio.to_thread(store.halt_latch) is not None:
            raise LaunchRefused("HALTED: launches are refused until the kill-switch latch is released")
        host = self._host(preset)
        table = preset.table("hosts")
        detach = table.get("detach") or "setsid"
        workdir = table.get("workdir") or host.workdir
        records = []
        for spec in specs:
            record = await asyncio.to_thread(store.create_run, spec)
            local = self.session.env.data_dir / "runs" / f"{record.id:06d}"
            await asyncio.to_thread(local.mkdir, parents=True, exist_ok=True)
            if await asyncio.to_thread(store.halt_latch) is not None:
                records.append(await asyncio.to_thread(store.update_run, record.id, state=State.SKIPPED,
                                                       result_dir=str(local), error="HALTED before it was started",
                                                       ended_at=datetime.now(timezone.utc)))
                continue
            path = run_dir(workdir, record.id)
            try:
                res = await self.session.pool.run(host.name, "sh -s", stdin=start_script(spec, record.id, path, detach))
                pid_text = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
                if not res.ok or not pid_text.isdigit():
                    raise RuntimeError(res.error())
            except Exception as exc:  # noqa: BLE001 - recorded on the run; the others go on
                records.append(await asyncio.to_thread(store.update_run, record.id, state=State.FAILED,
                                                       result_dir=str(local), error=f"start on {host.name} failed: {exc}",
                                                       ended_at=datetime.now(timezone.utc)))
                continue
            remote = RemoteRun(host.name, path, int(pid_text))
            records.append(await asyncio.to_thread(store.update_run, record.id, state=State.RUNNING,
                                                   external_id=remote.external_id, result_dir=str(local),
                                                   started_at=datetime.now(timezone.utc)))
        return records


STATUS_SCRIPT = ("cd {d} 2>/dev/null || {{ echo nodir; exit 0; }}; cat exit_code 2>/dev/null || echo none; "
                 "[ -e stopped ] && echo stopped || echo not-stopped; "
                 "{alive}")


def status_command(run: RemoteRun) -> str:
    alive = f"kill -0 {run.pid} 2>/dev/null && echo alive || echo gone" if run.pid else "echo gone"
    return STATUS_SCRIPT.format(d=_dir_expr(run.dir), alive=alive)


async def copy_back(session: "HostsSession", run: RemoteRun, local: Path) -> list[str]:
    """out.log, exit_code and results/ of a finished run into `local` (SFTP); the problems met."""
    problems: list[str] = []
    await asyncio.to_thread(local.mkdir, parents=True, exist_ok=True)
    base = run.dir[2:] if run.dir.startswith("~/") else run.dir

    async def get(sftp, remote: str, recurse: bool = False) -> None:
        await sftp.get(remote, str(local), recurse=recurse, preserve=True)

    async def fetch(conn: Any, name: str, recurse: bool) -> None:
        await conn.sftp_op(lambda s: get(s, f"{base}/{name}", recurse), timeout=max(conn.host.timeout, 1800))

    for name, recurse in (("out.log", False), ("exit_code", False), (RESULTS, True)):
        try:
            await session.pool.call(run.host, lambda c: fetch(c, name, recurse))
        except Exception as exc:  # noqa: BLE001 - a missing results dir is not fatal
            if name != "exit_code":
                problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return problems


async def settle_run(session: "HostsSession", record: RunRecord) -> tuple[RunRecord | None, str | None]:
    """Follow one active ssh run: (the updated record or None when unchanged, a problem or None)."""
    store = session.env.store()
    try:
        run = RemoteRun.parse(record.external_id or "")
    except ValueError as exc:
        return None, f"run {record.id}: {exc}"
    if run.host not in session.pool.hosts:
        return None, f"run {record.id}: host {run.host!r} is no longer in this profile"
    res = await session.pool.run(run.host, status_command(run))
    lines = res.stdout.split()
    fields: dict[str, Any]
    if not lines or lines[0] == "nodir":
        fields = {"state": State.FAILED, "error": f"run dir {run.dir} is gone on {run.host}"}
    else:
        code_text, stopped, alive = (lines + ["", "", ""])[:3]
        if alive == "alive":
            return None, None
        local = Path(record.result_dir) if record.result_dir else session.env.data_dir / "runs" / f"{record.id:06d}"
        problems = await copy_back(session, run, local)
        fields = {"log_path": str(local / "out.log") if (local / "out.log").exists() else None}
        if code_text.lstrip("-").isdigit():
            code = int(code_text)
            fields.update(state=State.SUCCESS if code == 0 else State.FAILED, exit_code=code)
        elif stopped == "stopped":
            fields.update(state=State.STOPPED, error="stopped (kill-switch or operator)")
        else:
            fields.update(state=State.FAILED, error="ended without an exit code (killed on the host?)")
        if problems:
            fields["error"] = ((fields.get("error") or "") + " copy back: " + "; ".join(problems)).strip()
    fields["ended_at"] = datetime.now(timezone.utc)
    updated = await asyncio.to_thread(store.transition, record.id, ACTIVE, **fields)
    return updated, None


async def sync_ssh_runs(session: "HostsSession") -> list[str]:
    """Bring the ledger's active ssh runs up to date (each host once per run, concurrently);
    a host that cannot be reached leaves its runs as they were and is reported."""
    store = session.env.store()
    active = [r for r in await asyncio.to_thread(store.active_runs)
              if r.target.startswith(SSH_PREFIX) and r.external_id]
    if not active:
        return []
    outcomes = await asyncio.gather(*(settle_run(session, r) for r in active), return_exceptions=True)
    problems = []
    for record, outcome in zip(active, outcomes):
        if isinstance(outcome, BaseException):
            problems.append(f"run {record.id} ({record.target}): {type(outcome).__name__}: {outcome}")
        elif outcome[1]:
            problems.append(outcome[1])
    return problems
