"""The pods pane: one row per pod of the profile's namespaces, live from the watch (the pane
fetches when the watch saw a change, not on a timer), and the actions on the selected pod."""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import DESCRIBE, LIVE, LOG, PaneSource
from opsconsole.backends.kubernetes import DELETE, EXEC, FORCE, PREVIOUS, SHELL
from opsconsole.backends.kubernetes.client import api_error
from opsconsole.backends.kubernetes.podinfo import (
    airflow_task, default_container, meta, parse_time, pod_status, ready, restarted_and_down, restarts, runs_task, slim)
from opsconsole.domain.actions import ActionCall, ActionUnavailable, Interactive
from opsconsole.domain.items import Column, Item

if TYPE_CHECKING:
    from opsconsole.backends.kubernetes import KubernetesSession
    from opsconsole.logs.ref import LogRef

FIRST_LIST = 30.0  # seconds the first list may take before the pane says so
COALESCE = 0.03    # a burst of watch events within this redraws the pane once


def pod_item(pod: dict[str, Any]) -> Item:
    m = meta(pod)
    text, state = pod_status(pod)
    task = airflow_task(pod)
    created = parse_time(m.get("creationTimestamp"))
    st = pod.get("status") or {}
    return Item(
        key=f"{m.get('namespace', '')}/{m.get('name', '')}",
        state=state,
        cells={
            "namespace": m.get("namespace", ""), "name": m.get("name", ""), "state": text,
            "ready": ready(pod), "restarts": restarts(pod), "node": (pod.get("spec") or {}).get("nodeName") or "",
            "dag": task.dag_id if task else "", "run": task.run_id if task else "",
            "task": task.task_id + (f"[{task.map_index}]" if task and task.map_index not in ("", "-1") else "")
            if task else "",
        },
        created_at=created,
        started_at=parse_time(st.get("startTime")),
        detail=pod,
    )


class PodsSource(PaneSource):
    key = "kubernetes"
    scope = "kubernetes"
    capabilities = frozenset({LIVE, DESCRIBE, LOG})
    actions = (EXEC, SHELL, PREVIOUS, DELETE, FORCE)
    columns = (
        Column("namespace", "NAMESPACE", 14, optional=True),
        Column("name", "NAME", 34),
        Column("state", "STATUS", 18),
        Column("ready", "READY", 5),
        Column("restarts", "RESTARTS", 8, optional=True),
        Column("node", "NODE", 14, optional=True),
        Column("age", "AGE", 7),
        Column("dag", "DAG", 24, optional=True),
        Column("run", "RUN", 28, optional=True),
        Column("task", "TASK", 20, optional=True),
    )
    interval = 30.0  # the fallback: changes come from the watch

    def __init__(self, session: "KubernetesSession") -> None:
        self.session = session
        self.title = f"Pods · {session.settings.describe()}"
        self._seen = -1
        self._items: dict[str, tuple[str, Item]] = {}  # key → (resourceVersion, item)
        self.fetched_at = 0.0

    async def fetch(self) -> list[Item]:
        watch = await self.session.watch()
        await watch.wait_synced(FIRST_LIST)
        self._seen = watch.version
        if not self.session.settings.context and self.session.client.context_name:
            self.title = self.title.replace("current context", self.session.client.context_name, 1)
        if watch.error:
            raise RuntimeError(f"watch: {watch.error} (retrying)")
        pods = watch.snapshot()
        cache, items = self._items, []
        fresh: dict[str, tuple[str, Item]] = {}
        for pod in pods:
            if not self.keep(pod):
                continue
            m = meta(pod)
            key = f"{m.get('namespace', '')}/{m.get('name', '')}"
            rv = m.get("resourceVersion", "")
            hit = cache.get(key)
            if hit is None or hit[0] != rv:
                hit = (rv, pod_item(pod))
            fresh[key] = hit
            items.append(hit[1])
        self._items = fresh
        self.fetched_at = time.monotonic()
        items.sort(key=lambda it: it.key)
        return items

    def related(self, refs: Mapping[str, str]) -> "PaneSource | None":
        """The pods of an Airflow task instance or DAG run (another pane's selected item)."""
        if not refs.get("airflow.dag_id"):
            return None
        return RelatedPods(self.session, refs)

    def keep(self, pod: dict[str, Any]) -> bool:
        return True

    async def changed(self) -> None:
        watch = await self.session.watch()
        await watch.wait_change(self._seen)
        await asyncio.sleep(COALESCE)

    # --- one pod ------------------------------------------------------------------------------
    def _pod(self, item: Item | None, what: str) -> tuple[str, str, dict[str, Any]]:
        if item is None:
            raise ActionUnavailable(f"{what}: select a pod")
        ns, _, name = item.key.partition("/")
        return ns, name, item.detail

    async def describe(self, item: Item) -> dict[str, Any]:
        """The pod as the server has it now (without managedFields) and its events."""
        ns, name, _ = self._pod(item, "describe")
        client = self.session.client
        pod = await client.call(client.json, "read_namespaced_pod", name, ns)
        uid = meta(pod).get("uid")
        selector = f"involvedObject.name={name}" + (f",involvedObject.uid={uid}" if uid else "")
        events = await client.call(client.json, "list_namespaced_event", ns, field_selector=selector, limit=200)
        rows = []
        for ev in events.get("items") or []:
            rows.append({
                "last": ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get("creationTimestamp"),
                "type": ev.get("type"), "reason": ev.get("reason"), "count": ev.get("count"),
                "from": (ev.get("source") or {}).get("component") or ev.get("reportingComponent"),
                "message": ev.get("message"),
            })
        rows.sort(key=lambda r: str(r.get("last") or ""))
        return {"pod": slim(pod), "events": rows}

    async def open_log(self, item: Item, *, previous: bool | None = None) -> "LogRef":
        """The default container's log: tail then follow, or the previous container's when it
        restarted and is down (CrashLoopBackOff)."""
        from opsconsole.backends.kubernetes.logs import PodLogStream
        from opsconsole.logs.ref import StreamLog

        ns, name, pod = self._pod(item, "log")
        container = default_container(pod)
        if previous is None:
            previous = restarted_and_down(pod, container)
        s = self.session.settings
        stream = PodLogStream(self.session.client, ns, name, container, previous=previous,
                              tail_lines=s.tail_lines, limit_bytes=s.limit_bytes)
        job = await self.session.spool.open(stream, fresh=True)
        return StreamLog(job, stream.label)

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        session, client = self.session, self.session.client
        if action_id in (DELETE.id, FORCE.id):
            ns, name, pod = self._pod(item, "delete")
            grace = 0 if action_id == FORCE.id else session.settings.delete_grace_period
            own = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            how = ("at once (grace period 0: the kubelet is not waited for)" if grace == 0 else
                   f"with a grace period of {grace if grace is not None else own if own is not None else 30} s")
            action = FORCE if action_id == FORCE.id else DELETE

            async def run(_: Any) -> str:
                kw = {} if grace is None else {"grace_period_seconds": grace}
                await client.call(client.json, "delete_namespaced_pod", name, ns, **kw)
                return f"pod {ns}/{name} deleted {how}"

            return ActionCall(action, f"Delete pod {ns}/{name}?", f"The pod is deleted {how}.", [f"pod {ns}/{name}"],
                              run, confirm_label="Delete")
        if action_id == PREVIOUS.id:
            ns, name, pod = self._pod(item, "previous log")
            target = item
            call: ActionCall | None = None

            async def show(_: Any) -> str:
                assert call is not None and target is not None
                call.open_log = await self.open_log(target, previous=True)
                return f"previous log of {ns}/{name}"

            call = ActionCall(PREVIOUS, f"Previous log of {ns}/{name}", "", [f"pod {ns}/{name}"], show, confirm=False)
            return call
        if action_id == EXEC.id:
            ns, name, pod = self._pod(item, "exec")
            container = default_container(pod)
            exec_call: ActionCall | None = None

            async def run_exec(line: Any) -> str:
                from opsconsole.backends.kubernetes.logs import ExecStream
                from opsconsole.logs.ref import StreamLog

                assert exec_call is not None
                try:
                    command = shlex.split(str(line or ""))
                except ValueError as exc:
                    raise ValueError(f"cannot split the command: {exc}") from None
                if not command:
                    raise ValueError("no command")
                stream = ExecStream(client, ns, name, container, command)
                job = await session.spool.open(stream, fresh=True)
                exec_call.open_log = StreamLog(job, stream.label)
                return f"{shlex.join(command)} in {ns}/{name}: output in a log tab, exit code at its end"

            exec_call = ActionCall(EXEC, f"Exec in {ns}/{name}?", f"Runs in container {container}:", [f"pod {ns}/{name}"],
                                   run_exec, confirm_label="Run", confirm=False,
                                   ask_line=f"exec in {name} ({container}): ", line_default=session.settings.exec_default)
            return exec_call
        if action_id == SHELL.id:
            ns, name, pod = self._pod(item, "shell")
            container = default_container(pod)
            shell_call: ActionCall | None = None

            async def run_shell(_: Any) -> str:
                assert shell_call is not None
                shell_call.interactive = shell_command(session, ns, name, container)
                return f"shell in {ns}/{name} [{container}]"

            shell_call = ActionCall(SHELL, f"Shell in {ns}/{name}?", f"An interactive shell in container {container}.",
                                    [f"pod {ns}/{name}"], run_shell, confirm_label="Open", confirm=False)
            return shell_call
        return await super().prepare(action_id, item)


class RelatedPods(PodsSource):
    """The pods that run one Airflow task instance (or every task of a DAG run)."""

    def __init__(self, session: "KubernetesSession", refs: Mapping[str, str]) -> None:
        super().__init__(session)
        self.refs = dict(refs)
        what = " / ".join(refs[k] for k in ("airflow.dag_id", "airflow.run_id", "airflow.task_id") if refs.get(k))
        self.title = f"Pods of {what}"

    def keep(self, pod: dict[str, Any]) -> bool:
        return runs_task(pod, self.refs)

    def related(self, refs: Mapping[str, str]) -> "PaneSource | None":
        return None


def shell_command(session: "KubernetesSession", namespace: str, pod: str, container: str | None) -> Interactive:
    """The interactive shell as a command of its own (this package's `shell` module: the
    official client's exec with a tty), so the UI can hand it the terminal."""
    s = session.settings
    argv = [sys.executable, "-m", "opsconsole.backends.kubernetes.shell", "-n", namespace]
    if s.context:
        argv += ["--context", s.context]
    if s.kubeconfig:
        argv += ["--kubeconfig", s.kubeconfig]
    if container:
        argv += ["-c", container]
    argv += [pod, "--", *s.shell]
    return Interactive(tuple(argv), title=f"shell {namespace}/{pod}")


def error_text(exc: BaseException) -> str:
    return str(api_error(exc))
