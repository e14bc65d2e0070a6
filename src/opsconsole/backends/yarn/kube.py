"""The RM through the Kubernetes API server's service proxy (``via = "kubernetes"``):
``{server}/api/v1/namespaces/{ns}/services/{scheme}:{name}:{port}/proxy/ws/v1/cluster/...``.

The kubeconfig is read here, as kubectl reads it (``kubeconfig`` or ``$KUBECONFIG`` — the first
file naming the context — or ``~/.kube/config``; ``context`` or the current one), without the
Kubernetes backend or client (backends are independent, and the yarn pane should not pay for
the ``kubernetes`` package). Supported credentials: a bearer token (``token``/``tokenFile``),
client certificates (files or ``-data``), ``exec`` plugins (``aws eks get-token`` and the like,
re-run when their token expires), the cluster CA (file or data) or ``insecure-skip-tls-verify``.
Secrets stay in memory; inline certificate data is written to private temporary files (httpx
loads certificates from files) removed on close.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from opsconsole.backends.yarn.client import YarnSettings


class KubeconfigError(ValueError):
    pass


def _config_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(os.path.expanduser(explicit))]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(os.path.expanduser(p)) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def _load_merged(paths: list[Path]) -> dict[str, Any]:
    """kubectl's merge: the first file that sets a name (or current-context) wins."""
    import yaml

    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": None}
    found = False
    for path in paths:
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise KubeconfigError(f"{path}: {exc.strerror or exc}") from exc
        found = True
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise KubeconfigError(f"{path}: not YAML ({exc})") from exc
        if not isinstance(doc, dict):
            raise KubeconfigError(f"{path}: not a kubeconfig")
        for kind, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in doc.get(kind) or []:
                if isinstance(entry, dict) and entry.get("name") and entry["name"] not in merged[kind]:
                    merged[kind][entry["name"]] = dict(entry.get(inner) or {}, _file=str(path))
        if merged["current-context"] is None and doc.get("current-context"):
            merged["current-context"] = doc["current-context"]
    if not found:
        raise KubeconfigError(f"no kubeconfig at {', '.join(map(str, paths))}")
    return merged


@dataclass
class KubeProxy:
    """One context's API server and credentials."""

    server: str
    context: str
    verify: Any = True                       # a CA file path, True, or False
    cert: tuple[str, str] | None = None
    token: str | None = None
    exec_spec: dict[str, Any] | None = None
    _token_expires: float = 0.0
    _tmpdir: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never a token in a repr
        return f"KubeProxy(server={self.server!r}, context={self.context!r})"

    @classmethod
    def load(cls, settings: "YarnSettings") -> "KubeProxy":
        """(Blocking: call it in a thread.) The context's server and credentials."""
        merged = _load_merged(_config_paths(settings.kubeconfig))
        name = settings.context or merged["current-context"]
        if not name:
            raise KubeconfigError("the kubeconfig has no current-context: set `context`")
        ctx = merged["contexts"].get(name)
        if ctx is None:
            raise KubeconfigError(f"context {name!r} is not in the kubeconfig "
                                  f"(known: {', '.join(sorted(merged['contexts'])) or 'none'})")
        cluster = merged["clusters"].get(ctx.get("cluster"))
        if cluster is None or not cluster.get("server"):
            raise KubeconfigError(f"context {name!r}: cluster {ctx.get('cluster')!r} has no server")
        user = merged["users"].get(ctx.get("user")) or {}
        proxy = cls(server=str(cluster["server"]).rstrip("/"), context=name)
        base_dir = Path(cluster["_file"]).parent

        def path_of(value: str) -> str:
            p = Path(os.path.expanduser(value))
            return str(p if p.is_absolute() else base_dir / p)

        def data_file(b64: str, what: str) -> str:
            if proxy._tmpdir is None:
                proxy._tmpdir = tempfile.mkdtemp(prefix="opsconsole-kube-")  # mode 0700
            path = Path(proxy._tmpdir) / what
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64decode(b64))
            return str(path)

        if cluster.get("insecure-skip-tls-verify"):
            proxy.verify = False
        elif cluster.get("certificate-authority-data"):
            proxy.verify = data_file(cluster["certificate-authority-data"], "ca.crt")
        elif cluster.get("certificate-authority"):
            proxy.verify = path_of(cluster["certificate-authority"])
        cert = (data_file(user["client-certificate-data"], "client.crt") if user.get("client-certificate-data")
                else path_of(user["client-certificate"]) if user.get("client-certificate") else None)
        key = (data_file(user["client-key-data"], "client.key") if user.get("client-key-data")
               else path_of(user["client-key"]) if user.get("client-key") else None)
        if cert and key:
            proxy.cert = (cert, key)
        if user.get("token"):
            proxy.token = str(user["token"])
        elif user.get("tokenFile"):
            proxy.token = Path(path_of(user["tokenFile"])).read_text().strip()
        elif isinstance(user.get("exec"), dict):
            proxy.exec_spec = dict(user["exec"], _dir=str(base_dir))
        return proxy

    def service_url(self, namespace: str, service: str, scheme: str = "http") -> str:
        """The proxy's base for `service` ("name" or "name:port")."""
        name, _, port = service.partition(":")
        target = f"{scheme}:{name}:{port}" if scheme != "http" or port else name
        return f"{self.server}/api/v1/namespaces/{quote(namespace, safe='')}/services/{quote(target, safe=':')}/proxy"

    def httpx_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"verify": self.verify}
        if self.cert:
            import ssl

            ctx = ssl.create_default_context(cafile=self.verify if isinstance(self.verify, str) else None)
            if self.verify is False:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.load_cert_chain(*self.cert)
            kwargs["verify"] = ctx
        return kwargs

    async def auth_headers(self) -> dict[str, str]:
        if self.exec_spec is not None and (self.token is None or time.time() >= self._token_expires):
            import asyncio

            self.token, self._token_expires = await asyncio.to_thread(self._run_exec)
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _run_exec(self) -> tuple[str, float]:
        spec = self.exec_spec or {}
        command = str(spec.get("command") or "")
        exe = shutil.which(command) or command
        env = dict(os.environ)
        for item in spec.get("env") or []:
            if isinstance(item, dict) and item.get("name"):
                env[str(item["name"])] = str(item.get("value", ""))
        try:
            out = subprocess.run([exe, *map(str, spec.get("args") or [])], capture_output=True, text=True,
                                 timeout=30, env=env, cwd=spec.get("_dir"), check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise KubeconfigError(f"context {self.context!r}: credential plugin {command!r} failed: "
                                  f"{type(exc).__name__}") from exc
        try:
            status = json.loads(out).get("status") or {}
        except ValueError as exc:
            raise KubeconfigError(f"context {self.context!r}: credential plugin {command!r} printed no "
                                  "ExecCredential") from exc
        token = status.get("token")
        if not token:
            raise KubeconfigError(f"context {self.context!r}: credential plugin {command!r} gave no token")
        expires = time.time() + 300.0
        stamp = status.get("expirationTimestamp")
        if stamp:
            from datetime import datetime

            try:
                expires = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() - 30
            except ValueError:
                pass
        return str(token), expires

    def close(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
