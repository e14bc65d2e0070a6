"""Airflow REST backend: Airflow 2 (`/api/v1`, HTTP basic auth) and Airflow 3 (`/api/v2`, a JWT from
`/auth/token`), detected automatically, behind one async client.

Configured per profile (`[profiles.NAME.airflow]`, see docs/airflow.md): the URL, the *names* of
the environment variables holding the user and password (never the secrets), glob patterns of
the DAG ids and tags to show, TLS verification and a timeout. httpx is imported on first use
so that the app starts fast.

Traps handled here (see the API notes in docs/airflow.md): `dry_run` defaults to true for clear
and (v1) task patches; v1's clear needs `reset_dag_runs: true` to really re-run; v2's trigger
needs `logical_date: null`; v1 logs need an explicit Accept; v2 answers 401 without a token and
403 with an expired one (both re-authenticate once).

Secrets never leave this module in text: the settings' repr hides the credentials and any
userinfo in the URL, every URL shown goes through `redact_url`, and the Authorization header is
added by an httpx auth callable so that no frame of ours holds it (a crash dump prints locals).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import dataclasses
import fnmatch
import os
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from opsconsole.backends.airflow.models import (
    AirflowDag,
    AirflowRun,
    AirflowTaskInstance,
    LogChunk,
    render_structured,
    topological_order,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AirflowAuthError", "AirflowClient", "AirflowDag", "AirflowError", "AirflowRun", "AirflowSettings",
    "AirflowTaskInstance", "LogChunk", "redact_url",
]

PAGE = {2: 100, 3: 50}  # page sizes: v1 (Airflow 2) and v2 (Airflow 3) defaults
PAGE_CONCURRENCY = 4  # pages of a big listing fetched at once after the first
LOG_READ_TIMEOUT = 900.0  # seconds a log read may wait for bytes: the server renders the whole log first
LIST_CAP = 2000  # objects of one listing at most (DAGs, runs, task instances): "showing N of M"
LIST_WITHIN = 10.0  # seconds a listing may take after its first page


class Listing(list[Any]):
    """A bounded listing: the objects fetched, and how many the server has."""

    def __init__(self, items: Any = (), *, total: int | None = None, timed_out: bool = False) -> None:
        super().__init__(items)
        self.total = len(self) if total is None else max(total, len(self))
        self.timed_out = timed_out

    @property
    def complete(self) -> bool:
        return len(self) >= self.total and not self.timed_out

    @property
    def note(self) -> str:
        """"" when complete, else "showing N of M" (and why)."""
        if self.complete:
            return ""
        why = " (listing deadline)" if self.timed_out else ""
        return f"showing {len(self):,} of {self.total:,}{why}"


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", re.DOTALL)


def redact_url(url: str) -> str:
    """`url` safe to show: any userinfo (`user:pass@`) becomes `***@`. A URL too mangled to parse
    (an unencoded `/` or `#` in the password) is redacted up to its last `@`: better to hide
    too much than a password."""
    text = str(url)
    match = _SCHEME.match(text)
    if match is None or "@" not in match.group(2):
        return text
    try:
        parts = urlsplit(text)
        if "@" in parts.netloc and "@" not in "".join(parts[2:]):
            return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))
    except ValueError:
        pass
    return match.group(1) + "***@" + match.group(2).rpartition("@")[2]


_BIG_BODY = 64 * 1024  # bytes of JSON decoded in a worker thread rather than on the loop


class AirflowError(Exception):
    """The Airflow API refused or failed a request (status and the server's message)."""

    def __init__(self, status: int, detail: str, method: str = "", path: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status} {method} {path}: {detail}".replace("  ", " ").strip())


class AirflowAuthError(AirflowError):
    """Credentials missing or refused (401/403 even after re-authenticating)."""


@dataclass(frozen=True)
class AirflowSettings:
    """A profile's `[airflow]` table, with the credentials read from the named env vars.
    Its repr shows neither the credentials nor any userinfo of the URL."""

    url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    dags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    verify_tls: bool = True
    timeout: float = 30.0
    poll_interval: float = 5.0
    username_env: str | None = None
    password_env: str | None = None
    remote_logs: Any = None  # remote_logs.RemoteLogs: finished task logs read from S3/CloudWatch

    @classmethod
    def from_profile(cls, table: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> "AirflowSettings":
        user_env, pass_env = table.get("username_env"), table.get("password_env")

        def read(name: str | None) -> str | None:  # no local holds os.environ: a crash dump would print it
            return (os.environ if environ is None else environ).get(name) if name else None

        return cls(url=str(table["url"]).rstrip("/"), username=read(user_env),
                   password=read(pass_env), dags=tuple(table.get("dags") or ()),
                   tags=tuple(table.get("tags") or ()), verify_tls=bool(table.get("verify_tls", True)),
                   timeout=float(table.get("timeout", 30.0)), poll_interval=float(table.get("poll_interval", 5.0)),
                   username_env=user_env, password_env=pass_env)

    def __repr__(self) -> str:  # dataclass keeps a __repr__ defined here: the URL is redacted too
        shown = ", ".join(f"url={self.shown_url!r}" if f.name == "url" else f"{f.name}={getattr(self, f.name)!r}"
                          for f in dataclasses.fields(self) if f.repr)
        return f"{type(self).__name__}({shown})"

    @property
    def shown_url(self) -> str:
        """The URL as it may be printed (userinfo redacted)."""
        return redact_url(self.url)

    def wants(self, dag_id: str) -> bool:
        """True if `dag_id` matches one of the profile's glob patterns (no patterns: every DAG)."""
        return not self.dags or any(fnmatch.fnmatchcase(dag_id, pattern) for pattern in self.dags)


def _q(segment: str) -> str:
    return quote(str(segment), safe="")


def _detail(response: "httpx.Response") -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("title") or body
        if isinstance(detail, list):  # pydantic 422: [{loc, msg}]
            detail = "; ".join(f"{'.'.join(map(str, d.get('loc', ())))}: {d.get('msg')}" for d in detail)
        return str(detail)[:500]
    return str(body)[:300]


class AirflowClient:
    """Async client for one Airflow. Every call returns domain objects or raises AirflowError
    (or an httpx transport error: the caller's poller shows it and backs off)."""

    def __init__(self, settings: AirflowSettings, *, transport: Any = None) -> None:
        self.settings = settings
        self._transport = transport
        self._client: "httpx.AsyncClient | None" = None
        self._major: int | None = None
        self._token: str | None = None
        self._auth_lock: asyncio.Lock | None = None

    # --- plumbing ------------------------------------------------------------------------------
    def _http(self) -> "httpx.AsyncClient":
        if self._client is None:
            import httpx  # first use only: keeps `import opsconsole` and app start-up fast

            kwargs: dict[str, Any] = {"verify": self.settings.verify_tls, "timeout": self.settings.timeout,
                                      "base_url": self.settings.url, "follow_redirects": True,
                                      "limits": httpx.Limits(max_connections=16, max_keepalive_connections=8)}
            if self._transport is not None:
                kwargs["transport"] = self._transport
            self._client = httpx.AsyncClient(**kwargs)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def major(self) -> int:
        """2 or 3, detected once from the public health endpoints."""
        if self._major is None:
            http = self._http()
            r3 = await http.get("/api/v2/monitor/health")
            if r3.status_code == 200:
                self._major = 3
            else:
                r2 = await http.get("/api/v1/health")
                if r2.status_code != 200:
                    raise AirflowError(r2.status_code, f"no Airflow REST API at {self.settings.shown_url} "
                                       f"(/api/v2/monitor/health → {r3.status_code}, /api/v1/health → {r2.status_code})")
                self._major = 2
        return self._major

    async def _prefix(self) -> str:
        return "/api/v2" if await self.major() == 3 else "/api/v1"

    def _require_credentials(self) -> None:
        s = self.settings
        if not s.username or s.password is None:
            missing = [name for name, value in ((s.username_env, s.username), (s.password_env, s.password))
                       if name and value is None] or ["username_env/password_env (not configured)"]
            raise AirflowAuthError(401, f"Airflow credentials missing: set {', '.join(missing)}")

    def _login_body(self) -> dict[str, str]:
        self._require_credentials()
        return {"username": self.settings.username or "", "password": self.settings.password or ""}

    async def _login(self, stale: str | None) -> str:
        """A JWT from /auth/token (Airflow 3); one login even when many requests need it at once."""
        if self._auth_lock is None:
            self._auth_lock = asyncio.Lock()
        async with self._auth_lock:
            if self._token is not None and self._token != stale:
                return self._token  # someone else already renewed it
            # the body is built in a helper so that no frame here holds the password
            r = await self._http().post("/auth/token", json=self._login_body())
            if r.status_code >= 500:  # the server failed: not a verdict on the credentials
                raise AirflowError(r.status_code, f"login as {self.settings.username!r} failed: server error: "
                                   f"{_detail(r)}", "POST", "/auth/token")
            if r.status_code not in (200, 201):
                raise AirflowAuthError(r.status_code, f"login as {self.settings.username!r} refused: {_detail(r)}",
                                       "POST", "/auth/token")
            self._token = r.json()["access_token"]
            return self._token

    async def _auth(self) -> "Callable[[httpx.Request], httpx.Request]":
        """An httpx auth callable adding the Authorization header: basic (Airflow 2) or the
        bearer JWT (Airflow 3). The header lives only in the request, never in a local of the
        caller's frame (crash dumps print locals); an explicit auth also stops httpx from
        turning userinfo in the URL into credentials."""
        if await self.major() == 2:
            self._require_credentials()
            return _header_auth("Basic " + base64.b64encode(
                f"{self.settings.username}:{self.settings.password}".encode()).decode())
        if self._token is None:
            await self._login(None)
        return _header_auth(f"Bearer {self._token}")

    async def request(self, method: str, path: str, *, params: Any = None, json: Any = None,
                      headers: Mapping[str, str] | None = None, timeout: Any = None) -> "httpx.Response":
        """One API call (path relative to the API prefix), authenticated, re-authenticating once
        on 401/403; raises AirflowError for any other non-2xx."""
        url = await self._prefix() + path
        for attempt in (1, 2):
            hdrs = {"Accept": "application/json", **(headers or {})}
            kwargs: dict[str, Any] = {"params": params, "json": json, "headers": hdrs, "auth": await self._auth()}
            if timeout is not None:
                kwargs["timeout"] = timeout
            r = await self._http().request(method, url, **kwargs)
            if r.status_code in (401, 403):
                if attempt == 1 and self._major == 3:
                    await self._login(self._token)
                    continue
                raise AirflowAuthError(r.status_code, _detail(r), method, url)
            if r.status_code >= 400:
                raise AirflowError(r.status_code, _detail(r), method, url)
            return r
        raise AssertionError("unreachable")

    async def _get(self, path: str, **params: Any) -> Any:
        response = await self.request("GET", path, params={k: v for k, v in params.items() if v is not None})
        if len(response.content) > _BIG_BODY:  # decoding a big page would stall the UI's loop
            return await asyncio.to_thread(response.json)
        return response.json()

    async def _paged(self, path: str, key: str, params: dict[str, Any] | None = None,
                     limit: int | None = None, *, cap: int | None = LIST_CAP,
                     within: float | None = LIST_WITHIN) -> "Listing":
        """A listing, bounded: at most ``limit``/``cap`` objects and ``within`` seconds (the
        first page always; later pages fetched concurrently until the deadline). The result
        says how many the server has (``total``) and whether it is all of them: a server with
        10^7 DAGs costs a few pages, never a frozen UI or a kill past its deadline."""
        page = PAGE[await self.major()]
        params = dict(params or {})
        t_end = None if within is None else asyncio.get_running_loop().time() + within
        first = await asyncio.wait_for(self._get(path, **params, limit=page, offset=0), timeout=within)
        items = list(first.get(key) or [])
        total = _int(first.get("total_entries"), len(items))
        want = min(x for x in (total, limit, cap) if x is not None)
        if len(items) >= want or len(items) < page:
            return Listing(items[:want], total=max(total, len(items)))
        sem = asyncio.Semaphore(PAGE_CONCURRENCY)

        async def one(offset: int) -> list[dict[str, Any]]:
            async with sem:
                return list((await self._get(path, **params, limit=page, offset=offset)).get(key) or [])

        offsets = list(range(page, want, page))
        tasks = [asyncio.create_task(one(off)) for off in offsets]
        try:
            timeout = None if t_end is None else max(0.0, t_end - asyncio.get_running_loop().time())
            await asyncio.wait(tasks, timeout=timeout)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
        timed_out = False
        for task in tasks:  # in order, up to the first page missing: a listing has no holes
            if not task.done() or task.cancelled():
                timed_out = True
                break
            exc = task.exception()
            if exc is not None:
                raise exc
            items.extend(task.result())
        return Listing(items[:want], total=total, timed_out=timed_out)

    # --- DAGs ------------------------------------------------------------------------------------
    async def list_dags(self, *, cap: int | None = LIST_CAP, within: float | None = LIST_WITHIN) -> Listing:
        """The profile's DAGs: tags filtered by the server, id patterns here; sorted by id;
        bounded (a Listing: ``note`` says "showing N of M")."""
        params: dict[str, Any] = {"order_by": "dag_id"}
        if self.settings.tags:
            params["tags"] = list(self.settings.tags)
        if await self.major() == 2:
            params["only_active"] = True
        else:
            params["exclude_stale"] = True
        if len(self.settings.dags) == 1 and not any(c in self.settings.dags[0] for c in "?[]"):
            # one simple pattern: let the server filter (its pattern is SQL LIKE, `%` for `*`)
            params["dag_id_pattern"] = self.settings.dags[0].replace("*", "%")
        rows = await self._paged("/dags", "dags", params, cap=cap, within=within)
        dags = [AirflowDag.from_api(d) for d in rows if self.settings.wants(d["dag_id"])]
        return Listing(dags, total=rows.total - (len(rows) - len(dags)), timed_out=rows.timed_out)

    async def get_dag(self, dag_id: str) -> AirflowDag:
        """One DAG with its details (params included)."""
        return AirflowDag.from_api(await self._get(f"/dags/{_q(dag_id)}/details"))

    async def task_order(self, dag_id: str) -> list[str]:
        """The DAG's task ids in DAG order: upstream before downstream (topological)."""
        data = await self._get(f"/dags/{_q(dag_id)}/tasks")
        return topological_order([(t["task_id"], t.get("downstream_task_ids") or ())
                                  for t in data.get("tasks") or () if isinstance(t, dict) and "task_id" in t])

    async def set_paused(self, dag_id: str, paused: bool) -> AirflowDag:
        params = {"update_mask": "is_paused"} if await self.major() == 2 else None
        r = await self.request("PATCH", f"/dags/{_q(dag_id)}", params=params, json={"is_paused": paused})
        return AirflowDag.from_api(r.json())

    # --- runs ------------------------------------------------------------------------------------
    async def _run_order(self) -> str:
        return "-run_after" if await self.major() == 3 else "-execution_date"

    async def list_runs(self, dag_id: str, limit: int = 100, states: tuple[str, ...] = (), *,
                        within: float | None = LIST_WITHIN) -> Listing:
        """The newest `limit` runs of a DAG, newest first (optionally only in `states`)."""
        params: dict[str, Any] = {"order_by": await self._run_order()}
        if states:
            params["state"] = list(states)
        rows = await self._paged(f"/dags/{_q(dag_id)}/dagRuns", "dag_runs", params, limit=limit, within=within)
        return Listing([AirflowRun.from_api(d) for d in rows], total=rows.total, timed_out=rows.timed_out)

    async def last_runs(self, dag_ids: list[str]) -> dict[str, AirflowRun | None]:
        """The latest run of each DAG (one small request per DAG, a few at a time)."""
        sem = asyncio.Semaphore(8)
        order = await self._run_order()

        async def one(dag_id: str) -> AirflowRun | None:
            async with sem:
                body = await self._get(f"/dags/{_q(dag_id)}/dagRuns", limit=1, order_by=order)
            rows = body.get("dag_runs") or []
            return AirflowRun.from_api(rows[0]) if rows else None

        found = await asyncio.gather(*(one(d) for d in dag_ids))
        return dict(zip(dag_ids, found))

    async def get_run(self, dag_id: str, run_id: str) -> AirflowRun:
        return AirflowRun.from_api(await self._get(f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}"))

    async def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None,
                      note: str | None = None) -> AirflowRun:
        """A new manual run with `conf` (v2 wants `logical_date: null`, v1 must not get it)."""
        body: dict[str, Any] = {"conf": conf or {}}
        if await self.major() == 3:
            body["logical_date"] = None
        if run_id:
            body["dag_run_id"] = run_id
        if note:
            body["note"] = note
        r = await self.request("POST", f"/dags/{_q(dag_id)}/dagRuns", json=body)
        return AirflowRun.from_api(r.json())

    async def mark_run(self, dag_id: str, run_id: str, state: str = "failed") -> AirflowRun:
        """Set a run's state (`failed` stops its running tasks at the worker's next heartbeat)."""
        r = await self.request("PATCH", f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}", json={"state": state})
        return AirflowRun.from_api(r.json())

    # --- task instances ----------------------------------------------------------------------------
    def _ti_path(self, dag_id: str, run_id: str, task_id: str = "", map_index: int = -1) -> str:
        path = f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances"
        if task_id:
            path += f"/{_q(task_id)}"
            if map_index >= 0:
                path += f"/{map_index}"
        return path

    async def list_task_instances(self, dag_id: str, run_id: str, *, state: tuple[str, ...] = (),
                                  within: float | None = LIST_WITHIN) -> Listing:
        """The task instances of a run (all map indexes, latest try each), deduplicated;
        bounded (a Listing); optionally only those in ``state``."""
        params: dict[str, Any] = {"order_by": "id"} if await self.major() == 3 else {}
        if state:
            params["state"] = list(state)
        rows = await self._paged(self._ti_path(dag_id, run_id), "task_instances", params, within=within)
        tis = await asyncio.to_thread(_latest_tis, rows)
        return Listing(tis, total=rows.total - (len(rows) - len(tis)), timed_out=rows.timed_out)

    async def get_task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> AirflowTaskInstance:
        return AirflowTaskInstance.from_api(await self._get(self._ti_path(dag_id, run_id, task_id, map_index)))

    async def task_tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[AirflowTaskInstance]:
        """Every try of one task instance, oldest first (the last one is the current try)."""
        body = await self._get(self._ti_path(dag_id, run_id, task_id, map_index) + "/tries")
        rows = body.get("task_instances") or []
        tries = [AirflowTaskInstance.from_api(r, latest=False) for r in rows]
        tries.sort(key=lambda t: t.try_number)
        if tries:
            last = tries[-1]
            tries[-1] = dataclasses.replace(last, latest=True)
        return tries

    async def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str,
                             map_index: int = -1) -> list[str]:
        """Set one task instance's state (success/failed/skipped); returns the task ids changed."""
        path = self._ti_path(dag_id, run_id, task_id, map_index)
        body: dict[str, Any] = {"new_state": state}
        if await self.major() == 2:
            body["dry_run"] = False  # v1 defaults to a dry run
        r = await self.request("PATCH", path, json=body)
        data = r.json()
        rows = (data.get("task_instances") or []) if isinstance(data, dict) and "task_instances" in data else [data]
        changed = [row["task_id"] for row in rows if isinstance(row, dict) and "task_id" in row]
        if not changed and data == {}:  # v1 answers `{}` for a mapped index: check it took
            ti = await self.get_task_instance(dag_id, run_id, task_id, map_index)
            changed = [task_id] if ti.raw_state == state else []
        return changed

    async def clear(self, dag_id: str, run_id: str, task_ids: list[str | tuple[str, int]], *,
                    include_downstream: bool = True, only_failed: bool = False) -> list[str]:
        """Clear task instances so that they really run again (not a dry run; the run is reset
        to queued in v1 too). A `(task_id, map_index)` pair clears one mapped index."""
        ids = [list(t) if isinstance(t, tuple) else t for t in task_ids]
        body: dict[str, Any] = {"dry_run": False, "dag_run_id": run_id, "task_ids": ids, "only_failed": only_failed,
                                "include_downstream": include_downstream, "include_upstream": False,
                                "reset_dag_runs": True}
        r = await self.request("POST", f"/dags/{_q(dag_id)}/clearTaskInstances", json=body)
        rows = r.json().get("task_instances") or []
        out = []
        for row in rows:  # v1 rows carry no map_index
            mi = row.get("map_index")
            out.append(f"{row['task_id']}[{mi}]" if mi is not None and mi >= 0 else row["task_id"])
        return out

    # --- logs ----------------------------------------------------------------------------------------
    def log_path(self, ti: AirflowTaskInstance, try_number: int | None = None) -> str:
        return (self._ti_path(ti.dag_id, ti.run_id, ti.task_id) + f"/logs/{try_number or ti.try_number}")

    @asynccontextmanager
    async def stream_log(self, ti: AirflowTaskInstance, try_number: int | None = None
                         ) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        """The whole log of a try as a byte stream, with no read timeout (the server may think
        for minutes before the first byte): `("ndjson", chunks)` from Airflow 3 (one structured
        message per line), `("text", chunks)` from Airflow 2 (plain text)."""
        major = await self.major()
        accept = "application/x-ndjson" if major == 3 else "text/plain"
        params: dict[str, str | int] = {"map_index": ti.map_index, "full_content": "true"}
        async with self._get_stream(self.log_path(ti, try_number), params, accept, None) as response:
            yield ("ndjson" if major == 3 else "text"), response.aiter_bytes()

    @asynccontextmanager
    async def _get_stream(self, path: str, params: dict[str, Any], accept: str,
                          read_timeout: float | None) -> AsyncIterator["httpx.Response"]:
        """A GET whose body is read as it comes (authenticated, re-authenticating once on 401/403);
        `read_timeout` bounds each wait for the body's bytes (None: no bound)."""
        import httpx

        url = await self._prefix() + path
        timeout = httpx.Timeout(self.settings.timeout, read=read_timeout)
        for attempt in (1, 2):
            request = self._http().build_request("GET", url, params=params, headers={"Accept": accept}, timeout=timeout)
            response = await self._http().send(request, stream=True, auth=await self._auth())
            try:
                if response.status_code in (401, 403) and attempt == 1 and self._major == 3:
                    await self._login(self._token)
                    continue
                if response.status_code >= 400:
                    await response.aread()
                    cls = AirflowAuthError if response.status_code in (401, 403) else AirflowError
                    raise cls(response.status_code, _detail(response), "GET", url)
                yield response
                return
            finally:
                await response.aclose()

    async def read_log(self, ti: AirflowTaskInstance, try_number: int | None = None,
                       token: str | None = None, progress: Callable[[int], None] | None = None) -> LogChunk:
        """The next part of a (running) task's log after `token` (None: from the start), as text.

        Each call makes the server re-read (and render) the whole log before its first byte, so
        callers space their polls, and the wait for the body is bounded by LOG_READ_TIMEOUT, not
        the API timeout: a 100 MB log takes the server a minute. `progress(bytes)` is told how
        much of the body has arrived (a big first read is tens of MB)."""
        params: dict[str, Any] = {"map_index": ti.map_index}
        if token:
            params["token"] = token
        body = bytearray()
        async with self._get_stream(self.log_path(ti, try_number), params, "application/json",
                                    max(self.settings.timeout, LOG_READ_TIMEOUT)) as response:
            async for data in response.aiter_bytes():
                body += data
                if progress is not None:
                    progress(len(body))
        return await asyncio.to_thread(_log_chunk, bytes(body))


def _log_chunk(body: bytes) -> LogChunk:
    """A JSON log response as text (in a thread: the first read of a big log is tens of MB)."""
    import json

    parsed = json.loads(body)
    content = parsed.get("content")
    next_token = parsed.get("continuation_token")
    if isinstance(content, list):  # Airflow 3: structured messages
        lines = [render_structured(m) if isinstance(m, dict) else str(m) for m in content]
        text = "".join(line + "\n" for line in lines)
        return LogChunk(text, next_token, len(lines))
    text = _v1_log_text(content or "")
    return LogChunk(text, next_token, text.count("\n"))


def _header_auth(value: str) -> "Callable[[httpx.Request], httpx.Request]":
    """An httpx auth callable setting the Authorization header (a closure: its repr shows nothing)."""

    def apply(request: "httpx.Request") -> "httpx.Request":
        request.headers["Authorization"] = value
        return request

    return apply


def _latest_tis(rows: list[dict[str, Any]]) -> list[AirflowTaskInstance]:
    """Normalised, one per (task, map index), sorted (thousands of rows: run in a thread)."""
    seen: dict[tuple[str, int], AirflowTaskInstance] = {}
    for row in rows:
        ti = AirflowTaskInstance.from_api(row)
        seen[(ti.task_id, ti.map_index)] = ti
    return sorted(seen.values(), key=lambda t: (t.task_id, t.map_index))


def _v1_log_text(content: str) -> str:
    """Airflow 2's JSON log `content` is the repr of `[(hostname, text)]`, not JSON."""
    if content.startswith("[("):
        try:
            pairs = ast.literal_eval(content)
            return "".join(text for _host, text in pairs)
        except (ValueError, SyntaxError):
            pass
    return content
