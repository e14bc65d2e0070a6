"""A real Hadoop YARN (ResourceManager + NodeManager, Hadoop 3.5.0) on free loopback ports, for
the YARN tests, from the jars cached by tests/peers/yarn/install.sh (run here when missing).

Each daemon and each DistributedShell client runs in its own process group (its own session),
stopped with its group at the end, at exit and on SIGTERM/SIGHUP; containers (which the NM runs in
sessions of their own) are stopped by the NM's shutdown, and any left are found by their working
directory under this peer's root and killed. By hand: `python tests/yarn/yarn_peer.py`."""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: run as a script too

from peer_procs import kill_below  # noqa: E402

PEER_DIR = Path(__file__).resolve().parents[1] / "peers" / "yarn"
VERSION = "3.5.0"
CACHE = Path(os.environ.get("YARNPEER", Path.home() / ".cache" / "opsconsole-peers" / "yarn" / VERSION))
LIB = CACHE / "lib"
ADD_OPENS = " ".join(f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in (
    "java.lang", "java.lang.reflect", "java.io", "java.net", "java.nio", "java.util", "java.util.concurrent",
    "java.util.concurrent.atomic", "java.util.zip", "sun.nio.ch", "sun.security.util", "sun.security.x509",
    "java.text", "java.math"))
PORT_KEYS = ("RM_RPC", "RM_SCHED", "RM_TRACKER", "RM_ADMIN", "RM_WEB", "NM_RPC", "NM_LOCALIZER", "NM_WEB")

_LIVE: list["YarnPeer"] = []


def ensure_installed() -> None:
    if (LIB / ".complete").exists():
        return
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(PEER_DIR / "install.sh")], capture_output=True, text=True, timeout=1500)
    if proc.returncode != 0 or not (LIB / ".complete").exists():
        raise RuntimeError(f"the YARN peer could not be installed (tests/peers/yarn/install.sh, rc "
                           f"{proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    print(f"yarn peer installed in {time.monotonic() - t0:.0f}s", file=sys.stderr)


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class YarnPeer:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.run = self.root / "run"
        self.conf = self.root / "conf"
        self.ports = dict(zip(PORT_KEYS, _free_ports(len(PORT_KEYS))))
        self.procs: dict[str, subprocess.Popen] = {}
        self.clients: list[subprocess.Popen] = []
        self.started_in: float | None = None

    @property
    def rm_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['RM_WEB']}"

    @property
    def nm_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['NM_WEB']}"

    # --- setup ------------------------------------------------------------------------------------
    def render(self) -> None:
        for d in ("logs", "tmp", "nm-local", "nm-logs"):
            (self.run / d).mkdir(parents=True, exist_ok=True)
        self.conf.mkdir(parents=True, exist_ok=True)
        subs = {"@RUN@": str(self.run), "@CONF@": str(self.conf), "@LIB@": str(LIB),
                **{f"@{k}@": str(v) for k, v in self.ports.items()}}
        for tpl in (PEER_DIR / "conf").iterdir():
            text = tpl.read_text()
            for a, b in subs.items():
                text = text.replace(a, b)
            (self.conf / tpl.name).write_text(text)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(HADOOP_CONF_DIR=str(self.conf), JDK_JAVA_OPTIONS=ADD_OPENS, YARNPEER_RUN=str(self.run),
                   YARNPEER_CONF=str(self.conf), YARNPEER_LIB=str(LIB))
        env.pop("HADOOP_HOME", None)
        return env

    def _java(self, name: str, main: str, *args: str, heap: str = "-Xmx512m") -> subprocess.Popen:
        log = open(self.run / "logs" / f"{name}.log", "ab")
        try:
            return subprocess.Popen(["java", heap, "-cp", f"{self.conf}:{LIB}/*", main, *args], env=self.env(),
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=self.run)
        finally:
            log.close()

    def start_rm(self) -> None:
        self.procs["rm"] = self._java("rm", "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager")

    def start_nm(self) -> None:
        self.procs["nm"] = self._java("nm", "org.apache.hadoop.yarn.server.nodemanager.NodeManager")

    def start(self, timeout: float = 240.0) -> None:
        ensure_installed()
        self.render()
        _LIVE.append(self)
        t0 = time.monotonic()
        self.start_rm()
        self.start_nm()
        self.wait_ready(timeout)
        self.started_in = time.monotonic() - t0

    def wait_ready(self, timeout: float = 240.0) -> None:
        """Until the RM answers and counts an active NodeManager."""
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"the {name.upper()} exited ({proc.returncode}):\n{self.tail(name)}")
            metrics = self.get("/ws/v1/cluster/metrics")
            if metrics and metrics["clusterMetrics"].get("activeNodes", 0) >= 1:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"YARN not ready after {timeout:.0f}s:\n{self.tail('rm')}\n{self.tail('nm')}")
            time.sleep(0.5)

    def tail(self, name: str, n: int = 3000) -> str:
        try:
            return (self.run / "logs" / f"{name}.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    # --- REST helpers (stdlib: the fixtures do not use the code under test) -------------------------
    def get(self, path: str, base: str | None = None):
        try:
            with urllib.request.urlopen(urllib.request.Request(f"{base or self.rm_url}{path}",
                                                               headers={"Accept": "application/json"}),
                                        timeout=10) as r:
                return json.loads(r.read() or b"null")
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def apps(self, states: str = "") -> list[dict]:
        body = self.get("/ws/v1/cluster/apps" + (f"?states={states}" if states else "")) or {}
        return (body.get("apps") or {}).get("app") or []

    def app(self, app_id: str) -> dict:
        return (self.get(f"/ws/v1/cluster/apps/{app_id}") or {}).get("app") or {}

    def wait(self, predicate, what: str, timeout: float = 120.0, step: float = 0.5):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"YARN: {what} not reached in {timeout:.0f}s\n{self.tail('rm', 1500)}")
            time.sleep(step)

    # --- applications -------------------------------------------------------------------------------
    def submit(self, name: str, seconds: int = 600, queue: str = "default", *, running: bool = True) -> str:
        """A DistributedShell application (AM + one shell container printing `tick N` every
        second for `seconds`); returns its id once the RM lists it (and, with `running`, once its
        shell container has started)."""
        ds_jar = next(LIB.glob("hadoop-yarn-applications-distributedshell-*.jar"))
        known = {a["id"] for a in self.apps()}
        client = self._java(f"ds-{name}", "org.apache.hadoop.yarn.applications.distributedshell.Client",
                            "-jar", str(ds_jar), "-appname", name, "-queue", queue,
                            "-shell_script", str(PEER_DIR / "ticker.sh"), "-shell_args", str(seconds),
                            "-num_containers", "1", "-container_memory", "128", "-master_memory", "256",
                            "-timeout", "3600000", heap="-Xmx256m")
        self.clients.append(client)

        def listed():
            if client.poll() is not None and client.returncode != 0:
                raise RuntimeError(f"the DistributedShell client of {name} exited ({client.returncode}):\n"
                                   f"{self.tail('ds-' + name)}")
            return next((a["id"] for a in self.apps() if a["name"] == name and a["id"] not in known), None)

        app_id = self.wait(listed, f"application {name} listed", timeout=180)
        if running:
            self.wait(lambda: self.shell_started(app_id), f"{name}'s shell container started", timeout=180)
        return app_id

    def shell_started(self, app_id: str) -> bool:
        """The shell container (number 2) has printed its first tick."""
        app = self.app(app_id)
        if app.get("state") != "RUNNING":
            return False
        cid = f"container_{app_id.split('_', 1)[1]}_01_000002"
        try:
            req = urllib.request.Request(f"{self.nm_url}/ws/v1/node/containerlogs/{cid}/stdout",
                                         headers={"Accept": "text/plain"})
            with urllib.request.urlopen(req, timeout=10) as r:
                return b"tick 1" in r.read()
        except (urllib.error.URLError, OSError):
            return False

    # --- teardown -----------------------------------------------------------------------------------
    def stop_rm(self) -> None:
        proc = self.procs.pop("rm", None)
        if proc is not None:
            _stop_group(proc, grace=10.0)

    def stop(self) -> None:
        for client in self.clients:
            _stop_group(client, grace=2.0)
        self.clients.clear()
        for name in ("nm", "rm"):  # the NM first: its shutdown stops the containers
            proc = self.procs.pop(name, None)
            if proc is not None:
                _stop_group(proc, grace=5.0)  # leftover containers: found by their cwd below
        self._kill_leftover_containers()
        if self in _LIVE:
            _LIVE.remove(self)

    def _kill_leftover_containers(self) -> None:
        """Container processes (own sessions) still running with a working dir under our root."""
        kill_below(self.root)


def _stop_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process's group, SIGKILL it after `grace` seconds."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        proc.poll()
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # the group may outlive its leader (a JVM's children)
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_all() -> None:
    for peer in list(_LIVE):
        try:
            peer.stop()
        except Exception:  # noqa: BLE001 - stop the others all the same
            pass


def _on_signal(signum, frame) -> None:
    stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_handlers() -> None:
    """Stop every live peer at exit and on SIGTERM/SIGHUP (ctrl-c reaches pytest's teardown)."""
    atexit.register(stop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_signal)


if __name__ == "__main__":
    import tempfile

    install_handlers()
    peer = YarnPeer(Path(tempfile.mkdtemp(prefix="yarnpeer-")))
    try:
        peer.start()
        print(f"YARN ready in {peer.started_in:.1f}s: RM {peer.rm_url}, NM {peer.nm_url} (root {peer.root})", flush=True)
        if "--app" in sys.argv:
            print("submitted", peer.submit("peer-sleeper"), flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        peer.stop()
