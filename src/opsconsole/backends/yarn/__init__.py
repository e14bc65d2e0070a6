"""The YARN backend: a ResourceManager's applications over its REST API (httpx, imported on first
use), reached at `url` or through the Kubernetes API server's service proxy. Its pane drills
applications → attempts → containers (container 1, the ApplicationMaster — Spark's driver in
cluster mode — marked) → log files; container logs are streams spooled by the log engine;
its action kills an application; its kill step kills the profile's running applications
(queue/user/name filter), confirmed by their state. See docs/yarn.md.

This module stays light: the client, sources and spool are imported when a session needs them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import Backend, BackendSession, SessionEnv
from opsconsole.config.schema import Bool, List, Num, Str, Table, Url
from opsconsole.domain import policy
from opsconsole.domain.actions import Action

if TYPE_CHECKING:
    from opsconsole.backends.base import PaneSource
    from opsconsole.backends.yarn.client import YarnClient, YarnSettings
    from opsconsole.backends.yarn.logs import YarnLogSpool
    from opsconsole.domain.kill import KillStep


class _YarnTable(Table):
    """The table's keys, plus the rules between them: `url`, or `via = "kubernetes"` with a
    namespace and a service."""

    def check(self, value, path):
        yield from super().check(value, path)
        if not isinstance(value, dict):
            return
        via = value.get("via")
        if via == "kubernetes":
            if "url" in value:
                yield (*path, "url"), 'give either url or via = "kubernetes", not both'
            for key in ("namespace", "service"):
                if key not in value:
                    yield path, f'via = "kubernetes" needs {key} = "..." (the ResourceManager\'s service)'
        elif "url" not in value:
            yield path, 'missing the ResourceManager: url = "http://rm:8088" or via = "kubernetes"'
        else:
            for key in ("namespace", "service", "context", "kubeconfig", "scheme"):
                if key in value:
                    yield (*path, key), 'only with via = "kubernetes"'


SCHEMA = _YarnTable({
    "url": Url(),
    "via": Str(choices=("kubernetes",)),
    "namespace": Str(),
    "service": Str(),
    "scheme": Str(choices=("http", "https")),
    "context": Str(),
    "kubeconfig": Str(),
    "nodemanager_url": Url(),
    "log_server_url": Url(),
    "timeout": Num(min=0.1, max=600),
    "poll_interval": Num(min=0.5, max=3600),
    "verify_tls": Bool(),
    "queues": List(Str()),
    "users": List(Str()),
    "names": List(Str()),
    "history_hours": Num(min=0, max=24 * 90),
    "max_apps": Num(integer=True, min=1, max=100_000),
    "kill_cap": Num(integer=True, min=1, max=100_000),
    "log_tail_bytes": Num(integer=True, min=64 * 1024, max=1 << 30),
})

KILL = Action("yarn.kill", "Kill app", "X", policy.CHANGE,
              "kill the YARN application (PUT its state KILLED), confirmed by its state")
ACTIONS = (KILL,)


class YarnBackend(Backend):
    name = "yarn"
    title = "YARN"
    schema = SCHEMA
    actions = ACTIONS

    def settings(self, table: Any) -> "YarnSettings":
        from opsconsole.backends.yarn.client import YarnSettings

        return YarnSettings.from_profile(table or {})

    def open(self, env: SessionEnv) -> "YarnSession":
        return YarnSession(self, env)


class YarnSession(BackendSession):
    """One profile's YARN: one client and one log spool, shared by the pane and the action."""

    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.settings: YarnSettings = env.settings
        self._client: YarnClient | None = None
        self._spool: YarnLogSpool | None = None

    @property
    def client(self) -> "YarnClient":
        if self._client is None:
            from opsconsole.backends.yarn.client import YarnClient

            self._client = YarnClient(self.settings)
        return self._client

    @property
    def spool(self) -> "YarnLogSpool":
        if self._spool is None:
            from opsconsole.backends.yarn.logs import YarnLogSpool

            self._spool = YarnLogSpool(self.client, self.env.data_dir / "spool" / "yarn", self.settings.log_tail_bytes)
        return self._spool

    def sources(self) -> list["PaneSource"]:
        from opsconsole.backends.yarn.sources import YarnAppsSource

        return [YarnAppsSource(self)]

    def kill_steps(self) -> list["KillStep"]:
        from opsconsole.backends.yarn.kill import yarn_kill_step

        return [yarn_kill_step(self.settings, self.env.kill_deadline)]

    async def aclose(self) -> None:
        if self._spool is not None:
            await self._spool.close()
        if self._client is not None:
            await self._client.aclose()


BACKEND = YarnBackend()
