"""The kill step: delete the pods of the profile's namespaces that run Airflow tasks (Airflow's
pod labels) or carry the configured label, and confirm each gone by a watch.

Bounded: one paged listing per namespace and selector, capped at `kill_cap` pods and within a
third of the deadline; then every delete at once; then a watch from the listing's
resourceVersion until each deleted pod's DELETED event came (or the deadline is near: those
pods are checked once more with a GET, and stay "not confirmed" if still there)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import TYPE_CHECKING, Any

from opsconsole.backends.kubernetes.client import api_error
from opsconsole.backends.kubernetes.podinfo import AIRFLOW_SELECTOR, active, airflow_task, meta
from opsconsole.backends.kubernetes.watch import PAGE, _interrupt, _lines
from opsconsole.domain.kill import STOP, KillObject, KillStep, StepLog

if TYPE_CHECKING:
    from opsconsole.backends.kubernetes import KubernetesSession

KIND = "pod"


def _selectors(session: "KubernetesSession") -> list[str]:
    """Label selectors whose pods the kill stops (each ANDed with the profile's own)."""
    s = session.settings
    base = s.label_selector
    out = []
    if s.kill_airflow_pods:
        out.append(AIRFLOW_SELECTOR)
    if s.kill_selector:
        out.append(s.kill_selector)
    return [f"{base},{sel}" if base else sel for sel in out]


def _why(pod: dict[str, Any]) -> str:
    task = airflow_task(pod)
    if task is not None:
        return f"airflow {task.dag_id} / {task.run_id} / {task.task_id}"
    return "kill label"


async def list_targets(session: "KubernetesSession", deadline: float) -> tuple[list[dict[str, Any]], dict[str, str], bool]:
    """(The active pods to delete, namespace scope → resourceVersion of its listing, capped?)"""
    client = session.client
    namespaces = await asyncio.wait_for(session.namespaces(), timeout=max(0.1, deadline - time.monotonic()))
    cap = session.settings.kill_cap
    selectors = _selectors(session)

    def work() -> tuple[list[dict[str, Any]], dict[str, str], bool]:
        found: dict[str, dict[str, Any]] = {}
        rvs: dict[str, str] = {}
        capped = False
        for ns in namespaces:
            for sel in selectors:
                cont = None
                while True:
                    if time.monotonic() > deadline:
                        raise TimeoutError("listing the pods to delete took too long")
                    page = client.list_pods(ns, label_selector=sel, field_selector=session.settings.field_selector,
                                            limit=PAGE, _continue=cont)
                    lm = page.get("metadata") or {}
                    rvs.setdefault(ns or "*", lm.get("resourceVersion", ""))
                    for pod in page.get("items") or []:
                        m = meta(pod)
                        if active(pod):
                            found.setdefault(m.get("uid") or f"{m.get('namespace')}/{m.get('name')}", pod)
                        if len(found) >= cap:
                            capped = True
                            break
                    cont = lm.get("continue")
                    if capped or not cont:
                        break
        return list(found.values()), rvs, capped

    try:
        return await client.call(work)
    except TimeoutError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise api_error(exc) from None


def kill_step(session: "KubernetesSession") -> KillStep:
    s = session.settings
    deadline_s = session.env.kill_deadline
    what = []
    if s.kill_airflow_pods:
        what.append("run Airflow tasks")
    if s.kill_selector:
        what.append(f"match {s.kill_selector}")
    description = (f"delete the running pods in {s.describe()} that {' or '.join(what)} "
                   f"(grace {s.kill_grace_period} s), confirmed gone by a watch") if what else \
        "nothing to delete (kill_airflow_pods = false and no kill_selector)"

    async def action(log: StepLog) -> str:
        if not what:
            return "nothing configured to delete"
        end = time.monotonic() + deadline_s
        pods, rvs, capped = await list_targets(session, time.monotonic() + deadline_s / 3)
        if not pods:
            return "no running pods to delete"
        client = session.client
        by_uid: dict[str, str] = {}

        async def delete(pod: dict[str, Any]) -> None:
            m = meta(pod)
            ident = f"{m.get('namespace')}/{m.get('name')}"
            try:
                await client.call(client.json, "delete_namespaced_pod", m.get("name"), m.get("namespace"),
                                  grace_period_seconds=s.kill_grace_period)
            except Exception as exc:  # noqa: BLE001
                err = api_error(exc)
                if err.status in (404, 409):  # gone already (or replaced by a new pod of that name)
                    log.confirmed(KIND, ident, "already gone")
                else:
                    log.failed(KIND, ident, str(err))
                return
            log.acted(KIND, ident, _why(pod))
            by_uid[m.get("uid") or ident] = ident

        await asyncio.gather(*(delete(p) for p in pods))
        log.progress(f"{len(by_uid)} pod(s) deleting, waiting for the watch to confirm")
        if by_uid:
            await confirm_gone(session, by_uid, rvs, log, end - 1.0)
        note = f" (capped at {s.kill_cap})" if capped else ""
        return f"{len(pods)} pod(s) selected{note}: {log.summary()}"

    async def targets() -> list[KillObject]:
        if not what:
            return []
        pods, _, _ = await list_targets(session, time.monotonic() + min(5.0, deadline_s / 3))
        return [KillObject(KIND, f"{meta(p).get('namespace')}/{meta(p).get('name')}", reason=_why(p)) for p in pods]

    return KillStep(name="delete pods", kind="kubernetes", description=description, action=action,
                    deadline=deadline_s, phase=STOP, targets=targets)


async def confirm_gone(session: "KubernetesSession", pending: dict[str, str], rvs: dict[str, str], log: StepLog,
                       until: float) -> None:
    """Watch each namespace from its listing's resourceVersion until every pending uid was
    DELETED; what is left at `until` is looked up once more."""
    client = session.client
    left = dict(pending)
    lock = threading.Lock()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    responses: list[Any] = []
    stop = threading.Event()

    def gone(uid: str) -> None:
        with lock:
            ident = left.pop(uid, None)
        if ident is not None:
            loop.call_soon_threadsafe(log.confirmed, KIND, ident, "deleted (seen by the watch)")
            if not left:
                loop.call_soon_threadsafe(done.set)

    def watch_ns(scope: str, rv: str) -> None:
        ns = None if scope == "*" else scope
        while not stop.is_set() and left and time.monotonic() < until:
            try:
                resp = client.watch_pods(ns, read_timeout=max(1.0, until - time.monotonic()), resource_version=rv,
                                         timeout_seconds=max(1, int(until - time.monotonic())),
                                         allow_watch_bookmarks=True)
                responses.append(resp)
                for line in _lines(resp):
                    ev = json.loads(line)
                    obj = ev.get("object") or {}
                    if ev.get("type") == "ERROR":
                        return  # 410 and friends: the GETs after the wait decide
                    rv = meta(obj).get("resourceVersion") or rv
                    if ev.get("type") == "DELETED":
                        gone(meta(obj).get("uid", ""))
                    if stop.is_set() or not left:
                        return
            except Exception:  # noqa: BLE001 - a dropped watch: resumed from the last resourceVersion
                if stop.is_set():
                    return
                time.sleep(0.2)

    threads = [threading.Thread(target=watch_ns, args=(scope, rv), daemon=True, name=f"k8s-kill-watch {scope}")
               for scope, rv in rvs.items()]
    for t in threads:
        t.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=max(0.1, until - time.monotonic()))
    except asyncio.TimeoutError:
        pass
    finally:
        stop.set()
        for resp in responses:
            _interrupt(resp)
    # whatever the watch did not report: one GET each
    for uid, ident in list(left.items()):
        ns, _, name = ident.partition("/")
        try:
            pod = await asyncio.wait_for(client.call(client.json, "read_namespaced_pod", name, ns), timeout=2.0)
        except Exception as exc:  # noqa: BLE001
            if api_error(exc).status == 404:
                log.confirmed(KIND, ident, "gone")
                continue
            log.not_confirmed(KIND, ident, f"could not check: {api_error(exc)}")
            continue
        if meta(pod).get("uid") != uid:
            log.confirmed(KIND, ident, "gone (a new pod took its name)")
        else:
            log.not_confirmed(KIND, ident, "still terminating at the deadline")
