"""The Hosts pane and its drill-down: hosts (reachability, load, disk, services running) →
a host's sections → its services (state, since, main PID, last exit), its health rules (each
ok or failing, with the metric's value) or its log files (size, modified).

Every level shares the backend's actions (key scope ``hosts``); each offers those that apply.
A host that cannot be reached keeps its last values, marked stale, and is retried with the
pool's backoff: the pane never waits for it longer than its connect timeout.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import DESCRIBE, DRILL, LOG, PaneSource
from opsconsole.backends.ssh import (GREP, RESTART, RUN_ALL, SSH, START, START_ALL, STOP, STOP_ALL, HostSettings)
from opsconsole.backends.ssh.managers import Manager, ServiceStatus, manager_for, start_all, stop_all
from opsconsole.domain.actions import Action, ActionCall, ActionUnavailable
from opsconsole.domain.items import Column, Item, human_bytes
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.ssh import HostsSession
    from opsconsole.logs.ref import LogRef

RUN_ALL_CONCURRENCY = 8
RUN_ALL_OUTPUT = 1 << 20  # bytes of output kept per host
MAX_LOG_FILES = 500
PROBE = ("cat /proc/loadavg 2>/dev/null; echo '--'; nproc 2>/dev/null; echo '--'; "
         "df -Pk / 2>/dev/null | tail -n 1")


@dataclass
class Probe:
    """What the hosts level last learnt of a host."""

    load: str = ""
    cores: str = ""
    disk: str = ""
    disk_pct: int | None = None
    services: str = ""
    health: str = ""
    latency: float | None = None
    at: float = 0.0


def parse_probe(text: str) -> Probe:
    parts = [p.strip() for p in text.split("--")]
    p = Probe(at=time.time())
    if parts and parts[0]:
        p.load = " ".join(parts[0].split()[:3])
    if len(parts) > 1:
        p.cores = parts[1].splitlines()[0] if parts[1] else ""
    if len(parts) > 2 and parts[2]:
        f = parts[2].split()
        # Filesystem 1024-blocks Used Available Capacity Mounted-on
        if len(f) >= 6 and f[4].endswith("%"):
            try:
                p.disk_pct = int(f[4][:-1])
                p.disk = f"{f[4]} · {human_bytes(int(f[3]) * 1024)} free"
            except ValueError:
                p.disk = f[4]
    return p


class _HostsLevel(PaneSource):
    """Shared by every level: the session, and the actions that need only a host."""

    scope = "hosts"

    def __init__(self, session: "HostsSession") -> None:
        self.session = session

    @property
    def pool(self):
        return self.session.pool

    def manager(self, host: HostSettings) -> Manager:
        return manager_for(self.pool, host)

    def _host_of(self, item: Item | None) -> HostSettings | None:
        return None

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id == RUN_ALL.id:
            return self._run_all()
        host = self._host_of(item)
        if action_id in (START_ALL.id, STOP_ALL.id, SSH.id):
            if host is None:
                raise ActionUnavailable(f"{action_id.split('.')[1].replace('_', ' ')}: select a host first")
            if action_id == SSH.id:
                return self._ssh(host)
            return self._all(host, START_ALL if action_id == START_ALL.id else STOP_ALL)
        return await super().prepare(action_id, item)

    # -- start all / stop all -----------------------------------------------------------------
    def _all(self, host: HostSettings, action: Action) -> ActionCall:
        services = list(host.services)
        if not services:
            raise ActionUnavailable(f"{host.name}: no services configured (services = [...])")
        starting = action is START_ALL
        order = services if starting else host.stopping_order
        manager = self.manager(host)

        async def run(_: Any) -> str:
            fn = start_all if starting else stop_all
            done = await fn(manager, order, host.state_timeout)
            return f"{host.name}: " + "; ".join(done)

        verb = "Start" if starting else "Stop"
        return ActionCall(action, f"{verb} every service on {host.name}?",
                          f"{verb} in this order, waiting up to {host.state_timeout:g}s for each to be "
                          f"{'running' if starting else 'stopped'} before the next ({host.manager}):\n  "
                          + "\n  ".join(order), [f"{host.name}/{s}" for s in order], run, confirm_label=f"{verb} all")

    # -- ssh into the host ---------------------------------------------------------------------
    def _ssh(self, host: HostSettings) -> ActionCall:
        argv = ssh_argv(host)

        async def run(terminal: Any) -> str:
            if terminal is None:
                raise RuntimeError("an interactive ssh needs the console's terminal")
            code = await terminal(argv)
            return f"ssh {host.name}: session ended (exit {code})"

        return ActionCall(SSH, f"ssh into {host.name}?", " ".join(argv), [f"host {host.name}"], run,
                          confirm=False, extra={"terminal": True})

    # -- run a command on every host -----------------------------------------------------------
    def _run_all(self) -> ActionCall:
        hosts = list(self.session.settings.hosts)
        if not hosts:
            raise ActionUnavailable("run on all: no hosts configured")
        call: ActionCall

        async def ask() -> dict[str, Any]:
            return {"command": "uptime", "hosts": [h.name for h in hosts]}

        async def run(value: Any) -> str:
            value = value or {}
            command = str(value.get("command") or "").strip()
            if not command:
                raise ValueError("run on all: no command given")
            names = value.get("hosts") or [h.name for h in hosts]
            unknown = [n for n in names if n not in self.pool.hosts]
            if unknown:
                raise ValueError(f"run on all: no such host {', '.join(map(str, unknown))}")
            path = self.session.env.data_dir / "hosts" / "run-all" / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}.log"
            call.open_log = _file_log(path, f"run on all: {command}")
            results = await run_on_all(self.session, [self.pool.hosts[n] for n in names], command, path)
            failed = [f"{name} ({code})" for name, code in results if code != 0]
            summary = f"{len(results)} host{'s' if len(results) != 1 else ''}: {len(results) - len(failed)} ok"
            if failed:
                raise RuntimeError(f"{summary}, failed: {', '.join(failed)} — output in {path}")
            return f"{summary} — output in {path}"

        call = ActionCall(RUN_ALL, "Run a command on every host?",
                          f"Runs on {len(hosts)} host(s), {RUN_ALL_CONCURRENCY} at a time, each under its "
                          "timeout; the output of each opens in a log tab.", [f"host {h.name}" for h in hosts], run,
                          confirm_label="Run", ask_json=ask)
        return call


def _file_log(path: Path, title: str) -> "LogRef":
    from opsconsole.logs.ref import FileLog

    return FileLog(str(path), title)


async def run_on_all(session: "HostsSession", hosts: list[HostSettings], command: str, path: Path,
                     concurrency: int = RUN_ALL_CONCURRENCY) -> list[tuple[str, int | None | str]]:
    """Run `command` on every host (at most `concurrency` at once, each under its timeout);
    each host's output and exit code are appended to `path` as it finishes."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_text, f"$ {command}\n", "utf-8")
    gate = asyncio.Semaphore(concurrency)
    lock = asyncio.Lock()
    results: list[tuple[str, int | None | str]] = []

    async def one(host: HostSettings) -> None:
        async with gate:
            start = time.monotonic()
            try:
                res = await session.pool.call(host.name, lambda c: c.run_capped(command, RUN_ALL_OUTPUT))
                code: int | None | str = res.exit_status
                body = res.stdout
            except Exception as exc:  # noqa: BLE001 - one host's failure is its own row
                code, body = "error", f"{type(exc).__name__}: {exc}\n"
            took = time.monotonic() - start
            text = (f"\n=== {host.name} ({host.address}) exit {code if code is not None else 'signal'} "
                    f"in {took:.1f}s ===\n{body}{'' if body.endswith(chr(10)) or not body else chr(10)}")
            async with lock:
                results.append((host.name, code))
                await asyncio.to_thread(_append, path, text)

    await asyncio.gather(*(one(h) for h in hosts))
    await asyncio.to_thread(_append, path, f"\n=== done: {len(results)} hosts ===\n")
    return sorted(results)


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def ssh_argv(host: HostSettings) -> list[str]:
    """The `ssh` command line for an interactive session on `host`: the same key, port and
    known_hosts as the backend, host keys checked (never accepted blindly)."""
    argv = ["ssh", "-o", "StrictHostKeyChecking=yes"]
    if host.port:
        argv += ["-p", str(host.port)]
    if host.identity:
        argv += ["-i", os.path.expanduser(host.identity), "-o", "IdentitiesOnly=yes"]
    if host.known_hosts:
        argv += ["-o", f"UserKnownHostsFile={os.path.expanduser(host.known_hosts)}"]
    if host.user:
        argv += ["-l", host.user]
    argv += ["--", host.address]
    return argv


class HostsSource(_HostsLevel):
    """Every host of the profile."""

    key = "hosts"
    title = "Hosts"
    capabilities = frozenset({DRILL, DESCRIBE})
    actions = (START_ALL, STOP_ALL, RUN_ALL, SSH)
    columns = (
        Column("host", "HOST", 12),
        Column("state", "STATE", 5),
        Column("reach", "REACH", 10),
        Column("load", "LOAD 1/5/15", 15),
        Column("disk", "DISK /", 18),
        Column("services", "SVC", 5),
        Column("cores", "CPU", 3, optional=True),
        Column("address", "ADDRESS", 22, optional=True),
    )

    def __init__(self, session: "HostsSession") -> None:
        super().__init__(session)
        self.interval = min((h.interval for h in session.settings.hosts), default=5.0)
        self.last: dict[str, Probe] = {}

    def _host_of(self, item: Item | None) -> HostSettings | None:
        return self.pool.hosts.get(item.key) if item is not None else None

    async def fetch(self) -> list[Item]:
        hosts = list(self.session.settings.hosts)
        rows = await asyncio.gather(*(self._one(h) for h in hosts))
        return list(rows)

    async def _one(self, host: HostSettings) -> Item:
        budget = host.connect_timeout + host.timeout + 2
        try:
            probe = await asyncio.wait_for(self._probe(host), budget)
        except Exception as exc:  # noqa: BLE001 - a down host is a stale row, never an error of the pane
            return self._down(host, exc)
        self.last[host.name] = probe
        cells = {"host": host.name, "state": "up", "reach": f"{probe.latency * 1000:.0f}ms" if probe.latency else "ok",
                 "load": probe.load, "cores": probe.cores, "disk": probe.disk, "services": probe.services,
                 "address": _address(host)}
        return Item(key=host.name, state=State.RUNNING, cells=cells,
                    detail={"host": host.name, "address": _address(host), "manager": host.manager,
                            "services": list(host.services), "logs": list(host.logs),
                            "metrics_url": host.metrics_url, "health": list(host.health), "load": probe.load,
                            "cores": probe.cores, "disk": probe.disk})

    async def _probe(self, host: HostSettings) -> Probe:
        res = await self.pool.run(host.name, PROBE)
        probe = parse_probe(res.stdout)
        probe.latency = res.seconds
        if host.services:
            try:
                sts = await self.manager(host).status(list(host.services))
                probe.services = f"{sum(1 for s in sts if s.running)}/{len(sts)}"
            except Exception as exc:  # noqa: BLE001 - the host answers; its manager does not
                probe.services = f"? ({type(exc).__name__})"
        return probe

    def _down(self, host: HostSettings, exc: BaseException) -> Item:
        conn = self.pool.status(host.name)
        last = self.last.get(host.name)
        since = conn.down_since
        reason = str(exc).removeprefix(f"{host.name}: ") or type(exc).__name__
        wait = max(0.0, conn.next_try - time.monotonic()) if conn.next_try else 0.0
        reach = f"DOWN {_ago(since)}"
        stale = " (stale)"
        cells = {"host": host.name, "state": "down", "reach": reach,
                 "load": (last.load + stale) if last else "", "cores": last.cores if last else "",
                 "disk": (last.disk + stale) if last else "", "services": (last.services + stale) if last and last.services else "",
                 "address": _address(host)}
        return Item(key=host.name, state=State.UNKNOWN, cells=cells,
                    detail={"host": host.name, "address": _address(host), "error": reason,
                            "retry_in": f"{wait:.0f}s" if wait >= 1 else "now",
                            "last_seen": datetime.fromtimestamp(last.at, timezone.utc).isoformat() if last else None})

    def drill(self, item: Item) -> PaneSource | None:
        host = self.pool.hosts.get(item.key)
        return HostSectionsSource(self.session, host) if host else None


def _address(host: HostSettings) -> str:
    user = f"{host.user}@" if host.user else ""
    port = f":{host.port}" if host.port else ""
    return f"{user}{host.address}{port}"


def _ago(since: float | None) -> str:
    if since is None:
        return ""
    from opsconsole.domain.items import human_seconds

    return human_seconds(time.time() - since)


class _OneHost(_HostsLevel):
    def __init__(self, session: "HostsSession", host: HostSettings) -> None:
        super().__init__(session)
        self.host = host
        self.interval = host.interval

    def _host_of(self, item: Item | None) -> HostSettings | None:
        return self.host


class HostSectionsSource(_OneHost):
    """A host's sections: services, health, log files."""

    key = "hosts.sections"
    capabilities = frozenset({DRILL})
    actions = (START_ALL, STOP_ALL, RUN_ALL, SSH)
    columns = (Column("section", "SECTION", 10), Column("what", "WHAT", None))
    interval = 60.0

    def __init__(self, session: "HostsSession", host: HostSettings) -> None:
        super().__init__(session, host)
        self.title = f"{host.name}"
        self.interval = 60.0

    async def fetch(self) -> list[Item]:
        h = self.host
        rows = [
            ("services", f"{len(h.services)} in start order, {h.manager}: " + " → ".join(h.services)),
            ("health", (f"{len(h.health)} rules on {h.metrics_url}" if h.metrics_url else "no metrics_url")),
            ("logs", f"{len(h.logs)} globs: " + " ".join(h.logs)),
            ("runs", f"runs launched here (target hosts, in {h.workdir}/run-*)"),
        ]
        return [Item(key=k, state=State.UNKNOWN, cells={"section": k, "what": w}) for k, w in rows]

    def drill(self, item: Item) -> PaneSource | None:
        cls = {"services": ServicesSource, "health": HealthSource, "logs": LogFilesSource,
               "runs": HostRunsSource}.get(item.key)
        return cls(self.session, self.host) if cls else None


class ServicesSource(_OneHost):
    """A host's services in their start order."""

    key = "hosts.services"
    capabilities = frozenset({LOG, DESCRIBE})
    actions = (START, STOP, RESTART, START_ALL, STOP_ALL, SSH)
    columns = (
        Column("order", "#", 2),
        Column("service", "SERVICE", 26),
        Column("state", "STATE", 8),
        Column("age", "FOR", 8),
        Column("pid", "PID", 7),
        Column("exit", "EXIT", 6),
        Column("raw", "STATUS", 18, optional=True),
        Column("since", "SINCE", 23, optional=True),
    )

    def __init__(self, session: "HostsSession", host: HostSettings) -> None:
        super().__init__(session, host)
        self.title = f"services ({host.manager})"
        self.statuses: dict[str, ServiceStatus] = {}

    async def fetch(self) -> list[Item]:
        statuses = await self.manager(self.host).status(list(self.host.services))
        self.statuses = {s.name: s for s in statuses}
        items = []
        for n, st in enumerate(statuses, 1):
            since_dt = datetime.fromtimestamp(st.since_ts, timezone.utc) if st.since_ts else None
            items.append(Item(key=st.name, state=st.state,
                              cells={"order": n, "service": st.name, "raw": st.raw, "since": st.since,
                                     "pid": st.pid or "", "exit": st.last_exit},
                              created_at=since_dt,
                              detail={"service": st.name, "host": self.host.name, "state": st.state.value,
                                      "status": st.raw, "since": st.since, "pid": st.pid, "last_exit": st.last_exit,
                                      "log": st.log_path, **{f"manager.{k}": v for k, v in st.detail.items()}}))
        return items

    async def open_log(self, item: Item) -> "LogRef":
        st = self.statuses.get(item.key)
        manager = self.manager(self.host)
        command = manager.log_command(item.key)
        if command is not None:
            from opsconsole.backends.ssh.logs import CommandStream
            from opsconsole.logs.ref import StreamLog

            stream = CommandStream(self.pool, self.host.name, command, f"{self.host.name} {item.key}", follow=True,
                                   key=f"hosts/{self.host.name}/{manager.kind}/{item.key}")
            job = await self.session.spool.open(stream)
            return StreamLog(job, f"{self.host.name}:{item.key}")
        if st is not None and st.log_path:
            return ranged_log(self.session, self.host, st.log_path)
        raise LookupError(f"{item.key}: {self.host.manager} gives no log for it (add a `logs` template or a log glob)")

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        verbs = {START.id: (START, "start"), STOP.id: (STOP, "stop"), RESTART.id: (RESTART, "restart")}
        if action_id not in verbs:
            return await super().prepare(action_id, item)
        if item is None:
            raise ActionUnavailable(f"{verbs[action_id][1]}: select a service first")
        action, verb = verbs[action_id]
        host, service = self.host, item.key
        manager = self.manager(host)

        async def run(_: Any) -> str:
            from opsconsole.backends.ssh.managers import wait_state

            detail = await manager.act(verb, service)
            st = await wait_state(manager, service, "stopped" if verb == "stop" else "running", host.state_timeout)
            return f"{host.name}: {detail} — now {st.raw}" + (f" (pid {st.pid})" if st.pid else "")

        return ActionCall(action, f"{verb.title()} {service} on {host.name}?",
                          f"{host.manager} {verb} {service}, then wait up to {host.state_timeout:g}s for it to be "
                          f"{'stopped' if verb == 'stop' else 'running'}.", [f"{host.name}/{service}"], run,
                          confirm_label=verb.title())


class HealthSource(_OneHost):
    """A host's health rules against its /metrics (read through the SSH connection when the
    endpoint listens on the host's localhost)."""

    key = "hosts.health"
    capabilities = frozenset({DESCRIBE})
    actions = (SSH,)
    columns = (Column("rule", "RULE", 48), Column("state", "STATE", 8), Column("value", "VALUE", 24))

    def __init__(self, session: "HostsSession", host: HostSettings) -> None:
        super().__init__(session, host)
        self.title = "health"
        self.warning = None if host.metrics_url else "no metrics_url for this host"

    async def fetch(self) -> list[Item]:
        from opsconsole.backends.ssh.metrics import host_health

        if not self.host.metrics_url:
            return []
        results, latency = await host_health(self.pool, self.host)
        self.title = f"health ({self.host.metrics_url}, {latency * 1000:.0f}ms)"
        return [Item(key=r.rule.text, state=State.SUCCESS if r.ok else State.FAILED,
                     cells={"rule": r.rule.text, "state": r.state, "value": r.detail},
                     detail={"rule": r.rule.text, "ok": r.ok, "value": r.value, "detail": r.detail,
                             "metrics_url": self.host.metrics_url}) for r in results]


class LogFilesSource(_OneHost):
    """The files matching a host's log globs, newest first; each opens by byte range."""

    key = "hosts.logs"
    capabilities = frozenset({LOG, DESCRIBE})
    actions = (GREP, SSH)
    columns = (Column("size", "SIZE", 9), Column("modified", "MODIFIED (UTC)", 19), Column("file", "FILE", None))

    def __init__(self, session: "HostsSession", host: HostSettings) -> None:
        super().__init__(session, host)
        self.title = "logs"
        self.interval = max(host.interval, 10.0)

    async def fetch(self) -> list[Item]:
        files = await list_log_files(self.session, self.host)
        return [Item(key=path, state=State.UNKNOWN,
                     cells={"file": path, "state": "", "size": human_bytes(size),
                            "modified": datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")},
                     detail={"path": path, "size": size, "mtime": mtime, "host": self.host.name})
                for path, size, mtime in files]

    async def open_log(self, item: Item) -> "LogRef":
        return ranged_log(self.session, self.host, item.key)

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id != GREP.id:
            return await super().prepare(action_id, item)
        if item is None:
            raise ActionUnavailable("search on host: select a log file first")
        host, path = self.host, item.key
        call: ActionCall

        async def ask() -> dict[str, Any]:
            return {"pattern": "error|panic|fatal", "ignore_case": True, "fixed": False}

        async def run(value: Any) -> str:
            from opsconsole.backends.ssh.logs import CommandStream, search_command
            from opsconsole.logs.ref import StreamLog

            value = value or {}
            pattern = str(value.get("pattern") or "")
            if not pattern:
                raise ValueError("search on host: no pattern given")
            command = search_command(path, pattern, ignore_case=bool(value.get("ignore_case")),
                                     fixed=bool(value.get("fixed")))
            stream = CommandStream(self.pool, host.name, command, f"{host.name}:{path} /{pattern}/", follow=False,
                                   key=f"hosts/{host.name}/grep/{time.time_ns()}")
            job = await self.session.spool.open(stream)
            call.open_log = StreamLog(job, f"{host.name} grep {pattern}")
            return f"searching {path} on {host.name} for {pattern!r}: matches stream into a log tab"

        call = ActionCall(GREP, f"Search {path} on {host.name}?", "rg (or grep -E) runs on the host; only the matching "
                          "lines are transferred.", [f"{host.name}:{path}"], run, confirm=False, ask_json=ask)
        return call


class HostRunsSource(_OneHost):
    """The ledger's runs launched on this host, newest first; `l` reads a run's out.log on the
    host by byte range (followed while it runs), or the local copy once it was copied back."""

    key = "hosts.runs"
    capabilities = frozenset({LOG, DESCRIBE})
    actions = (SSH,)
    columns = (Column("id", "ID", 6), Column("state", "STATE", 10), Column("preset", "PRESET", 18),
               Column("exit", "EXIT", 4), Column("age", "AGE", 7), Column("duration", "DURATION", 8),
               Column("dir", "RUN DIR", None, optional=True))
    LIMIT = 200

    def __init__(self, session: "HostsSession", host: HostSettings) -> None:
        super().__init__(session, host)
        self.title = "runs"

    async def fetch(self) -> list[Item]:
        from opsconsole.backends.ssh.target import SSH_PREFIX, RemoteRun
        from opsconsole.domain.items import run_item

        store = self.session.env.store()
        runs = await asyncio.to_thread(store.list_runs, self.LIMIT, None, None, f"{SSH_PREFIX}{self.host.name}")
        items = []
        for run in runs:
            item = run_item(run)
            try:
                item.cells["dir"] = RemoteRun.parse(run.external_id or "").dir
            except ValueError:
                item.cells["dir"] = ""
            items.append(item)
        return items

    async def open_log(self, item: Item) -> "LogRef":
        from opsconsole.backends.ssh.target import RemoteRun
        from opsconsole.logs.ref import FileLog

        if item.log_path:  # copied back: the local copy
            return FileLog(item.log_path, f"run {item.key}")
        external = item.detail.get("external_id") or ""
        if not external:
            raise LookupError(f"run {item.key}: not started on {self.host.name}")
        remote = RemoteRun.parse(external)
        return ranged_log(self.session, self.host, f"{remote.dir}/out.log")


def ranged_log(session: "HostsSession", host: HostSettings, path: str) -> "LogRef":
    from opsconsole.backends.ssh.logs import SftpRangeReader
    from opsconsole.logs.ref import RangedLog

    return RangedLog(SftpRangeReader(session.pool, host.name, path), f"{host.name}:{path}")


async def list_log_files(session: "HostsSession", host: HostSettings) -> list[tuple[str, int, float]]:
    """(path, size, mtime) of the files the host's globs match (expanded by its shell), newest first."""
    if not host.logs:
        return []
    globs = " ".join(_glob_arg(g) for g in host.logs)
    cmd = (f"for f in {globs}; do [ -f \"$f\" ] && stat -L -c '%s %Y %n' -- \"$f\"; done 2>/dev/null "
           f"| head -n {MAX_LOG_FILES}")
    res = await session.pool.run(host.name, cmd)
    out: list[tuple[str, int, float]] = []
    for line in res.stdout.splitlines():
        size, _, rest = line.partition(" ")
        mtime, _, path = rest.partition(" ")
        try:
            out.append((path, int(size), float(mtime)))
        except ValueError:
            continue
    return sorted(out, key=lambda f: -f[2])


def _glob_arg(glob: str) -> str:
    """A glob for the remote shell: ~/ expands to $HOME, the rest is expanded by the shell
    (the schema allows no character that could start a command)."""
    if glob.startswith("~/"):
        return '"$HOME"/' + glob[2:]
    return glob

