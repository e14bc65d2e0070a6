"""Pods kept live by a watch, not by polling: list (paged) → watch from the list's
resourceVersion (with bookmarks) → on a dropped connection or the server's normal end of a
watch, watch again from the last resourceVersion seen → on 410 Gone (that version was
compacted away), list again. One thread per namespace (or one for all namespaces); the
event loop is told of changes with one call_soon_threadsafe per burst."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import TYPE_CHECKING, Any

from opsconsole.backends.kubernetes.client import api_error
from opsconsole.backends.kubernetes.podinfo import meta

if TYPE_CHECKING:
    from opsconsole.backends.kubernetes.client import KubeClient

PAGE = 500            # pods per list page
WATCH_SECONDS = 240   # the server ends a watch after this (we watch again from the last RV)
READ_SLACK = 60       # a watch silent this long past WATCH_SECONDS is a dead connection
MAX_BACKOFF = 30.0


class Gone(Exception):
    """410: the resourceVersion we watch from is too old (compacted): list again."""


class PodWatch:
    """The pods of some namespaces (None: all), as the API server last told us."""

    def __init__(self, client: "KubeClient", namespaces: list[str | None], label_selector: str | None = None,
                 field_selector: str | None = None, watch_seconds: int = WATCH_SECONDS) -> None:
        self.client = client
        self.namespaces = namespaces
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.watch_seconds = watch_seconds
        self._lock = threading.Lock()
        self._pods: dict[str, dict[str, dict[str, Any]]] = {}  # scope → "ns/name" → pod
        self.version = 0          # goes up on every change (a pane compares it)
        self.rv: dict[str, str] = {}  # scope → the last resourceVersion seen
        self.errors: dict[str, str] = {}  # scope → why its watch is down now
        self.stats = {"lists": 0, "relists": 0, "resumes": 0, "bookmarks": 0, "events": 0, "reconnects": 0}
        self.deleted: dict[str, float] = {}  # uid → when the watch saw it DELETED (the kill step reads it)
        self._synced = {self._scope(ns): threading.Event() for ns in namespaces}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._responses: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None  # made on the loop (see start)
        self._notify_pending = False
        self.last_change = 0.0     # monotonic time of the last event applied

    @staticmethod
    def _scope(ns: str | None) -> str:
        return ns or "*"

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the watch threads (from the event loop that will be told of changes)."""
        if self._threads:
            return
        try:
            self._loop = asyncio.get_running_loop()
            self._changed = asyncio.Event()
        except RuntimeError:
            self._loop = None
        for ns in self.namespaces:
            t = threading.Thread(target=self._run, args=(ns,), name=f"k8s-watch {self._scope(ns)}", daemon=True)
            self._threads.append(t)
            t.start()

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        for resp in list(self._responses.values()):
            _interrupt(resp)

    def join(self, timeout: float = 5.0) -> None:
        for t in self._threads:
            t.join(timeout)

    def drop_connections(self) -> None:
        """Cut the open watch connections (as a network blip would): each resumes from its
        last resourceVersion."""
        for resp in list(self._responses.values()):
            _interrupt(resp)

    # --- reading ------------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        return all(e.is_set() for e in self._synced.values())

    async def wait_synced(self, timeout: float) -> None:
        """Until every namespace was listed once; raises the watch's error if one could not
        be listed within `timeout`."""
        end = time.monotonic() + timeout
        while not self.synced:
            if time.monotonic() > end:
                raise RuntimeError(self.error or "the first list of pods is taking long")
            if self.errors and not self.synced:
                raise RuntimeError(self.error)
            await asyncio.sleep(0.02)

    @property
    def error(self) -> str | None:
        errs = dict(self.errors)
        if not errs:
            return None
        return "; ".join(f"{scope}: {e}" for scope, e in sorted(errs.items()))

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [p for scope in self._pods.values() for p in scope.values()]

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            for scope in self._pods.values():
                if key in scope:
                    return scope[key]
        return None

    async def wait_change(self, since: int, timeout: float | None = None) -> bool:
        """Until `version` differs from `since` (True) or `timeout` passed (False)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.version == since:
            ev = self._changed
            if ev is None:
                await asyncio.sleep(0.05)
            else:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                try:
                    await asyncio.wait_for(ev.wait(), timeout=left)
                except asyncio.TimeoutError:
                    return self.version != since
            if end is not None and time.monotonic() > end:
                break
        return self.version != since

    # --- the threads ---------------------------------------------------------------------------
    def _bump(self) -> None:
        """(Thread.) Something changed: bump the version, tell the loop once per burst."""
        self.version += 1
        self.last_change = time.monotonic()
        loop = self._loop
        if loop is None or self._notify_pending:
            return
        self._notify_pending = True
        try:
            loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop closed
            self._notify_pending = False

    def _wake(self) -> None:
        """(Loop.) Release the waiters, then arm a fresh event for the next change."""
        self._notify_pending = False
        ev, self._changed = self._changed, asyncio.Event()
        if ev is not None:
            ev.set()

    def _run(self, ns: str | None) -> None:
        scope = self._scope(ns)
        rv: str | None = None
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if rv is None:
                    rv = self._list(ns, scope)
                rv = self._watch(ns, scope, rv)
                backoff = 0.5
                self.stats["reconnects"] += 1  # the server ended the watch: go on from rv
            except Gone:
                self.stats["relists"] += 1
                rv = None
            except Exception as exc:  # noqa: BLE001 - a dropped connection, a refused list: retry
                if self._stop.is_set():
                    break
                err = api_error(exc)
                if err.status == 410:
                    self.stats["relists"] += 1
                    rv = None
                    continue
                self.errors[scope] = str(err)
                self._bump()
                if rv is not None:
                    self.stats["resumes"] += 1
                self._stop.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)

    def _list(self, ns: str | None, scope: str) -> str:
        pods: dict[str, dict[str, Any]] = {}
        cont: str | None = None
        rv = ""
        while True:
            page = self.client.list_pods(ns, label_selector=self.label_selector, field_selector=self.field_selector,
                                         limit=PAGE, _continue=cont)
            for pod in page.get("items") or []:
                m = meta(pod)
                pods[f"{m.get('namespace', ns or '')}/{m.get('name', '')}"] = _with_kind(pod)
            lm = page.get("metadata") or {}
            rv = rv or lm.get("resourceVersion") or ""
            cont = lm.get("continue") or None
            if not cont:
                break
        with self._lock:
            self._pods[scope] = pods
        self.rv[scope] = rv
        self.errors.pop(scope, None)
        self.stats["lists"] += 1
        self._synced[scope].set()
        self._bump()
        return rv

    def _watch(self, ns: str | None, scope: str, rv: str) -> str:
        resp = self.client.watch_pods(ns, read_timeout=self.watch_seconds + READ_SLACK, resource_version=rv,
                                      allow_watch_bookmarks=True, timeout_seconds=self.watch_seconds,
                                      label_selector=self.label_selector, field_selector=self.field_selector)
        self._responses[scope] = resp
        try:
            if self.errors.pop(scope, None) is not None:
                self._bump()
            for line in _lines(resp):
                if self._stop.is_set():
                    break
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone(obj.get("message", "gone"))
                    raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message')}")
                new_rv = meta(obj).get("resourceVersion")
                if kind == "BOOKMARK":
                    self.stats["bookmarks"] += 1
                    rv = new_rv or rv
                    self.rv[scope] = rv
                    continue
                m = meta(obj)
                key = f"{m.get('namespace', ns or '')}/{m.get('name', '')}"
                with self._lock:
                    bucket = self._pods.setdefault(scope, {})
                    if kind == "DELETED":
                        bucket.pop(key, None)
                        if m.get("uid"):
                            self.deleted[m["uid"]] = time.monotonic()
                    else:
                        bucket[key] = _with_kind(obj)
                rv = new_rv or rv
                self.rv[scope] = rv
                self.stats["events"] += 1
                self._bump()
        finally:
            self._responses.pop(scope, None)
            try:
                resp.release_conn()
            except Exception:  # noqa: BLE001
                pass
        return rv


def _with_kind(pod: dict[str, Any]) -> dict[str, Any]:
    """List items come without apiVersion/kind; describe shows them like kubectl."""
    if "kind" not in pod:
        return {"apiVersion": "v1", "kind": "Pod", **pod}
    return pod


def _lines(resp: Any):
    """The lines of a streamed response as they arrive."""
    buf = b""
    for chunk in resp.stream(amt=None, decode_content=False):
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[:nl], buf[nl + 1:]
            if line.strip():
                yield line
    if buf.strip():
        yield buf


def _interrupt(resp: Any) -> None:
    """Make a thread blocked reading `resp` return (urllib3 2.3+: shutdown)."""
    try:
        shutdown = getattr(resp, "shutdown", None)
        if shutdown is not None:
            shutdown()
        else:
            resp.close()
    except Exception:  # noqa: BLE001
        pass
