"""What an operator reads off a pod (the API server's JSON, as dicts): its status as kubectl
prints it (CrashLoopBackOff, OOMKilled, Evicted, Terminating, Init:1/2...), readiness, restarts,
and the Airflow task it runs (from Airflow's pod labels and annotations). Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opsconsole.domain.states import State

# Airflow (KubernetesExecutor and KubernetesPodOperator) puts these on a task's pod: labels
# made label-safe (long values cut and hashed), annotations with the exact values.
AIRFLOW_KEYS = ("dag_id", "task_id", "run_id", "try_number", "map_index")
AIRFLOW_SELECTOR = "dag_id,task_id"  # every Airflow task pod has both labels
# waiting/terminated reasons that mean trouble (shown as the status, coloured failed/retrying)
_RETRYING = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
             "CreateContainerError", "RunContainerError", "InvalidImageName", "ContainerCannotRun"}


def parse_time(text: Any) -> datetime | None:
    if not text or not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def meta(pod: dict[str, Any]) -> dict[str, Any]:
    return pod.get("metadata") or {}


def pod_key(pod: dict[str, Any]) -> str:
    m = meta(pod)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


@dataclass(frozen=True)
class AirflowTask:
    dag_id: str
    task_id: str
    run_id: str
    try_number: str = ""
    map_index: str = ""


def airflow_task(pod: dict[str, Any]) -> AirflowTask | None:
    """The Airflow task instance a pod runs, from its annotations (exact) or labels (label-safe)."""
    m = meta(pod)
    labels = m.get("labels") or {}
    notes = m.get("annotations") or {}
    if not (labels.get("dag_id") or notes.get("dag_id")):
        return None
    got = {k: str(notes.get(k) or labels.get(k) or "") for k in AIRFLOW_KEYS}
    return AirflowTask(**got)


def safe_label(value: str) -> str:
    """What Airflow writes into a label for `value` (its make_safe_label_value): invalid
    characters dropped; cut and suffixed with a hash when too long or changed."""
    import hashlib
    import re

    safe = re.sub(r"^[^a-z0-9A-Z]*|[^a-zA-Z0-9_\-\.]|[^a-z0-9A-Z]*$", "", value)
    if len(safe) > 63 or value != safe:
        digest = hashlib.md5(value.encode()).hexdigest()[:9]
        safe = safe[:63 - len(digest) - 1] + "-" + digest
    return safe


def runs_task(pod: dict[str, Any], refs: Mapping[str, str]) -> bool:
    """The pod runs what `refs` names ("airflow.dag_id", "airflow.run_id", optionally
    "airflow.task_id", "airflow.try_number", "airflow.map_index"): compared with the exact
    annotations, or with the labels as Airflow made them label-safe."""
    m = meta(pod)
    labels = m.get("labels") or {}
    notes = m.get("annotations") or {}
    wanted = {k.split(".", 1)[1]: str(v) for k, v in refs.items() if k.startswith("airflow.") and v not in (None, "")}
    if "dag_id" not in wanted:
        return False
    for key, value in wanted.items():
        if key not in AIRFLOW_KEYS:
            continue
        if key == "map_index" and value == "-1" and key not in labels and key not in notes:
            continue
        if notes.get(key) == value or labels.get(key) in (value, safe_label(value)):
            continue
        return False
    return True


def _container_statuses(status: dict[str, Any]) -> list[dict[str, Any]]:
    return list(status.get("containerStatuses") or [])


def restarts(pod: dict[str, Any]) -> int:
    return sum(int(c.get("restartCount") or 0) for c in _container_statuses(pod.get("status") or {}))


def ready(pod: dict[str, Any]) -> str:
    spec_containers = (pod.get("spec") or {}).get("containers") or []
    statuses = _container_statuses(pod.get("status") or {})
    return f"{sum(1 for c in statuses if c.get('ready'))}/{len(spec_containers) or len(statuses)}"


def pod_status(pod: dict[str, Any]) -> tuple[str, State]:
    """(The STATUS column as kubectl prints it, the unified state.)"""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    reason = status.get("reason") or ""
    text = reason or phase
    # init containers first
    spec = pod.get("spec") or {}
    inits = status.get("initContainerStatuses") or []
    init_text = ""
    for i, c in enumerate(inits):
        st = c.get("state") or {}
        term, wait = st.get("terminated"), st.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            init_text = f"Init:{term.get('reason') or ('Signal:%s' % term['signal'] if term.get('signal') else 'ExitCode:%s' % term.get('exitCode'))}"
        elif wait and wait.get("reason") and wait.get("reason") != "PodInitializing":
            init_text = f"Init:{wait['reason']}"
        else:
            init_text = f"Init:{i}/{len(spec.get('initContainers') or inits)}"
        break
    if init_text:
        text = init_text
    else:
        running_any = False
        for c in reversed(_container_statuses(status)):
            st = c.get("state") or {}
            wait, term = st.get("waiting"), st.get("terminated")
            if wait and wait.get("reason"):
                text = wait["reason"]
                last = ((c.get("lastState") or {}).get("terminated") or {}).get("reason")
                if text == "CrashLoopBackOff" and last and last not in ("Error", "Completed"):
                    text = f"CrashLoopBackOff ({last})"  # e.g. OOMKilled
            elif term and term.get("reason"):
                text = term["reason"]
            elif term:
                text = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif st.get("running") and c.get("ready"):
                running_any = True
        if running_any and text == "Completed":
            text = "Running"
        if reason:  # Evicted, NodeLost, UnexpectedAdmissionError... win
            text = reason
    if meta(pod).get("deletionTimestamp"):
        text = "Unknown" if reason == "NodeLost" else "Terminating"
    return text, _state(text, phase)


def _state(text: str, phase: str) -> State:
    head = text.split(" ")[0]
    if text == "Terminating":
        return State.STOPPED
    if head in _RETRYING or head.startswith("Init:") and head[5:] in _RETRYING:
        return State.UP_FOR_RETRY
    if phase == "Failed" or head in ("OOMKilled", "Error", "Evicted") or head.startswith(("ExitCode:", "Signal:")) \
            or head.startswith("Init:") and not head[5:6].isdigit() and head[5:] != "Running":
        return State.FAILED
    if phase == "Succeeded":
        return State.SUCCESS
    if phase == "Running":
        return State.RUNNING
    if phase == "Pending":
        return State.QUEUED
    return State.UNKNOWN


def active(pod: dict[str, Any]) -> bool:
    """Still running or about to (what a kill stops): Pending or Running, or unknown."""
    return ((pod.get("status") or {}).get("phase") or "Unknown") not in ("Succeeded", "Failed")


def default_container(pod: dict[str, Any]) -> str | None:
    """The container kubectl picks: the default-container annotation, else the first."""
    chosen = (meta(pod).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if chosen in names:
        return chosen
    return names[0] if names else None


def container_status(pod: dict[str, Any], container: str | None) -> dict[str, Any]:
    for c in _container_statuses(pod.get("status") or {}):
        if c.get("name") == container:
            return c
    return {}


def restarted_and_down(pod: dict[str, Any], container: str | None) -> bool:
    """The container restarted and is not running now (CrashLoopBackOff): its log is the
    previous container's."""
    c = container_status(pod, container)
    return bool(int(c.get("restartCount") or 0) and not (c.get("state") or {}).get("running"))


def slim(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod without managedFields (noise for an operator)."""
    m = dict(meta(pod))
    m.pop("managedFields", None)
    return {**pod, "metadata": m}
