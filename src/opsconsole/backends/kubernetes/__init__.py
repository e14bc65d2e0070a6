"""The Kubernetes backend (the official `kubernetes` client, imported on first use): the pods
of the profile's namespaces kept live by a watch (list, then watch from its resourceVersion;
resumed after a dropped connection, listed again on 410 Gone), with the Airflow task each pod
runs; pod logs (tail, then follow; the previous container after a restart) and exec output
into the log engine; an interactive shell that suspends the app; delete with a grace period;
a kill step that deletes the pods of running Airflow tasks (or with a configured label),
confirmed gone by a watch. See docs/kubernetes.md.

This module stays light: the client, the watch and the sources load when a session needs them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import Backend, BackendSession, SessionEnv
from opsconsole.backends.kubernetes.settings import SCHEMA, KubeSettings
from opsconsole.domain import policy
from opsconsole.domain.actions import Action

if TYPE_CHECKING:
    from opsconsole.backends.base import PaneSource
    from opsconsole.backends.kubernetes.client import KubeClient
    from opsconsole.backends.kubernetes.watch import PodWatch
    from opsconsole.domain.kill import KillStep
    from opsconsole.logs.spool import LogSpool

EXEC = Action("kubernetes.exec", "Exec", "x", policy.CHANGE, "run a command in the pod's container (output in a log tab)")
SHELL = Action("kubernetes.shell", "Shell", "e", policy.CHANGE, "an interactive shell in the pod (the app waits)")
PREVIOUS = Action("kubernetes.previous", "Prev log", "P", policy.VIEW, "the previous container's log (before its restart)")
DELETE = Action("kubernetes.delete", "Delete", "ctrl+d", policy.CHANGE, "delete the pod (its grace period)")
FORCE = Action("kubernetes.force_delete", "Force delete", "D", policy.CHANGE,
               "delete the pod at once (grace period 0)", show=False)
ACTIONS = (EXEC, SHELL, PREVIOUS, DELETE, FORCE)


class KubernetesBackend(Backend):
    name = "kubernetes"
    title = "Kubernetes"
    schema = SCHEMA
    actions = ACTIONS

    def settings(self, table: Any) -> KubeSettings:
        return KubeSettings.from_profile(table or {})

    def open(self, env: SessionEnv) -> "KubernetesSession":
        return KubernetesSession(self, env)


class KubernetesSession(BackendSession):
    """One profile's cluster: one client, one pod watch (started by the pane's first fetch),
    one log spool."""

    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.settings: KubeSettings = env.settings or KubeSettings()
        self._client: KubeClient | None = None
        self._watch: PodWatch | None = None
        self._spool: LogSpool | None = None

    @property
    def client(self) -> "KubeClient":
        if self._client is None:
            from opsconsole.backends.kubernetes.client import KubeClient

            self._client = KubeClient(self.settings)
        return self._client

    @property
    def spool(self) -> "LogSpool":
        if self._spool is None:
            from opsconsole.logs.spool import LogSpool

            self._spool = LogSpool(self.env.data_dir / "spool" / "kubernetes")
        return self._spool

    async def namespaces(self) -> list[str | None]:
        """The namespaces to show (None: all of them); the context's own when none is set
        (reading the kubeconfig once, in a thread)."""
        s = self.settings
        if s.all_namespaces:
            return [None]
        if s.namespaces:
            return list(s.namespaces)
        client = self.client
        await client.call(client._open)
        return [client.namespace]

    async def watch(self) -> "PodWatch":
        """The pod watch (started now if it is not running)."""
        if self._watch is None:
            from opsconsole.backends.kubernetes.watch import PodWatch

            namespaces = await self.namespaces()
            if self._watch is None:
                self._watch = PodWatch(self.client, namespaces, self.settings.label_selector,
                                       self.settings.field_selector)
                self._watch.start()
        return self._watch

    def sources(self) -> list["PaneSource"]:
        from opsconsole.backends.kubernetes.sources import PodsSource

        return [PodsSource(self)]

    def kill_steps(self) -> list["KillStep"]:
        from opsconsole.backends.kubernetes.kill import kill_step

        return [kill_step(self)]

    async def aclose(self) -> None:
        if self._spool is not None:
            await self._spool.close()
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self._client is not None:
            self._client.close()


BACKEND = KubernetesBackend()
