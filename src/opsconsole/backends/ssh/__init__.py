"""The SSH hosts backend (`[[profiles.NAME.hosts]]`): plain VMs reached over SSH (asyncssh).

Seeds 003 and 004: the trading services started in order and stopped in reverse
(systemd, supervisor, docker or command templates), their health read from /metrics, their
logs as files (read over SFTP by byte range) or journald units (streamed), a command run on
every VM, `ssh` into one, and experiments launched detached on a dev VM with their results
copied back. One connection per host, reused, reconnected with backoff; every remote command
has a timeout; a host that is down is a stale row, never a frozen UI. See docs/hosts.md.

This module stays light: asyncssh and the session's modules are imported when a session (or an
`ssh://` URL) first needs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from opsconsole.backends.base import Backend, BackendSession, Preview, SessionEnv
from opsconsole.config.schema import ArrayOf, Bool, HealthRule, List, MapOf, Num, Spec, Str, Table
from opsconsole.domain import policy
from opsconsole.domain.actions import Action

if TYPE_CHECKING:
    from opsconsole.backends.base import LaunchTarget, PaneSource
    from opsconsole.backends.ssh.pool import Pool
    from opsconsole.domain.kill import KillStep
    from opsconsole.logs.ref import LogRef

MANAGERS = ("systemd", "supervisor", "docker", "command")
# a log glob is expanded by the remote shell: only characters that cannot start a command
GLOB_OK = re.compile(r"^[A-Za-z0-9_./*?\[\]{},~@%+=:-]+$")
SERVICE_OK = re.compile(r"^[A-Za-z0-9_.@:+-]+$")
TEMPLATE_KEYS = ("status", "start", "stop", "restart", "logs")


@dataclass
class Glob(Spec):
    def check(self, value, path):
        if not isinstance(value, str) or not value:
            yield path, "expected a non-empty path or glob"
        elif not GLOB_OK.match(value):
            yield path, f"{value!r}: a log glob may use letters, digits and / . _ - * ? [ ] {{ }} , ~ (no spaces or quotes)"


@dataclass
class Name(Spec):
    what: str = "service"

    def check(self, value, path):
        if not isinstance(value, str) or not SERVICE_OK.match(value):
            yield path, f"{value!r}: a {self.what} name may use letters, digits and _ . @ : + -"


@dataclass
class HostTable(Table):
    """A host's table, plus the checks across its keys (the command templates)."""

    def check(self, value, path):
        yield from super().check(value, path)
        if isinstance(value, dict):
            for key, message in command_problems(value):
                yield (*path, *key), message
            services, stop = value.get("services") or [], value.get("stop_order")
            if isinstance(stop, list) and isinstance(services, list) and sorted(map(str, stop)) != sorted(map(str, services)):
                yield (*path, "stop_order"), "must list the same services as `services` (in the order to stop them)"


HOST = HostTable({
    "name": Name(what="host"),
    "hostname": Str(),
    "user": Str(),
    "port": Num(integer=True, min=1, max=65535),
    "identity": Str(),                 # a private key file (its passphrase, if any, via the agent)
    "known_hosts": Str(),              # default: ~/.ssh/known_hosts (and ~/.ssh/config's)
    "services": List(Name()),          # in start order; stopped in reverse
    "stop_order": List(Name()),        # another stop order (default: services reversed)
    "manager": Str(choices=MANAGERS),
    "systemctl": Str(),                # the command prefix: "sudo systemctl"
    "journalctl": Str(),
    "supervisor_socket": Str(),        # supervisord's unix socket on the host
    "docker": Str(),                   # "sudo docker"
    "commands": MapOf(Str()),          # manager = "command": status/start/stop/restart/logs templates
    "logs": List(Glob()),
    "metrics_url": Str(),
    "health": List(HealthRule()),
    "timeout": Num(min=0.5, max=600),          # every remote command
    "connect_timeout": Num(min=0.5, max=120),
    "state_timeout": Num(min=1, max=3600),     # start/stop all: waiting for each service's state
    "interval": Num(min=1, max=3600),
    "workdir": Str(),                  # launches: run dirs on the host (default ~/opsconsole-runs)
    "kill": Bool(),                    # the kill-switch stops this host's services (default true)
}, required=("name",))
SCHEMA = ArrayOf(HOST, unique="name")
PRESET_SCHEMA = Table({"host": Str(), "detach": Str(choices=("setsid", "tmux")), "workdir": Str(),
                       "results": Str()})

START = Action("hosts.start", "Start", "S", policy.LAUNCH, "start the selected service (it starts work: refused while HALTED)")
STOP = Action("hosts.stop", "Stop", "X", policy.CHANGE, "stop the selected service")
RESTART = Action("hosts.restart", "Restart", "R", policy.LAUNCH, "restart the selected service")
START_ALL = Action("hosts.start_all", "Start all", "A", policy.LAUNCH,
                   "start the host's services in their configured order, each waited for until running")
STOP_ALL = Action("hosts.stop_all", "Stop all", "Z", policy.CHANGE,
                  "stop the host's services in reverse order, each waited for until stopped")
RUN_ALL = Action("hosts.run_all", "Run on all", "exclamation_mark", policy.CHANGE,
                 "run a command on every host (bounded concurrency): per-host output and exit code in a log tab")
SSH = Action("hosts.ssh", "ssh", "e", policy.CHANGE, "open an interactive ssh session on the host (the console suspends)")
GREP = Action("hosts.grep", "Search on host", "g", policy.VIEW,
              "search the selected log file on its host (rg/grep there): only matching lines are transferred")
ACTIONS = (START, STOP, RESTART, START_ALL, STOP_ALL, RUN_ALL, SSH, GREP)


@dataclass(frozen=True)
class HostSettings:
    """One `[[profiles.NAME.hosts]]` table. Unset connection fields fall back to ~/.ssh/config
    (Host <name>) and the SSH agent; host keys are always checked against known_hosts."""

    name: str
    hostname: str | None = None
    user: str | None = None
    port: int | None = None
    identity: str | None = None
    known_hosts: str | None = None
    services: tuple[str, ...] = ()
    stop_order: tuple[str, ...] = ()
    manager: str = "systemd"
    systemctl: str = "systemctl"
    journalctl: str = "journalctl"
    supervisor_socket: str = "/var/run/supervisor.sock"
    docker: str = "docker"
    commands: Mapping[str, str] = field(default_factory=dict)
    logs: tuple[str, ...] = ()
    metrics_url: str | None = None
    health: tuple[str, ...] = ()
    timeout: float = 15.0
    connect_timeout: float = 10.0
    state_timeout: float = 60.0
    interval: float = 5.0
    workdir: str = "opsconsole-runs"  # relative to the login directory
    kill: bool = True

    @property
    def address(self) -> str:
        return self.hostname or self.name

    @property
    def stopping_order(self) -> list[str]:
        """The order services are stopped in: `stop_order`, else the start order reversed."""
        return list(self.stop_order) if self.stop_order else list(reversed(self.services))

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> "HostSettings":
        t = dict(table)
        for key in ("services", "stop_order", "logs", "health"):
            if key in t:
                t[key] = tuple(t[key])
        if "commands" in t:
            t["commands"] = dict(t["commands"])
        return cls(**t)


@dataclass(frozen=True)
class HostsSettings:
    hosts: tuple[HostSettings, ...]

    def host(self, name: str) -> HostSettings:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)


def command_problems(table: Mapping[str, Any]) -> list[tuple[tuple[object, ...], str]]:
    """manager = "command" needs status/start/stop templates; unknown template names are errors."""
    problems: list[tuple[tuple[object, ...], str]] = []
    commands = table.get("commands") or {}
    if isinstance(commands, dict):
        for key in commands:
            if key not in TEMPLATE_KEYS:
                problems.append((("commands", key), f"unknown template (known: {', '.join(TEMPLATE_KEYS)})"))
    if table.get("manager") == "command":
        for key in ("status", "start", "stop"):
            if key not in commands:
                problems.append((("manager",), f'manager = "command" needs commands.{key} (a template using {{service}})'))
    return problems


class HostsBackend(Backend):
    name = "hosts"
    title = "Hosts"
    schema = SCHEMA
    preset_schema = PRESET_SCHEMA
    actions = ACTIONS

    def settings(self, table: Any) -> HostsSettings:
        return HostsSettings(tuple(HostSettings.from_table(t) for t in table or []))

    def open(self, env: SessionEnv) -> "HostsSession":
        return HostsSession(self, env)

    def preset_problems(self, table: Mapping[str, Any]) -> list[tuple[tuple[object, ...], str]]:
        if not table.get("host"):
            return [(("target",), 'target hosts needs the host to run on: [hosts] host = "..."')]
        return []

    def ledger_target(self, preset: Any) -> str:
        return f"ssh:{preset.table('hosts').get('host')}"

    def target_label(self, preset: Any) -> str:
        t = preset.table("hosts")
        return f"ssh host {t.get('host')} ({t.get('detach') or 'setsid'})"

    def preview(self, spec: Any) -> list[Preview]:
        return [Preview("on the host:", "detached (setsid+nohup or tmux), output to out.log in its run dir; "
                        "exit code to exit_code; results copied back when it ends")]

    def open_url(self, url: str, settings: Any | None) -> "LogRef":
        from opsconsole.backends.ssh.logs import open_ssh_url

        return open_ssh_url(url, settings)


class HostsSession(BackendSession):
    """One profile's hosts: one connection pool (one SSH connection per host, on the pool's own
    event-loop thread so the UI loop, the log viewer's worker threads and the kill-switch share
    it), panes, the `ssh` launch target, kill steps."""

    settings: HostsSettings

    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.settings = env.settings
        self._pool: Pool | None = None
        self._spool: Any = None

    @property
    def pool(self) -> "Pool":
        if self._pool is None:
            from opsconsole.backends.ssh.pool import Pool

            self._pool = Pool(self.settings.hosts)
        return self._pool

    @property
    def spool(self) -> Any:
        if self._spool is None:
            from opsconsole.logs.spool import LogSpool

            self._spool = LogSpool(self.env.data_dir / "spool" / "hosts")
        return self._spool

    def sources(self) -> list["PaneSource"]:
        from opsconsole.backends.ssh.sources import HostsSource

        return [HostsSource(self)]

    def targets(self) -> list["LaunchTarget"]:
        from opsconsole.backends.ssh.target import SshTarget

        return [SshTarget(self)]

    def kill_steps(self) -> list["KillStep"]:
        from opsconsole.backends.ssh.kill import kill_steps

        return kill_steps(self)

    async def sync(self) -> list[str]:
        from opsconsole.backends.ssh.target import sync_ssh_runs

        return await sync_ssh_runs(self)

    async def aclose(self) -> None:
        if self._spool is not None:
            await self._spool.close()
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


BACKEND = HostsBackend()
