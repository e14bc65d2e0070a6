"""A real Kubernetes API server on 127.0.0.1 for the Kubernetes tests and the benchmark:
etcd + kube-apiserver + kwok as the kubelet (pod lifecycle stages, container logs from
CRI-format files, exec run locally), all three built from the Go module proxy.

The binaries are built once and cached by version by tests/peers/k8s/install.sh (also CI's
installer, .ci/peers/20-k8s.sh); they are built here when missing. Every process runs in one
process group of its own, stopped as a group at the end, at exit and on SIGTERM/SIGHUP/SIGINT,
even when a test fails. Ports are free ones picked at start, so several peers may run at once.

A `Blip` TCP proxy sits between the code under test and the API server: cutting it drops the
open watches and refuses new connections (a network outage), without touching the server.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE.parent / "peers" / "k8s"
TOKEN = "k8speer-admin-token"
NODE = "kwok-node"
NAMESPACE = "opsconsole-test"
LOG_PODS = ("log-pod", "crash-pod")  # pods whose container logs kwok serves from files


class PeerError(RuntimeError):
    pass


def peer_env() -> dict[str, str]:
    """env.sh's settings (cache dir and versioned bin dir), as the installer sees them."""
    out = subprocess.run(["bash", "-c", f'. "{PEER}/env.sh"; echo "$K8SPEER"; echo "$K8SPEER_BIN"; echo "$K8SPEER_PKI"'],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return {"root": out[0], "bin": out[1], "pki": out[2]}


def ensure_installed() -> dict[str, str]:
    """The cached binaries (built now by the installer when missing: ~10 min cold)."""
    env = peer_env()
    need = [Path(env["bin"]) / name for name in ("etcd", "kube-apiserver", "kwok", "kwok-stages.yaml")]
    if not all(p.exists() for p in need):
        t0 = time.monotonic()
        proc = subprocess.run(["bash", str(PEER / "install.sh")], capture_output=True, text=True)
        if proc.returncode != 0:
            raise PeerError(f"tests/peers/k8s/install.sh failed ({proc.returncode}) after "
                            f"{time.monotonic() - t0:.0f}s:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    subprocess.run(["bash", str(PEER / "gen-certs.sh"), env["pki"]], check=True, capture_output=True)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cri_line(text: str, stream: str = "stdout", ts: float | None = None) -> str:
    """One line of a CRI log file (what kwok's ClusterLogs reads)."""
    t = time.time() if ts is None else ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z {stream} F {text}\n"


_live: list["K8sPeer"] = []
_handlers_installed = False


def _stop_all(*_: object) -> None:
    for peer in list(_live):
        peer.stop()


def _install_handlers() -> None:
    """Stop every peer at exit and on SIGTERM/SIGHUP/SIGINT, then let the signal do what it did."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            _stop_all()
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        signal.signal(sig, handler)


class Blip:
    """A TCP proxy 127.0.0.1:port → target; `cut()` closes every connection and refuses new
    ones until `restore()` (a network outage, as the client sees it)."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="blip").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self._lock:
                self._conns.discard(a)
                self._conns.discard(b)

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.sock.close()


class K8sPeer:
    """etcd + kube-apiserver + kwok in one process group, on free loopback ports."""

    def __init__(self, run_dir: Path) -> None:
        self.env = ensure_installed()
        self.bin = Path(self.env["bin"])
        self.pki = Path(self.env["pki"])
        self.run = Path(run_dir)
        self.etcd_port, self.etcd_peer_port = free_port(), free_port()
        self.api_port, self.kubelet_port = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.pgid: int | None = None
        self.kubeconfig = self.run / "kubeconfig"          # straight to the API server
        self.blip: Blip | None = None
        self.blip_kubeconfig = self.run / "kubeconfig-blip"  # through the Blip proxy
        self.logs_dir = self.run / "kubelet" / "logs"
        self.exec_dir = self.run / "kubelet" / "exec"
        self.timings: dict[str, float] = {}

    # --- processes -------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.run / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                process_group=0 if self.pgid is None else self.pgid,
                                env={**os.environ, **(env or {})})
        log.close()
        if self.pgid is None:
            self.pgid = proc.pid
        self.procs[name] = proc
        return proc

    def _tail(self, name: str) -> str:
        try:
            return (self.run / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def start(self) -> "K8sPeer":
        _install_handlers()
        _live.append(self)
        for d in ("logs", "kubelet/logs", "kubelet/exec"):
            (self.run / d).mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self._spawn("etcd", [
            str(self.bin / "etcd"), "--name", "k8speer", "--data-dir", str(self.run / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{self.etcd_peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.etcd_peer_port}",
            "--initial-cluster", f"k8speer=http://127.0.0.1:{self.etcd_peer_port}",
            "--logger", "zap", "--log-level", "warn"])
        self._wait(lambda: self._http_ok(f"http://127.0.0.1:{self.etcd_port}/health"), "etcd", 20)
        self.timings["etcd"] = time.monotonic() - t0
        self.start_apiserver()
        self.timings["apiserver"] = time.monotonic() - t0 - self.timings["etcd"]
        self._write_kubeconfig(self.kubeconfig, self.api_port)
        self.blip = Blip(self.api_port)
        self._write_kubeconfig(self.blip_kubeconfig, self.blip.port)
        self._node()
        self._start_kwok()
        self._wait(self._node_ready, "kwok (node Ready)", 30)
        self.timings["total"] = time.monotonic() - t0
        return self

    def start_apiserver(self) -> None:
        self._spawn("kube-apiserver", [
            str(self.bin / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.api_port}",
            f"--tls-cert-file={self.pki}/apiserver.crt", f"--tls-private-key-file={self.pki}/apiserver.key",
            f"--client-ca-file={self.pki}/ca.crt", f"--token-auth-file={self.pki}/tokens.csv",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.pki}/sa.pub", f"--service-account-signing-key-file={self.pki}/sa.key",
            "--service-cluster-ip-range=10.96.0.0/24",
            "--disable-admission-plugins=ServiceAccount",
            f"--kubelet-client-certificate={self.pki}/apiserver.crt", f"--kubelet-client-key={self.pki}/apiserver.key",
            f"--kubelet-certificate-authority={self.pki}/ca.crt",
            "--kubelet-preferred-address-types=InternalIP",
            "--enable-priority-and-fairness=false", "--endpoint-reconciler-type=none",
            "--profiling=false", "-v=1"])
        self._wait(lambda: self._http_ok(f"https://127.0.0.1:{self.api_port}/readyz", token=True), "kube-apiserver", 120)

    def stop_apiserver(self) -> None:
        proc = self.procs.pop("kube-apiserver", None)
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart_apiserver(self) -> None:
        self.stop_apiserver()
        self.start_apiserver()

    def _start_kwok(self) -> None:
        stages = (self.bin / "kwok-stages.yaml").read_text()
        docs = [stages]
        for pod in LOG_PODS:
            d = self.logs_dir / NAMESPACE / pod
            d.mkdir(parents=True, exist_ok=True)
            for f in ("main.log", "previous.log"):
                (d / f).touch()
            docs.append(f"""kind: ClusterLogs
apiVersion: kwok.x-k8s.io/v1alpha1
metadata: {{name: logs-{pod}}}
spec:
  selector: {{matchNamespaces: [{NAMESPACE}], matchNames: [{pod}]}}
  logs:
  - logsFile: {d}/main.log
    previousLogsFile: {d}/previous.log
    follow: true
""")
        docs.append(f"""kind: ClusterExec
apiVersion: kwok.x-k8s.io/v1alpha1
metadata: {{name: exec-local}}
spec:
  execs:
  - local: {{workDir: {self.exec_dir}}}
""")
        cfg = self.run / "kwok.yaml"
        cfg.write_text("\n---\n".join(d.strip("-\n") for d in docs) + "\n")
        self._spawn("kwok", [
            str(self.bin / "kwok"), "--kubeconfig", str(self.kubeconfig), "-c", str(cfg),
            "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-ip", "127.0.0.1", "--node-port", str(self.kubelet_port),
            "--server-address", f"127.0.0.1:{self.kubelet_port}",
            "--tls-cert-file", f"{self.pki}/kubelet.crt", "--tls-private-key-file", f"{self.pki}/kubelet.key"])

    def stop(self) -> None:
        if self.blip is not None:
            self.blip.close()
            self.blip = None
        if self.pgid is not None:
            try:
                os.killpg(self.pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            end = time.monotonic() + 3  # throwaway servers: no need for a graceful shutdown
            for proc in self.procs.values():
                try:
                    proc.wait(max(0.1, end - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for proc in self.procs.values():
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            self.pgid = None
        self.procs.clear()
        if self in _live:
            _live.remove(self)

    # --- helpers ---------------------------------------------------------------------------------
    def _wait(self, ready, what: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ready():
                return
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise PeerError(f"{name} exited ({proc.returncode}) while waiting for {what}:\n{self._tail(name)}")
            time.sleep(0.1)
        raise PeerError(f"{what} not ready after {timeout:.0f}s:\n" + "\n".join(self._tail(n) for n in self.procs))

    def _http_ok(self, url: str, token: bool = False) -> bool:
        import ssl

        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"} if token else {})
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt")) if url.startswith("https") else None
        try:
            with urllib.request.urlopen(req, timeout=2, context=ctx) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _write_kubeconfig(self, path: Path, port: int) -> None:
        path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: peer
  cluster: {{server: "https://127.0.0.1:{port}", certificate-authority: "{self.pki}/ca.crt"}}
users:
- name: admin
  user: {{token: "{TOKEN}"}}
contexts:
- name: peer
  context: {{cluster: peer, user: admin, namespace: {NAMESPACE}}}
current-context: peer
""")

    def api(self):
        """A CoreV1Api straight to the API server (the tests' own hands)."""
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg, persist_config=False)
        return client.CoreV1Api(client.ApiClient(cfg))

    def _node(self) -> None:
        from kubernetes import client

        v1 = self.api()
        v1.create_node(client.V1Node(metadata=client.V1ObjectMeta(
            name=NODE, annotations={"kwok.x-k8s.io/node": "fake"}, labels={"type": "kwok"})))
        for ns in (NAMESPACE, "other"):
            v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

    def _node_ready(self) -> bool:
        try:
            node = self.api().read_node(NODE)
        except Exception:  # noqa: BLE001
            return False
        conds = {c.type: c.status for c in (node.status.conditions or [])}
        return conds.get("Ready") == "True"

    # --- etcd ------------------------------------------------------------------------------------
    def etcd_revision(self) -> int:
        req = urllib.request.Request(f"http://127.0.0.1:{self.etcd_port}/v3/kv/range", method="POST",
                                     data=json.dumps({"key": "AA=="}).encode())
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(json.load(resp)["header"]["revision"])

    def compact(self) -> int:
        """Compact etcd at its current revision: every older resourceVersion is gone (410)."""
        rev = self.etcd_revision()
        req = urllib.request.Request(f"http://127.0.0.1:{self.etcd_port}/v3/kv/compaction", method="POST",
                                     data=json.dumps({"revision": rev, "physical": True}).encode())
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
        return rev

    # --- pods ------------------------------------------------------------------------------------
    def pod_manifest(self, name: str, namespace: str = NAMESPACE, labels: dict | None = None,
                     annotations: dict | None = None, containers: tuple[str, ...] = ("base",),
                     restart_policy: str = "Never") -> dict:
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {},
                         "annotations": annotations or {}},
            "spec": {"nodeName": NODE, "restartPolicy": restart_policy,
                     "containers": [{"name": c, "image": "busybox"} for c in containers],
                     "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]},
        }

    def create_pod(self, name: str, namespace: str = NAMESPACE, **kw) -> dict:
        v1 = self.api()
        return v1.api_client.sanitize_for_serialization(
            v1.create_namespaced_pod(namespace, self.pod_manifest(name, namespace, **kw)))

    def log_file(self, pod: str, previous: bool = False) -> Path:
        return self.logs_dir / NAMESPACE / pod / ("previous.log" if previous else "main.log")
