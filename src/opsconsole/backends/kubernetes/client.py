"""The official `kubernetes` client, opened lazily for one profile: the kubeconfig and context
as kubectl reads them (or the in-cluster service account), every call with a timeout, every
blocking call meant for a worker thread (callers use :meth:`KubeClient.call`).

Pods travel as the API server's JSON (plain dicts), never as the client's model objects:
2,000 pods deserialize in milliseconds that way, and what `describe` shows is exactly what
the server sent."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from opsconsole.backends.kubernetes.settings import KubeSettings

T = TypeVar("T")
POOL = 64  # connections kept per host: watches and log follows each hold one


class KubeError(RuntimeError):
    """An API answer other than success, as the operator should read it."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


def api_error(exc: BaseException) -> KubeError:
    """A readable error for an ApiException (its Status message), else the exception as is."""
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    message = ""
    if body:
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = str(body)[:300]
    reason = getattr(exc, "reason", None)
    if status is not None:
        return KubeError(status, f"{status} {reason or ''}: {message}".strip().rstrip(":") if message
                         else f"{status} {reason or ''}".strip())
    return KubeError(None, f"{type(exc).__name__}: {exc}")


class KubeClient:
    """One cluster (a kubeconfig context). Nothing is read or connected until first use."""

    def __init__(self, settings: "KubeSettings") -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._api: Any = None
        self._core: Any = None
        self.namespace = "default"  # the context's namespace (used when none is configured)
        self.context_name = settings.context or ""

    # --- opening -------------------------------------------------------------------------
    def _open(self) -> Any:
        """(Blocking.) The ApiClient for the configured context, made once."""
        with self._lock:
            if self._api is not None:
                return self._api
            from kubernetes import client, config

            cfg = client.Configuration()
            path = os.path.expanduser(self.settings.kubeconfig) if self.settings.kubeconfig else None
            try:
                config.load_kube_config(config_file=path, context=self.settings.context,
                                        client_configuration=cfg, persist_config=False)
                contexts, active = config.list_kube_config_contexts(config_file=path)
                chosen = next((c for c in contexts if c["name"] == self.settings.context), active) \
                    if self.settings.context else active
                self.context_name = chosen.get("name", "") if chosen else ""
                self.namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
            except config.ConfigException as exc:
                if path is None and self.settings.context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                    config.load_incluster_config(client_configuration=cfg)
                    self.context_name = "in-cluster"
                    try:
                        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
                            self.namespace = f.read().strip() or "default"
                    except OSError:
                        pass
                else:
                    where = path or os.environ.get("KUBECONFIG") or "~/.kube/config"
                    raise KubeError(None, f"kubeconfig {where}: {exc}") from None
            cfg.connection_pool_maxsize = POOL
            self._api = client.ApiClient(cfg)
            self._core = client.CoreV1Api(self._api)
            return self._api

    @property
    def core(self) -> Any:
        if self._core is None:
            self._open()
        return self._core

    @property
    def api(self) -> Any:
        return self._open()

    def timeout(self, read: float | None = None) -> tuple[float, float]:
        """(connect, read) seconds for one request."""
        t = self.settings.timeout
        return (min(t, 10.0), read if read is not None else t)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking client call in a worker thread; API errors become KubeError."""
        def work() -> T:
            try:
                return fn(*args, **kwargs)
            except KubeError:
                raise
            except Exception as exc:  # noqa: BLE001 - ApiException, urllib3 errors, config errors
                raise api_error(exc) from None
        return await asyncio.to_thread(work)

    # --- JSON answers (no model deserialization) -----------------------------------------
    def json(self, method: str, *args: Any, read_timeout: float | None = None, **kwargs: Any) -> Any:
        """(Blocking.) CoreV1Api.`method` with its answer as the server's JSON (plain dicts)."""
        resp = self.open_stream(method, *args, read_timeout=read_timeout, **kwargs)
        try:
            return json.loads(resp.data or b"null")
        finally:
            resp.release_conn()

    def open_stream(self, method: str, *args: Any, read_timeout: float | None = None, **kwargs: Any) -> Any:
        """(Blocking.) CoreV1Api.`method`, its urllib3 response not read yet (a watch, a log
        follow). Raises the client's ApiException on an error status."""
        return getattr(self.core, method)(*args, _preload_content=False, _request_timeout=self.timeout(read_timeout),
                                          **kwargs)

    def list_pods(self, namespace: str | None, **kwargs: Any) -> Any:
        """(Blocking.) One page of pods (all namespaces when `namespace` is None), as JSON."""
        if namespace:
            return self.json("list_namespaced_pod", namespace, **kwargs)
        return self.json("list_pod_for_all_namespaces", **kwargs)

    def watch_pods(self, namespace: str | None, read_timeout: float, **kwargs: Any) -> Any:
        """(Blocking.) A pod watch's open response (lines of JSON events)."""
        if namespace:
            return self.open_stream("list_namespaced_pod", namespace, watch=True, read_timeout=read_timeout, **kwargs)
        return self.open_stream("list_pod_for_all_namespaces", watch=True, read_timeout=read_timeout, **kwargs)

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                try:
                    self._api.close()
                except Exception:  # noqa: BLE001 - closing on quit
                    pass
                self._api, self._core = None, None
