"""Service managers on a host: what a service's state is, and how to start and stop it.

* ``systemd`` — ``systemctl show -p … UNIT…`` (one call for every unit), ``systemctl
  start|stop|restart``; logs are journald streams (``journalctl -u UNIT -f -o short-iso``).
* ``supervisor`` — supervisord's XML-RPC interface on its unix socket, reached through the SSH
  connection (direct-streamlocal: nothing to install on the host): state, pid, start/stop
  times and the last exit status; ``startProcess``/``stopProcess`` wait for the state. Logs are
  the programs' stdout log files (read by byte range over SFTP).
* ``docker`` — ``docker inspect`` (State as JSON), ``docker start|stop|restart``; logs stream
  from ``docker logs -f``.
* ``command`` — operator templates with ``{service}`` (shell-quoted): ``status`` (exit 0 =
  running, anything else = stopped, its first output line shown), ``start``, ``stop``,
  optional ``restart`` and ``logs`` (a command whose output is followed).
"""

from __future__ import annotations

import json
import time
import xmlrpc.client
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opsconsole.backends.ssh.pool import Pool, parse_http_response, q
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.ssh import HostSettings


@dataclass
class ServiceStatus:
    """One service as its manager reports it."""

    name: str
    state: State
    raw: str                     # the manager's own word: "active (running)", "RUNNING", "exited"
    since: str = ""              # when it entered that state, as the host says it
    since_ts: float | None = None
    pid: int | None = None
    last_exit: str = ""          # "0", "1", "signal 9", "" when unknown or never exited
    detail: dict[str, Any] = field(default_factory=dict)
    log_path: str | None = None  # a file with its output on the host (supervisor)

    @property
    def running(self) -> bool:
        return self.state is State.RUNNING

    @property
    def stopped(self) -> bool:
        return self.state in (State.STOPPED, State.FAILED, State.SUCCESS)


class ManagerError(RuntimeError):
    pass


class Manager:
    """The service manager of one host."""

    kind = ""

    def __init__(self, pool: Pool, host: "HostSettings") -> None:
        self.pool = pool
        self.host = host

    async def status(self, services: list[str]) -> list[ServiceStatus]:
        raise NotImplementedError

    async def act(self, verb: str, service: str) -> str:
        """start / stop / restart; returns a detail, raises ManagerError on failure."""
        raise NotImplementedError

    def log_command(self, service: str) -> str | None:
        """A command whose output follows the service's log (journald, docker), or None."""
        return None

    async def _run(self, command: str, timeout: float | None = None) -> Any:
        return await self.pool.run(self.host.name, command, timeout)


def _ts(value: float | None) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- systemd -----------------------------------------------------------------------------------
SYSTEMD_PROPS = ("Id", "LoadState", "ActiveState", "SubState", "MainPID", "ExecMainPID", "ExecMainCode",
                 "ExecMainStatus", "ExecMainExitTimestamp", "ActiveEnterTimestamp", "InactiveEnterTimestamp",
                 "StateChangeTimestamp", "Result", "Description", "NRestarts")
_SYSTEMD_STATES = {"active": State.RUNNING, "reloading": State.RUNNING, "activating": State.QUEUED,
                   "deactivating": State.STOPPED, "inactive": State.STOPPED, "failed": State.FAILED,
                   "maintenance": State.UNKNOWN}
# ExecMainCode is a siginfo code: 1 exited, 2 killed, 3 dumped core
_SIGNALLED = {"2": "signal", "3": "core dump, signal"}


def parse_systemctl_show(text: str) -> list[dict[str, str]]:
    """`systemctl show` output: one block of Key=Value lines per unit, blocks separated by a
    blank line. Values keep everything after the first '=' (ExecStart={ path=… })."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    if current:
        blocks.append(current)
    return blocks


def systemd_status(props: dict[str, str], name: str | None = None) -> ServiceStatus:
    unit = name or props.get("Id", "?")
    active, sub = props.get("ActiveState", ""), props.get("SubState", "")
    state = _SYSTEMD_STATES.get(active, State.UNKNOWN)
    if props.get("LoadState") == "not-found":
        state, active = State.UNKNOWN, "not-found"
    pid = int(props.get("MainPID") or 0) or None
    since = props.get("StateChangeTimestamp") or (props.get("ActiveEnterTimestamp") if state is State.RUNNING
                                                  else props.get("InactiveEnterTimestamp")) or ""
    last_exit = ""
    if props.get("ExecMainExitTimestamp") or (props.get("ExecMainExitTimestampMonotonic") or "0") != "0":
        code, status = props.get("ExecMainCode", "1"), props.get("ExecMainStatus", "")
        last_exit = f"{_SIGNALLED[code]} {status}" if code in _SIGNALLED else status
        result = props.get("Result", "success")
        if result and result != "success":
            last_exit = f"{last_exit} ({result})"
    raw = f"{active} ({sub})" if sub else active
    return ServiceStatus(unit, state, raw, since, None, pid, last_exit,
                         detail={k: props[k] for k in SYSTEMD_PROPS if k in props})


class _CliManager(Manager):
    """A manager driven by one command line tool: `<tool> start|stop|restart -- NAME`."""

    @property
    def tool(self) -> str:
        raise NotImplementedError

    async def act(self, verb: str, service: str) -> str:
        res = await self._run(f"{self.tool} {verb} -- {q(service)}", self.host.state_timeout)
        if not res.ok:
            raise ManagerError(f"{self.host.name}: {self.tool} {verb} {service}: {res.error()}")
        return f"{service}: {verb} done"


class SystemdManager(_CliManager):
    kind = "systemd"

    @property
    def tool(self) -> str:
        return self.host.systemctl

    async def status(self, services: list[str]) -> list[ServiceStatus]:
        if not services:
            return []
        cmd = (f"{self.host.systemctl} show --no-pager -p {','.join(SYSTEMD_PROPS)} -- "
               + " ".join(q(s) for s in services))
        res = await self._run(cmd)
        if not res.ok and not res.stdout.strip():
            raise ManagerError(f"{self.host.name}: systemctl show: {res.error()}")
        blocks = parse_systemctl_show(res.stdout)
        return [systemd_status(props, name) for name, props in zip(services, blocks)]

    def log_command(self, service: str) -> str:
        from opsconsole.backends.ssh.logs import journal_command

        return journal_command(self.host, service)


# --- supervisor --------------------------------------------------------------------------------
_SUPERVISOR_STATES = {"RUNNING": State.RUNNING, "STARTING": State.QUEUED, "BACKOFF": State.UP_FOR_RETRY,
                      "STOPPING": State.STOPPED, "STOPPED": State.STOPPED, "EXITED": State.STOPPED,
                      "FATAL": State.FAILED, "UNKNOWN": State.UNKNOWN}


def supervisor_status(info: dict[str, Any]) -> ServiceStatus:
    statename = str(info.get("statename", "UNKNOWN"))
    state = _SUPERVISOR_STATES.get(statename, State.UNKNOWN)
    exitstatus = info.get("exitstatus")
    if statename == "EXITED":
        state = State.SUCCESS if exitstatus == 0 else State.FAILED
    start, stop = info.get("start") or 0, info.get("stop") or 0
    since_ts = start if state in (State.RUNNING, State.QUEUED, State.UP_FOR_RETRY) else (stop or start)
    name = info.get("name", "?")
    group = info.get("group", name)
    full = name if group == name else f"{group}:{name}"
    last_exit = "" if not stop else str(exitstatus)
    return ServiceStatus(full, state, statename, _ts(since_ts), since_ts or None, info.get("pid") or None,
                         last_exit, detail=dict(info), log_path=info.get("stdout_logfile") or None)


class SupervisorManager(Manager):
    """supervisord's XML-RPC over its unix socket, through the SSH connection."""

    kind = "supervisor"

    async def rpc(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        body = xmlrpc.client.dumps(params, method, allow_none=True).encode()
        request = (b"POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body)) + body
        sock = self.host.supervisor_socket
        try:
            raw = await self.pool.call(self.host.name, lambda c: c.unix_request(sock, request, timeout))
        except Exception as exc:
            if "open failed" in str(exc).lower() or type(exc).__name__ == "ChannelOpenError":
                raise ManagerError(f"{self.host.name}: cannot open supervisord's socket {sock} ({exc}); "
                                   "check supervisor_socket and that the SSH user may use it") from exc
            raise
        status, payload = parse_http_response(raw)
        if status != 200:
            raise ManagerError(f"{self.host.name}: supervisord answered HTTP {status}")
        try:
            result, _ = xmlrpc.client.loads(payload)
        except xmlrpc.client.Fault as fault:
            raise ManagerError(f"{self.host.name}: supervisor {method}: {fault.faultString}") from None
        return result[0]

    async def status(self, services: list[str]) -> list[ServiceStatus]:
        infos = await self.rpc("supervisor.getAllProcessInfo")
        by_name: dict[str, ServiceStatus] = {}
        for info in infos:
            st = supervisor_status(info)
            by_name[st.name] = st
            by_name.setdefault(info.get("name", ""), st)
        if not services:
            return list({id(s): s for s in by_name.values()}.values())
        return [by_name.get(s) or ServiceStatus(s, State.UNKNOWN, "not configured in supervisord") for s in services]

    async def act(self, verb: str, service: str) -> str:
        t = self.host.state_timeout
        if verb == "restart":
            await self.act("stop", service)
            return await self.act("start", service)
        method = {"start": "supervisor.startProcess", "stop": "supervisor.stopProcess"}[verb]
        try:
            await self.rpc(method, service, True, timeout=t)
        except ManagerError as exc:
            # already in the wanted state is not a failure
            if ("ALREADY_STARTED" in str(exc) and verb == "start") or ("NOT_RUNNING" in str(exc) and verb == "stop"):
                return f"{service}: already {'running' if verb == 'start' else 'stopped'}"
            raise
        return f"{service}: {verb} done"


# --- docker ------------------------------------------------------------------------------------
_DOCKER_STATES = {"running": State.RUNNING, "restarting": State.UP_FOR_RETRY, "created": State.QUEUED,
                  "paused": State.STOPPED, "exited": State.STOPPED, "dead": State.FAILED, "removing": State.STOPPED}


def docker_status(name: str, st: dict[str, Any]) -> ServiceStatus:
    status = str(st.get("Status", "")).lower()
    state = _DOCKER_STATES.get(status, State.UNKNOWN)
    code = st.get("ExitCode")
    if status == "exited":
        state = State.SUCCESS if code == 0 else State.FAILED
    running = status in ("running", "restarting", "paused")
    since = st.get("StartedAt") if running else st.get("FinishedAt")
    since = "" if not since or since.startswith("0001-") else since.replace("T", " ")[:19] + " UTC"
    finished = st.get("FinishedAt") or ""
    last_exit = "" if not finished or finished.startswith("0001-") else str(code)
    return ServiceStatus(name, state, status or "?", since, None, st.get("Pid") or None, last_exit, detail=dict(st))


class DockerManager(_CliManager):
    kind = "docker"

    @property
    def tool(self) -> str:
        return self.host.docker

    async def status(self, services: list[str]) -> list[ServiceStatus]:
        out = []
        for name in services:  # one inspect per container: a missing one must not hide the others
            res = await self._run(f"{self.host.docker} inspect --format '{{{{json .State}}}}' -- {q(name)}")
            if not res.ok:
                out.append(ServiceStatus(name, State.UNKNOWN, "missing", detail={"error": res.error()}))
                continue
            try:
                out.append(docker_status(name, json.loads(res.stdout.strip().splitlines()[0])))
            except (ValueError, IndexError):
                out.append(ServiceStatus(name, State.UNKNOWN, "unreadable", detail={"output": res.stdout[:500]}))
        return out

    def log_command(self, service: str) -> str:
        return f"{self.host.docker} logs -f -t --tail 1000 -- {q(service)} 2>&1"


# --- command templates -------------------------------------------------------------------------
class CommandManager(Manager):
    kind = "command"

    def render(self, key: str, service: str) -> str:
        return self.host.commands[key].replace("{service}", q(service))

    async def status(self, services: list[str]) -> list[ServiceStatus]:
        out = []
        for name in services:
            res = await self._run(self.render("status", name))
            first = (res.stdout.strip() or res.stderr.strip()).splitlines()
            raw = first[0][:80] if first else f"exit {res.exit_status}"
            state = State.RUNNING if res.ok else State.STOPPED
            out.append(ServiceStatus(name, state, raw, detail={"exit": res.exit_status, "output": res.stdout[-2000:]}))
        return out

    async def act(self, verb: str, service: str) -> str:
        if verb == "restart" and "restart" not in self.host.commands:
            await self.act("stop", service)
            return await self.act("start", service)
        res = await self._run(self.render(verb, service), self.host.state_timeout)
        if not res.ok:
            raise ManagerError(f"{self.host.name}: {verb} {service}: {res.error()}")
        return f"{service}: {verb} done"

    def log_command(self, service: str) -> str | None:
        return self.render("logs", service) if "logs" in self.host.commands else None


MANAGER_CLASSES: dict[str, type[Manager]] = {"systemd": SystemdManager, "supervisor": SupervisorManager,
                                             "docker": DockerManager, "command": CommandManager}


def manager_for(pool: Pool, host: "HostSettings") -> Manager:
    return MANAGER_CLASSES[host.manager](pool, host)


async def wait_state(manager: Manager, service: str, want: str, timeout: float, poll: float = 0.5) -> ServiceStatus:
    """Poll until `service` is running (want="running") or stopped (want="stopped"); raises
    ManagerError naming the last state seen when `timeout` passes."""
    import asyncio

    deadline = time.monotonic() + timeout
    last: ServiceStatus | None = None
    while True:
        (last,) = await manager.status([service])
        if (want == "running" and last.running) or (want == "stopped" and last.stopped):
            return last
        if want == "running" and last.state is State.FAILED:
            raise ManagerError(f"{service}: {last.raw} (exit {last.last_exit or '?'}) instead of running")
        if time.monotonic() >= deadline:
            raise ManagerError(f"{service}: still {last.raw} after {timeout:g}s (wanted {want})")
        await asyncio.sleep(poll)


async def start_all(manager: Manager, services: list[str], timeout: float,
                    progress: Any = None) -> list[str]:
    """Start the services in order, each waited for until running; stops at the first failure."""
    done: list[str] = []
    for name in services:
        try:
            await manager.act("start", name)
            st = await wait_state(manager, name, "running", timeout)
        except Exception as exc:
            raise ManagerError(f"{'; '.join(done) + '; ' if done else ''}stopped at {name}: {exc}") from exc
        done.append(f"{name} running (pid {st.pid or '?'})")
        if progress is not None:
            progress(name, st)
    return done


async def stop_all(manager: Manager, order: list[str], timeout: float, progress: Any = None) -> list[str]:
    """Stop the services in `order` (the host's stopping order), each waited for until stopped;
    stops at the first failure."""
    done: list[str] = []
    for name in order:
        try:
            await manager.act("stop", name)
            st = await wait_state(manager, name, "stopped", timeout)
        except Exception as exc:
            raise ManagerError(f"{'; '.join(done) + '; ' if done else ''}stopped at {name}: {exc}") from exc
        done.append(f"{name} {st.raw.lower()}")
        if progress is not None:
            progress(name, st)
    return done
