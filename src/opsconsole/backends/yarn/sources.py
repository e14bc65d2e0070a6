"""YARN in the Status screen: applications → attempts → containers → log files, as pane
sources, and the kill action on an application (an ActionCall for the runner: nothing here
decides about read-only, HALTED or confirmation).

`l` opens a log at every level: on an application, its driver's (container 1 of the newest
attempt); on an attempt, its AM container's; on a container, its stdout (or syslog, stderr,
AppMaster.stdout: the first it has); on a file row, that file."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import DESCRIBE, DRILL, LOG, PaneSource
from opsconsole.backends.yarn import KILL
from opsconsole.backends.yarn.client import (ACTIVE_STATES, FINAL_STATES, LOG_FILES, LogFile, YarnApp, YarnAttempt,
                                             YarnContainer, YarnError, container_seq, unified_state)
from opsconsole.domain.actions import ActionCall, ActionUnavailable
from opsconsole.domain.items import Column, Item, human_bytes
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.yarn import YarnSession
    from opsconsole.logs.ref import LogRef

PROBE_CONTAINERS = 64  # a finished attempt's containers are looked up on the AM's NM, by number
PROBE_MISSES = 3


def _fmt(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else ""


class _YarnSource(PaneSource):
    scope = "yarn"
    capabilities = frozenset({DRILL, DESCRIBE, LOG})
    actions = (KILL,)
    app_id: str | None = None

    def __init__(self, session: "YarnSession") -> None:
        self.session = session
        self.interval = session.settings.poll_interval

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id != KILL.id:
            return await super().prepare(action_id, item)
        app_id = self._app_of(item)
        if app_id is None:
            raise ActionUnavailable("kill: select an application")
        client = self.session.client
        app = await client.get_app(app_id)
        if not app.active:
            raise ActionUnavailable(f"kill: {app_id} has already ended ({app.state} {app.final_status})")
        confirm_within = max(5.0, self.session.env.kill_deadline)

        async def run(_value: Any) -> str:
            answer = await client.kill(app_id)
            final = await client.wait_ended(app_id, confirm_within)
            if final is None:
                raise RuntimeError(f"{app_id}: kill sent ({answer or 'no answer'}), still not ended after "
                                   f"{confirm_within:g}s")
            return f"{app_id} ({app.name}) {final}"

        return ActionCall(KILL, f"Kill {app_id}?",
                          f"{app.name} · user {app.user} · queue {app.queue} · {app.state} {app.progress:.0f}%\n"
                          f"at {self.session.settings.shown_url}: its containers are stopped.",
                          [app_id], run, confirm_label="Kill")

    def _app_of(self, item: Item | None) -> str | None:
        return self.app_id

    async def _open(self, container_id: str, node_http: str, file: str | None = None) -> "LogRef":
        from opsconsole.logs.ref import StreamLog

        session = self.session
        if file is None:
            file = await self._main_file(container_id, node_http)
        job = await session.spool.open(container_id, file, node_http)
        return StreamLog(job, f"{container_id} {file}")

    async def _main_file(self, container_id: str, node_http: str) -> str:
        """stdout, syslog, stderr, or the AM's AppMaster.stdout: the first the container has
        (stdout when its files cannot be listed)."""
        try:
            names = [f.name for f in await self.session.client.log_files(node_http, container_id)]
        except YarnError:
            return "stdout"
        for want in (*LOG_FILES, "AppMaster.stdout", "AppMaster.stderr"):
            if want in names:
                return want
        return names[0] if names else "stdout"


class YarnAppsSource(_YarnSource):
    """The profile's applications: the active ones and those finished in the last
    `history_hours`, newest first, at most `max_apps` (the title says "N of M" beyond)."""

    key = "yarn"
    title = "YARN applications"
    columns = (
        Column("id", "APPLICATION", 30),
        Column("name", "NAME", 18),
        Column("user", "USER", 10, optional=True),
        Column("queue", "QUEUE", 12, optional=True),
        Column("state", "STATE", 8),
        Column("final", "FINAL", 9, optional=True),
        Column("progress", "PROG", 4),
        Column("duration", "ELAPSED", 7),
        Column("tracking", "TRACKING URL", None, optional=True),
    )

    def __init__(self, session: "YarnSession") -> None:
        super().__init__(session)
        self.apps: dict[str, YarnApp] = {}

    async def fetch(self) -> list[Item]:
        s = self.session.settings
        client = self.session.client
        since = datetime.now(timezone.utc) - timedelta(hours=s.history_hours)
        active, finished = await asyncio.gather(
            client.list_apps(states=ACTIVE_STATES, limit=s.max_apps),
            client.list_apps(states=FINAL_STATES, limit=s.max_apps, finished_since=since) if s.history_hours
            else _nothing())
        # one row per application: the two listings race an application that ends meanwhile
        # (listed active and finished): the later state wins
        by_id = {a.id: a for a in [*active, *finished] if s.matches(a)}
        apps = list(by_id.values())
        apps.sort(key=lambda a: (a.active, a.started or datetime.min.replace(tzinfo=timezone.utc)), reverse=True)
        total = len(apps)
        apps = apps[:s.max_apps]
        capped = len(active) >= s.max_apps or len(finished) >= s.max_apps
        self.warning = (f"showing {len(apps)} of {total}{'+' if capped else ''} (max_apps)"
                        if capped or total > len(apps) else None)
        self.apps = {a.id: a for a in apps}
        return [app_item(a) for a in apps]

    def _app_of(self, item: Item | None) -> str | None:
        return item.key if item is not None else None

    def drill(self, item: Item) -> "YarnAttemptsSource":
        app = self.apps.get(item.key)
        return YarnAttemptsSource(self.session, item.key, app.name if app else "")

    async def describe(self, item: Item) -> dict[str, Any]:
        return (await self.session.client.get_app(item.key)).raw

    async def open_log(self, item: Item) -> "LogRef":
        """The driver's log: container 1 of the newest attempt."""
        attempts = await self.session.client.attempts(item.key)
        if not attempts or not attempts[-1].am_container:
            raise LookupError(f"{item.key}: no attempt has started yet (no container, no log)")
        newest = max(attempts, key=lambda a: a.number)
        return await self._open(newest.am_container, newest.node_http)


async def _nothing() -> list[YarnApp]:
    return []


def app_item(app: YarnApp) -> Item:
    return Item(
        key=app.id, state=app.unified,
        cells={"id": app.id, "name": app.name, "user": app.user, "queue": app.queue, "state": app.state.lower(),
               "final": "" if app.final_status.upper() == "UNDEFINED" else app.final_status.lower(),
               "progress": f"{app.progress:.0f}%", "tracking": app.tracking_url},
        created_at=app.started, started_at=app.started, ended_at=app.finished, detail=app.raw)


class YarnAttemptsSource(_YarnSource):
    """The attempts of one application (a retried AM is a new attempt)."""

    key = "yarn.attempts"
    columns = (
        Column("attempt", "ATTEMPT", 36),
        Column("state", "STATE", 10),
        Column("container", "AM CONTAINER (driver)", 42),
        Column("node", "NODE", 22, optional=True),
        Column("started", "STARTED (UTC)", 19, optional=True),
        Column("duration", "DURATION", 8),
    )

    app_id: str

    def __init__(self, session: "YarnSession", app_id: str, name: str = "") -> None:
        super().__init__(session)
        self.app_id = app_id
        self.title = f"{name or app_id} attempts"
        self.attempts: dict[str, YarnAttempt] = {}

    async def fetch(self) -> list[Item]:
        attempts = sorted(await self.session.client.attempts(self.app_id), key=lambda a: a.number, reverse=True)
        self.attempts = {a.id: a for a in attempts}
        return [Item(key=a.id, state=unified_state(a.state),
                     cells={"attempt": a.id, "state": a.state.lower(), "container": a.am_container,
                            "node": a.node_http, "started": _fmt(a.started)},
                     created_at=a.started, started_at=a.started, ended_at=a.finished, detail=a.raw)
                for a in attempts]

    def drill(self, item: Item) -> "YarnContainersSource":
        return YarnContainersSource(self.session, self.app_id, self.attempts[item.key])

    async def open_log(self, item: Item) -> "LogRef":
        attempt = self.attempts[item.key]
        if not attempt.am_container:
            raise LookupError(f"{item.key}: no AM container yet")
        return await self._open(attempt.am_container, attempt.node_http)


class YarnContainersSource(_YarnSource):
    """The containers of one attempt: the RM's live ones while it runs; once it ended (the RM
    forgets them), the AM container and the containers its NodeManager still has logs of."""

    key = "yarn.containers"
    columns = (
        Column("container", "CONTAINER", 42),
        Column("role", "ROLE", 7),
        Column("state", "STATE", 9),
        Column("node", "NODE", 22, optional=True),
        Column("mem", "MEM", 7, optional=True),
        Column("vcores", "VC", 3, optional=True),
        Column("exit", "EXIT", 5),
        Column("duration", "DURATION", 8),
    )

    app_id: str

    def __init__(self, session: "YarnSession", app_id: str, attempt: YarnAttempt) -> None:
        super().__init__(session)
        self.app_id = app_id
        self.attempt = attempt
        self.title = f"attempt {attempt.number} containers"
        self.containers: dict[str, YarnContainer] = {}
        self._probed: list[YarnContainer] | None = None

    async def fetch(self) -> list[Item]:
        client = self.session.client
        live = await client.containers(self.app_id, self.attempt.id)
        found = {c.id: c for c in live}
        am = self.attempt.am_container
        # An ended attempt's containers are gone from the RM, or going: while it winds down the
        # RM lists the AM alone. The others are found on the AM's NodeManager, by number.
        if am and (am not in found or self.attempt.winding_down):
            found.setdefault(am, YarnContainer(am, "", self.attempt.node_http, 0, 0, None, None, None, {}))
            if self._probed is None or live:  # once every container is gone, what was found stays
                probed, complete = await self._probe(am)
                self._probed = probed if complete else None  # a timeout is no answer: asked again
                found.update({c.id: c for c in probed if c.id not in found})
            else:
                found.update({c.id: c for c in self._probed if c.id not in found})
        self.containers = dict(sorted(found.items(), key=lambda kv: kv[1].sequence))
        return [container_item(c) for c in self.containers.values()]

    async def _probe(self, am: str) -> tuple[list[YarnContainer], bool]:
        """The ended attempt's other containers that the AM's NodeManager keeps logs of
        (numbered 2, 3, ...; stops after a few misses), and whether every answer was an answer
        (False when a lookup timed out or the NM failed: the next fetch asks again)."""
        client, node = self.session.client, self.attempt.node_http
        out: list[YarnContainer] = []
        misses, complete = 0, True
        for seq in range(2, PROBE_CONTAINERS + 2):
            cid = container_seq(am, seq)
            try:
                found = bool(await client.log_files(node, cid))  # an unknown container: no files
            except YarnError as exc:
                found = False
                # the NM wraps "no such application here" in a 503 whose message is a 404: an answer
                if exc.status == 0 or (exc.status >= 500 and "404 Not Found" not in str(exc)):
                    complete = False
            if not found:
                misses += 1
                if misses >= PROBE_MISSES:
                    break
                continue
            misses = 0
            out.append(YarnContainer(cid, "", node, 0, 0, None, None, None, {}))
        return out, complete

    def drill(self, item: Item) -> "YarnLogFilesSource":
        c = self.containers[item.key]
        return YarnLogFilesSource(self.session, self.app_id, c)

    async def open_log(self, item: Item) -> "LogRef":
        c = self.containers[item.key]
        return await self._open(c.id, c.node_http)


def container_item(c: YarnContainer) -> Item:
    state = c.state.lower() or "ended"
    unified = State.RUNNING if c.state.upper() == "RUNNING" else unified_state(c.state) if c.state else State.UNKNOWN
    if unified is State.SUCCESS and c.exit_status not in (None, 0):
        unified = State.FAILED
    return Item(key=c.id, state=unified,
                cells={"container": c.id, "role": "driver" if c.driver else "", "state": state,
                       "node": c.node_http.split("://")[-1], "mem": f"{c.memory_mb}M" if c.memory_mb else "",
                       "vcores": c.vcores or "", "exit": "" if c.exit_status is None else c.exit_status},
                created_at=c.started, started_at=c.started, ended_at=c.finished, detail=c.raw or {"id": c.id})


class YarnLogFilesSource(_YarnSource):
    """A container's log files as its NodeManager lists them (stdout, stderr, syslog,
    AppMaster.stdout, prelaunch.err...)."""

    key = "yarn.logs"
    capabilities = frozenset({LOG})
    columns = (
        Column("file", "FILE", 28),
        Column("size", "SIZE", 10),
        Column("modified", "MODIFIED", 30, optional=True),
    )

    app_id: str

    def __init__(self, session: "YarnSession", app_id: str, container: YarnContainer) -> None:
        super().__init__(session)
        self.app_id = app_id
        self.container = container
        self.title = f"container {container.sequence} logs"

    async def fetch(self) -> list[Item]:
        c = self.container
        self.warning = None
        try:
            files = await self.session.client.log_files(c.node_http, c.id)
        except YarnError as exc:
            if exc.status != 404:
                raise
            files = [LogFile(name, None, "") for name in LOG_FILES]  # the NM has none: the log server may
            self.warning = "the NodeManager no longer has this container's logs"
        order = {name: i for i, name in enumerate(LOG_FILES)}
        files.sort(key=lambda f: (order.get(f.name, len(order)), f.name))
        return [Item(key=f.name, state=State.UNKNOWN,
                     cells={"file": f.name, "size": "" if f.size is None else human_bytes(f.size),
                            "modified": f.modified, "state": ""},
                     detail={"file": f.name, "size": f.size, "modified": f.modified})
                for f in files]

    async def open_log(self, item: Item) -> "LogRef":
        return await self._open(self.container.id, self.container.node_http, item.key)
