"""The ResourceManager (and NodeManager) REST APIs over httpx, async, every call under a timeout.

* RM: ``/ws/v1/cluster/apps`` (listing with ``states``/``limit``/``deSelects``), ``apps/{id}``,
  ``apps/{id}/appattempts``, ``apps/{id}/appattempts/{attempt}/containers`` (live containers
  only: a finished attempt answers ``{}``), ``apps/{id}/state`` (GET, and PUT
  ``{"state": "KILLED"}``: unsecured clusters accept it from the static web user).
* NM: ``/ws/v1/node/containers/{cid}/logs`` (the container's log files) and
  ``/ws/v1/node/containerlogs/{cid}/{file}?size=N`` (text; see logs.py for its framing).

The RM is reached at ``url``, or through the Kubernetes API server's service proxy
(``via = "kubernetes"``; kube.py builds that base URL and the credentials).
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opsconsole.domain.states import State

if TYPE_CHECKING:
    import httpx

    from opsconsole.backends.yarn.kube import KubeProxy

ACTIVE_STATES = ("NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING")
FINAL_STATES = ("FINISHED", "FAILED", "KILLED")
LOG_FILES = ("stdout", "stderr", "syslog")  # what a container's log opener prefers, in order


class YarnError(RuntimeError):
    """An RM/NM answer that is not a success (status and the server's message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status


@dataclass(frozen=True)
class YarnSettings:
    """The checked `[profiles.P.yarn]` table, typed."""

    url: str | None = None                      # the RM (a port-forward, an ingress)
    via: str | None = None                      # "kubernetes": the API server's service proxy
    namespace: str | None = None
    service: str | None = None                  # "name" or "name:port" (port name or number)
    scheme: str = "http"                        # the service's scheme behind the proxy
    context: str | None = None                  # kubeconfig context (None: the current one)
    kubeconfig: str | None = None               # path (None: $KUBECONFIG or ~/.kube/config)
    nodemanager_url: str | None = None          # every NM request goes here (a port-forward)
    log_server_url: str | None = None           # the log server's web services (aggregated logs)
    timeout: float = 10.0
    poll_interval: float = 5.0
    verify_tls: bool = True
    queues: tuple[str, ...] = ()                # the profile's applications: queue, user, name
    users: tuple[str, ...] = ()                 # (glob patterns; empty: any)
    names: tuple[str, ...] = ()
    history_hours: float = 24.0                 # finished applications shown
    max_apps: int = 500                         # rows listed at most (the pane says "N of M")
    kill_cap: int = 1000                        # applications one kill step handles at most
    log_tail_bytes: int = 4 << 20               # a log opens with its last N bytes

    @classmethod
    def from_profile(cls, table: Mapping[str, Any]) -> "YarnSettings":
        def strs(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in table.get(key) or ())

        return cls(
            url=_strip(table.get("url")), via=table.get("via"), namespace=table.get("namespace"),
            service=table.get("service"), scheme=table.get("scheme", "http"), context=table.get("context"),
            kubeconfig=table.get("kubeconfig"), nodemanager_url=_strip(table.get("nodemanager_url")),
            log_server_url=_strip(table.get("log_server_url")), timeout=float(table.get("timeout", 10.0)),
            poll_interval=float(table.get("poll_interval", 5.0)), verify_tls=bool(table.get("verify_tls", True)),
            queues=strs("queues"), users=strs("users"), names=strs("names"),
            history_hours=float(table.get("history_hours", 24.0)), max_apps=int(table.get("max_apps", 500)),
            kill_cap=int(table.get("kill_cap", 1000)), log_tail_bytes=int(table.get("log_tail_bytes", 4 << 20)))

    @property
    def shown_url(self) -> str:
        """Where the RM is, for screens and step descriptions (no credentials ever)."""
        if self.via == "kubernetes":
            ctx = f" (context {self.context})" if self.context else ""
            return f"kubernetes service {self.namespace}/{self.service}{ctx}"
        return self.url or "?"

    @property
    def scope(self) -> str:
        """The filter as an operator reads it ("queue batch, user alice")."""
        parts = [f"{what} {', '.join(vals)}" for what, vals in
                 (("queue", self.queues), ("user", self.users), ("name", self.names)) if vals]
        return "; ".join(parts) or "every application"

    def matches(self, app: "YarnApp") -> bool:
        """Is `app` this profile's? Queues match the full ("root.batch") or leaf ("batch") name."""
        if self.queues and not any(_glob(app.queue, q) or _glob(app.queue.rsplit(".", 1)[-1], q)
                                   for q in self.queues):
            return False
        if self.users and not any(_glob(app.user, u) for u in self.users):
            return False
        return not self.names or any(_glob(app.name, n) for n in self.names)


def _strip(url: Any) -> str | None:
    return str(url).rstrip("/") if url else None


def _glob(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _ms(value: Any) -> datetime | None:
    """RM epoch milliseconds (0 means "not yet") as an aware datetime."""
    try:
        ms = int(value or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms > 0 else None


def unified_state(state: str, final_status: str = "") -> State:
    """YARN's state and final status on the unified states (a FINISHED app may have FAILED)."""
    state, final_status = (state or "").upper(), (final_status or "").upper()
    if state in ("NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "SCHEDULED", "ALLOCATED", "ACQUIRED"):
        return State.QUEUED
    if state == "RUNNING":
        return State.RUNNING
    if state == "KILLED" or final_status == "KILLED":
        return State.STOPPED
    if state == "FAILED" or final_status == "FAILED":
        return State.FAILED
    if state in ("FINISHED", "COMPLETE", "COMPLETED"):
        return State.SUCCESS
    return State.UNKNOWN


@dataclass(frozen=True)
class YarnApp:
    id: str
    name: str
    user: str
    queue: str
    state: str            # YARN's own (RUNNING, ACCEPTED, FINISHED, KILLED...)
    final_status: str     # UNDEFINED, SUCCEEDED, FAILED, KILLED
    progress: float
    tracking_url: str
    started: datetime | None
    finished: datetime | None
    elapsed_ms: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "YarnApp":
        return cls(id=str(d.get("id", "")), name=str(d.get("name", "")), user=str(d.get("user", "")),
                   queue=str(d.get("queue", "")), state=str(d.get("state", "")),
                   final_status=str(d.get("finalStatus", "")), progress=float(d.get("progress") or 0.0),
                   tracking_url=str(d.get("trackingUrl") or ""), started=_ms(d.get("startedTime")),
                   finished=_ms(d.get("finishedTime")), elapsed_ms=int(d.get("elapsedTime") or 0), raw=dict(d))

    @property
    def unified(self) -> State:
        return unified_state(self.state, self.final_status)

    @property
    def active(self) -> bool:
        return self.state.upper() in ACTIVE_STATES


@dataclass(frozen=True)
class YarnAttempt:
    id: str                 # appattempt_..._000001
    number: int
    state: str
    am_container: str
    node_http: str          # "host:port" of the AM's NodeManager web app
    started: datetime | None
    finished: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, app_id: str, d: Mapping[str, Any]) -> "YarnAttempt":
        number = int(d.get("id") or 0)
        attempt_id = str(d.get("appAttemptId") or f"appattempt_{app_id.split('_', 1)[-1]}_{number:06d}")
        return cls(id=attempt_id, number=number, state=str(d.get("appAttemptState") or ""),
                   am_container=str(d.get("containerId") or ""), node_http=str(d.get("nodeHttpAddress") or ""),
                   started=_ms(d.get("startTime")), finished=_ms(d.get("finishedTime")), raw=dict(d))

    @property
    def active(self) -> bool:
        return self.state.upper() not in ("FINISHED", "FAILED", "KILLED")

    @property
    def winding_down(self) -> bool:
        """The AM has unregistered (or the attempt ended): the RM already reports the application
        FINISHED while the attempt is FINISHING and lists its AM container alone."""
        return not self.active or self.state.upper() in ("FINAL_SAVING", "FINISHING")


@dataclass(frozen=True)
class YarnContainer:
    id: str
    state: str              # RUNNING, COMPLETE... ("" when only the NM's files are known)
    node_http: str
    memory_mb: int
    vcores: int
    exit_status: int | None
    started: datetime | None
    finished: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "YarnContainer":
        return cls(id=str(d.get("containerId") or d.get("id") or ""), state=str(d.get("containerState") or ""),
                   node_http=str(d.get("nodeHttpAddress") or ""), memory_mb=int(d.get("allocatedMB") or 0),
                   vcores=int(d.get("allocatedVCores") or 0),
                   exit_status=d.get("containerExitStatus") if d.get("finishedTime") else None,
                   started=_ms(d.get("startedTime")), finished=_ms(d.get("finishedTime")), raw=dict(d))

    @property
    def sequence(self) -> int:
        """The container's number in its attempt: 1 is the ApplicationMaster (Spark's driver in
        cluster mode)."""
        try:
            return int(self.id.rsplit("_", 1)[-1])
        except ValueError:
            return 0

    @property
    def driver(self) -> bool:
        return self.sequence == 1


def container_seq(container_id: str, seq: int) -> str:
    """The id of container number `seq` of the same attempt as `container_id`."""
    head, _, last = container_id.rpartition("_")
    return f"{head}_{seq:0{max(6, len(last))}d}"


@dataclass(frozen=True)
class LogFile:
    name: str
    size: int | None
    modified: str


class YarnClient:
    """One RM (and the NMs it names). Connects on first use; ``aclose`` closes the connections
    (the client stays usable and reconnects)."""

    def __init__(self, settings: YarnSettings) -> None:
        self.settings = settings
        self._http: "httpx.AsyncClient | None" = None
        self._kube: "KubeProxy | None" = None
        self._base: str | None = None
        self._lock = asyncio.Lock()

    # --- plumbing ------------------------------------------------------------------------------
    async def _client(self) -> "httpx.AsyncClient":
        if self._http is None:
            async with self._lock:
                if self._http is None:
                    import httpx

                    s = self.settings
                    kwargs: dict[str, Any] = {}
                    if s.via == "kubernetes":
                        from opsconsole.backends.yarn.kube import KubeProxy

                        self._kube = await asyncio.to_thread(KubeProxy.load, s)
                        self._base = self._kube.service_url(s.namespace or "", s.service or "", s.scheme)
                        kwargs = self._kube.httpx_kwargs()
                    else:
                        self._base = s.url
                        kwargs = {"verify": s.verify_tls}
                    self._http = httpx.AsyncClient(timeout=httpx.Timeout(s.timeout), follow_redirects=True, **kwargs)
        assert self._http is not None
        return self._http

    async def _rm_base(self) -> str:
        await self._client()
        assert self._base is not None
        return self._base

    async def _request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                       json_body: Any = None, accept: str = "application/json",
                       timeout: float | None = None) -> "httpx.Response":
        client = await self._client()
        headers = {"Accept": accept}
        if self._kube is not None and url.startswith(self._kube.server):
            headers.update(await self._kube.auth_headers())
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            resp = await client.request(method, url, **kwargs)
        except Exception as exc:
            if "httpx" in type(exc).__module__:  # connection refused, timeouts: one short line
                raise YarnError(0, f"{self._where(url)} unreachable ({type(exc).__name__})") from exc
            raise
        if resp.status_code >= 400:
            raise YarnError(resp.status_code, f"{method} {self._shown(url)}: {_message(resp)}")
        return resp

    def _where(self, url: str) -> str:
        """The server of `url` as the pane's stale marker names it (the RM, or an NM's host)."""
        if self._kube is not None and self._base and url.startswith(self._base):
            return self.settings.shown_url
        from urllib.parse import urlsplit

        return urlsplit(url).netloc or url

    def _shown(self, url: str) -> str:
        if self._kube is not None and self._base and url.startswith(self._base):
            return f"{self.settings.shown_url}{url[len(self._base):]}"
        return url.split("?", 1)[0]

    async def rm_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        resp = await self._request("GET", f"{await self._rm_base()}/ws/v1/cluster{path}", params=params)
        try:
            return resp.json()
        except ValueError as exc:
            raise YarnError(resp.status_code, f"{path}: not JSON ({resp.text[:80]!r})") from exc

    # --- the RM --------------------------------------------------------------------------------
    async def info(self) -> dict[str, Any]:
        return (await self.rm_json("/info")).get("clusterInfo") or {}

    async def list_apps(self, *, states: Sequence[str] = (), limit: int | None = None,
                        finished_since: datetime | None = None) -> list[YarnApp]:
        """Applications in `states` (all when empty), at most `limit` (the RM's own cap), the
        big per-partition resource blocks left out. One user in the settings filters at the RM."""
        params: dict[str, Any] = {"deSelects": "resourceInfo"}
        if states:
            params["states"] = ",".join(states)
        if limit:
            params["limit"] = str(limit)
        if finished_since is not None:
            params["finishedTimeBegin"] = str(int(finished_since.timestamp() * 1000))
        users = self.settings.users
        if len(users) == 1 and not any(c in users[0] for c in "*?["):
            params["user"] = users[0]
        body = await self.rm_json("/apps", params)
        raw = ((body or {}).get("apps") or {}).get("app") or []
        return [YarnApp.from_json(a) for a in raw]

    async def get_app(self, app_id: str) -> YarnApp:
        return YarnApp.from_json((await self.rm_json(f"/apps/{app_id}"))["app"])

    async def app_state(self, app_id: str) -> str:
        return str((await self.rm_json(f"/apps/{app_id}/state")).get("state") or "")

    async def attempts(self, app_id: str) -> list[YarnAttempt]:
        body = await self.rm_json(f"/apps/{app_id}/appattempts")
        raw = ((body or {}).get("appAttempts") or {}).get("appAttempt") or []
        return [YarnAttempt.from_json(app_id, a) for a in raw]

    async def containers(self, app_id: str, attempt_id: str) -> list[YarnContainer]:
        """The attempt's live containers as the RM knows them (none once the attempt ended)."""
        body = await self.rm_json(f"/apps/{app_id}/appattempts/{attempt_id}/containers")
        raw = (body or {}).get("container") or []
        return [YarnContainer.from_json(c) for c in (raw if isinstance(raw, list) else [raw])]

    async def kill(self, app_id: str) -> str:
        """PUT the state KILLED; returns the state the RM answers (KILLING, or the final one when
        it had already ended: a kill of an ended application is not an error)."""
        resp = await self._request("PUT", f"{await self._rm_base()}/ws/v1/cluster/apps/{app_id}/state",
                                   json_body={"state": "KILLED"})
        try:
            return str(resp.json().get("state") or "")
        except ValueError:
            return ""

    async def wait_ended(self, app_id: str, within: float, step: float = 0.5) -> str | None:
        """Poll the application's state until it ended (KILLED, FINISHED, FAILED): that state,
        or None after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            try:
                state = await self.app_state(app_id)
            except YarnError as exc:
                if exc.status == 0 and time.monotonic() < deadline:  # a dropped connection: again
                    state = ""
                else:
                    raise
            if state.upper() in FINAL_STATES:
                return state.upper()
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(min(step, max(0.0, deadline - time.monotonic())))

    # --- the NMs --------------------------------------------------------------------------------
    def nm_base(self, node_http: str) -> str:
        """The NM web app of a container: `nodemanager_url` when set (every NM behind one
        port-forward), else the node's own address as the RM reports it."""
        if self.settings.nodemanager_url:
            return self.settings.nodemanager_url
        if not node_http:
            raise YarnError(0, "the RM names no NodeManager for this container (set nodemanager_url)")
        if "://" in node_http:
            return node_http.rstrip("/")
        scheme = "https" if (self.settings.url or "").startswith("https") else "http"
        return f"{scheme}://{node_http}"

    async def log_files(self, node_http: str, container_id: str) -> list[LogFile]:
        resp = await self._request("GET", f"{self.nm_base(node_http)}/ws/v1/node/containers/{container_id}/logs")
        body = resp.json()
        infos = body.get("containerLogsInfo") if isinstance(body, dict) else body
        if isinstance(infos, dict):
            infos = [infos]
        out: list[LogFile] = []
        for info in infos or []:
            files = (info or {}).get("containerLogInfo") or []
            for f in files if isinstance(files, list) else [files]:
                try:
                    size: int | None = int(f.get("fileSize"))
                except (TypeError, ValueError):
                    size = None
                out.append(LogFile(str(f.get("fileName", "")), size, str(f.get("lastModifiedTime", ""))))
        return out

    async def container_log(self, node_http: str, container_id: str, file: str, size: int | None) -> bytes:
        """One log file of a container as the NM frames it (logs.py parses it). `size` < 0: its
        last -size bytes; >= 0: its first `size` bytes; None: all of it."""
        url = f"{self.nm_base(node_http)}/ws/v1/node/containerlogs/{container_id}/{file}"
        return await self._text(url, size)

    async def aggregated_log(self, container_id: str, file: str, size: int | None) -> bytes:
        """The same from the log server (`log_server_url`: a JobHistory or ApplicationHistory
        server's web services, which read the aggregated logs)."""
        if not self.settings.log_server_url:
            raise YarnError(0, "no log_server_url configured")
        return await self._text(f"{self.settings.log_server_url}/containers/{container_id}/logs/{file}", size)

    async def _text(self, url: str, size: int | None) -> bytes:
        params = {"size": str(size)} if size is not None else None
        resp = await self._request("GET", url, params=params, accept="text/plain")
        return resp.content

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._kube is not None:
            self._kube.close()
            self._kube = None


def _message(resp: "httpx.Response") -> str:
    """The RM's RemoteException message, or the start of the body."""
    try:
        body = resp.json()
        exc = body.get("RemoteException") if isinstance(body, dict) else None
        if isinstance(exc, dict) and exc.get("message"):
            return str(exc["message"])[:300]
    except ValueError:
        pass
    text = resp.text.strip().replace("\n", " ")
    return text[:300] or resp.reason_phrase

