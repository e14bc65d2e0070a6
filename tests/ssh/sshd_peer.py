"""Real peers for the SSH hosts backend: OpenSSH's sshd on 127.0.0.1 and supervisord under it.

Used by tests/ssh/conftest.py and benchmarks/remote_logs_ssh.py. Each peer runs in its own
process group; :class:`PeerGroup` stops every group it started on close, at interpreter exit
and on SIGINT/SIGTERM (then re-raises the signal's default behaviour), even when a test fails.
The installer (.ci/peers/10-ssh.sh) is run when sshd or supervisord is missing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SSHD = "/usr/sbin/sshd"
INSTALLER = ROOT / ".ci" / "peers" / "10-ssh.sh"


def ensure_installed() -> None:
    """sshd and supervisord present (the CI installer is run once if not); raises if still missing."""
    if not (Path(SSHD).exists() and shutil.which("supervisord")):
        subprocess.run(["bash", str(INSTALLER)], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    if not Path(SSHD).exists():
        raise RuntimeError(f"{SSHD} missing and {INSTALLER} could not install openssh-server")
    if not shutil.which("supervisord"):
        raise RuntimeError(f"supervisord missing and {INSTALLER} could not install supervisor")
    if os.geteuid() == 0:  # sshd started by root wants its privilege-separation dir
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 10.0, what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} not listening on {port} after {timeout}s")


class PeerGroup:
    """Processes started in their own process groups, all stopped together (close, exit, signals)."""

    _instances: list["PeerGroup"] = []
    _handlers_installed = False

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.cleanups: list = []  # callables run on close (big files), after the processes stopped
        PeerGroup._instances.append(self)
        PeerGroup._install_handlers()

    @classmethod
    def _install_handlers(cls) -> None:
        if cls._handlers_installed:
            return
        cls._handlers_installed = True
        atexit.register(cls._stop_all)
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)

            def handler(signum, frame, previous=previous):
                cls._stop_all()
                if callable(previous):
                    previous(signum, frame)
                else:
                    signal.signal(signum, signal.SIG_DFL)
                    os.kill(os.getpid(), signum)

            try:
                signal.signal(sig, handler)
            except ValueError:  # not the main thread
                pass

    @classmethod
    def _stop_all(cls) -> None:
        for group in list(cls._instances):
            group.close()

    def start(self, argv: list[str], log: Path, **kw) -> subprocess.Popen:
        out = open(log, "ab")
        try:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, **kw)
        finally:
            out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 5.0) -> None:
        """SIGTERM the process's group, SIGKILL it after `timeout`."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        # stragglers of the group (children that outlived their leader)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        self.procs.clear()
        while self.cleanups:
            try:
                self.cleanups.pop()()
            except Exception:  # noqa: BLE001 - the other cleanups still run
                pass
        if self in PeerGroup._instances:
            PeerGroup._instances.remove(self)


@dataclass
class Keys:
    """A client key pair and the sshd host key, generated once per session."""

    dir: Path
    client_key: Path       # private key (OpenSSH format, no passphrase)
    client_pub: str
    host_key: Path
    host_pub: str


def make_keys(dir: Path) -> Keys:
    import asyncssh

    dir.mkdir(parents=True, exist_ok=True)
    client = asyncssh.generate_private_key("ssh-ed25519")
    host = asyncssh.generate_private_key("ssh-ed25519")
    client_key, host_key = dir / "id_ed25519", dir / "ssh_host_ed25519_key"
    client.write_private_key(str(client_key))
    host.write_private_key(str(host_key))
    os.chmod(client_key, 0o600)
    os.chmod(host_key, 0o600)
    client_pub = client.export_public_key().decode().strip()
    host_pub = host.export_public_key().decode().strip()
    (dir / "authorized_keys").write_text(client_pub + "\n")
    (dir / "id_ed25519.pub").write_text(client_pub + "\n")
    return Keys(dir, client_key, client_pub, host_key, host_pub)


@dataclass
class Sshd:
    """One running sshd: its port, its known_hosts line and the process."""

    port: int
    dir: Path
    keys: Keys
    known_hosts: Path
    proc: subprocess.Popen | None
    group: PeerGroup
    config: Path

    def start(self) -> None:
        """(Re)start sshd on the same port (a host coming back)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self.proc = self.group.start([SSHD, "-D", "-e", "-f", str(self.config)], self.dir / "sshd.log")
        wait_port(self.port, self.proc, what="sshd")

    def stop(self) -> None:
        """Stop sshd (a host going down), with the per-connection sshd processes it forked (they
        run in sessions of their own): open connections drop as on a host that went away."""
        if self.proc is not None:
            children = descendants(self.proc.pid)
            self.group.stop(self.proc)
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.proc = None


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def start_sshd(root: Path, keys: Keys, group: PeerGroup, name: str = "sshd") -> Sshd:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = d / "sshd_config"
    config.write_text(textwrap.dedent(f"""\
        ListenAddress 127.0.0.1
        Port {port}
        HostKey {keys.host_key}
        PidFile {d / 'sshd.pid'}
        AuthorizedKeysFile {keys.dir / 'authorized_keys'}
        StrictModes no
        UsePAM no
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitRootLogin prohibit-password
        AllowTcpForwarding yes
        AllowStreamLocalForwarding yes
        MaxSessions 64
        MaxStartups 64:30:128
        Subsystem sftp internal-sftp
        """))
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {keys.host_pub}\n")
    sshd = Sshd(port, d, keys, known, None, group, config)
    sshd.start()
    return sshd


@dataclass
class Supervisor:
    """supervisord with the trading services of seed 003 as programs."""

    dir: Path
    conf: Path
    socket: Path
    proc: subprocess.Popen
    services: tuple[str, ...]

    def ctl(self, *args: str) -> str:
        out = subprocess.run(["supervisorctl", "-c", str(self.conf), *args], capture_output=True, text=True,
                             timeout=30)
        return out.stdout + out.stderr


TRADING = ("trading-market-data", "trading-risk-manager", "trading-execution-engine", "trading-signal-bridge")

# A service of the trading system: writes a log line a second (under logs/), and the risk manager
# serves Prometheus metrics with the real prometheus_client on METRICS_PORT (127.0.0.1 only).
SERVICE_PY = textwrap.dedent('''\
    import os, signal, sys, time
    name, logdir = sys.argv[1], sys.argv[2]
    port = int(os.environ.get("METRICS_PORT") or 0)
    if port:
        from prometheus_client import Gauge, Histogram, start_http_server
        breaker = Gauge("risk_circuit_breaker_active", "1 while the circuit breaker is active")
        ws = Gauge("market_data_websocket_connected", "1 while the feed is connected", ["feed"])
        lat = Gauge("market_data_latency_seconds", "feed latency")
        start_http_server(port, addr="127.0.0.1")
        breaker.set(int(os.environ.get("BREAKER", "0")))
        ws.labels(feed="alpaca").set(1)
        lat.set(0.004)
        state = os.path.join(logdir, "..", "metrics.env")
    def stop(*_):
        print(f"{name} stopping", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    os.makedirs(logdir, exist_ok=True)
    log = open(os.path.join(logdir, name.replace("trading-", "").replace("-", "_") + ".log"), "a", buffering=1)
    n = 0
    while True:
        n += 1
        log.write(time.strftime("%Y-%m-%dT%H:%M:%S") + f" INFO {name} tick {n}\\n")
        if port:
            try:
                with open(state) as f:
                    for line in f:
                        k, _, v = line.strip().partition("=")
                        if k == "BREAKER":
                            breaker.set(float(v))
                        elif k == "WS":
                            ws.labels(feed="alpaca").set(float(v))
            except OSError:
                pass
        time.sleep(0.2)
''')


def start_supervisor(root: Path, group: PeerGroup, *, metrics_port: int, autostart: bool = False) -> Supervisor:
    d = root / "supervisor"
    (d / "logs").mkdir(parents=True, exist_ok=True)
    (d / "service.py").write_text(SERVICE_PY)
    sock = d / "supervisor.sock"
    conf = d / "supervisord.conf"
    programs = []
    for name in TRADING:
        env = f'METRICS_PORT="{metrics_port}"' if name == "trading-risk-manager" else 'METRICS_PORT=""'
        programs.append(textwrap.dedent(f"""\
            [program:{name}]
            command={sys.executable} {d / 'service.py'} {name} {d / 'logs'}
            autostart={'true' if autostart else 'false'}
            autorestart=false
            startsecs=1
            stopwaitsecs=5
            environment={env}
            stdout_logfile={d / 'logs' / (name + '.out')}
            redirect_stderr=true
            """))
    conf.write_text(textwrap.dedent(f"""\
        [unix_http_server]
        file={sock}
        chmod=0700

        [supervisord]
        nodaemon=true
        logfile={d / 'supervisord.log'}
        pidfile={d / 'supervisord.pid'}
        childlogdir={d / 'logs'}

        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

        [supervisorctl]
        serverurl=unix://{sock}

        """) + "\n".join(programs))
    proc = group.start(["supervisord", "-n", "-c", str(conf)], d / "supervisord.out")
    deadline = time.monotonic() + 15
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"supervisord did not start: {(d / 'supervisord.out').read_text()[-2000:]}")
        time.sleep(0.05)
    return Supervisor(d, conf, sock, proc, TRADING)
