"""What the pods pane reads off a pod (no server needed): kubectl's STATUS, the unified state,
readiness, restarts, the Airflow task; the settings' checks; the log timestamp handling."""

from __future__ import annotations

import pytest

from opsconsole.backends.kubernetes.logs import split_timestamps
from opsconsole.backends.kubernetes.podinfo import airflow_task, pod_status, ready, restarted_and_down, restarts
from opsconsole.backends.kubernetes.settings import KubeSettings, selector_problem
from opsconsole.config.settings import ConfigError, parse_config
from opsconsole.domain.states import State


def pod(phase="Running", reason=None, containers=None, inits=None, deleting=False, labels=None, annotations=None):
    status = {"phase": phase, "containerStatuses": containers or []}
    if reason:
        status["reason"] = reason
    if inits is not None:
        status["initContainerStatuses"] = inits
    meta = {"name": "p", "namespace": "ns", "labels": labels or {}, "annotations": annotations or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-29T10:00:00Z"
    spec = {"containers": [{"name": c.get("name", "base")} for c in (containers or [{"name": "base"}])]}
    if inits is not None:
        spec["initContainers"] = [{"name": "init"}] * len(inits)
    return {"metadata": meta, "spec": spec, "status": status}


def running(ready=True, restarts=0):
    return {"name": "base", "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": "x"}}}


@pytest.mark.parametrize("p, text, state", [
    (pod("Pending"), "Pending", State.QUEUED),
    (pod(containers=[running()]), "Running", State.RUNNING),
    (pod(containers=[{"name": "base", "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                      "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]),
     "CrashLoopBackOff", State.UP_FOR_RETRY),
    (pod(containers=[{"name": "base", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                      "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]),
     "CrashLoopBackOff (OOMKilled)", State.UP_FOR_RETRY),
    (pod("Failed", containers=[{"name": "base", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]),
     "OOMKilled", State.FAILED),
    (pod("Failed", reason="Evicted"), "Evicted", State.FAILED),
    (pod("Succeeded", containers=[{"name": "base", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]),
     "Completed", State.SUCCESS),
    (pod("Failed", containers=[{"name": "base", "state": {"terminated": {"exitCode": 2}}}]), "ExitCode:2", State.FAILED),
    (pod("Pending", containers=[{"name": "base", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]),
     "ImagePullBackOff", State.UP_FOR_RETRY),
    (pod("Pending", containers=[{"name": "base", "state": {"waiting": {"reason": "ContainerCreating"}}}]),
     "ContainerCreating", State.QUEUED),
    (pod(containers=[running()], deleting=True), "Terminating", State.STOPPED),
    (pod("Pending", inits=[{"name": "init", "state": {"running": {}}}]), "Init:0/1", State.QUEUED),
    (pod("Pending", inits=[{"name": "init", "state": {"terminated": {"reason": "Error", "exitCode": 1}}}]),
     "Init:Error", State.FAILED),
    (pod("Pending", inits=[{"name": "init", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
     "Init:CrashLoopBackOff", State.UP_FOR_RETRY),
])
def test_status_as_kubectl_prints_it(p, text, state):
    assert pod_status(p) == (text, state)


def test_ready_restarts_and_previous_log():
    p = pod(containers=[running(), {"name": "side", "ready": False, "restartCount": 2,
                                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}}])
    assert ready(p) == "1/2" and restarts(p) == 2
    assert restarted_and_down(p, "side") and not restarted_and_down(p, "base")


def test_airflow_task_from_annotations_then_labels():
    labels = {"dag_id": "a_b", "task_id": "t", "run_id": "manual__2026-01-01T0000000000-4b1a", "try_number": "2"}
    assert airflow_task(pod(labels=labels)).run_id == labels["run_id"]
    exact = airflow_task(pod(labels=labels, annotations={"dag_id": "a.b", "run_id": "manual__2026-01-01T00:00:00+00:00"}))
    assert (exact.dag_id, exact.run_id, exact.task_id, exact.try_number) == (
        "a.b", "manual__2026-01-01T00:00:00+00:00", "t", "2")
    assert airflow_task(pod(labels={"app": "web"})) is None


@pytest.mark.parametrize("text, ok", [
    ("app=web", True), ("app=web,tier!=db", True), ("!canary", True), ("env in (prod, staging),team", True),
    ("opsconsole/kill=yes", True), ("dag_id,task_id", True), ("app==web", True),
    ("app=web,", False), ("=web", False), ("app in prod", False), ("app=we b", False), ("app=(x)", False),
])
def test_label_selectors_are_checked(text, ok):
    assert (selector_problem(text) is None) is ok


def test_config_problems_name_the_key_and_line(tmp_path):
    text = '[profiles.p.kubernetes]\ncontext = "bdcl"\nnamespaces = ["airflow", "Bad_NS"]\nkill_selector = "a=b,"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text, str(tmp_path / "c.toml"))
    messages = str(err.value)
    assert "namespaces" in messages and "Bad_NS" in messages
    assert "kill_selector" in messages and "not a label selector" in messages
    assert "c.toml:3: profiles.p.kubernetes.namespaces[1]" in messages
    assert "c.toml:4: profiles.p.kubernetes.kill_selector — not a label selector: 'a=b,' has an empty" in messages
    config = parse_config('[profiles.p.kubernetes]\ncontext = "bdcl"\nnamespaces = ["airflow"]\n', str(tmp_path / "ok.toml"))
    assert config.profiles["p"].tables["kubernetes"]["context"] == "bdcl"


def test_settings_defaults_and_all_namespaces():
    s = KubeSettings.from_profile({"namespaces": ["*"], "kill_airflow_pods": False})
    assert s.all_namespaces and not s.kill_airflow_pods and s.kill_grace_period == 5 and s.tail_lines == 2000
    assert KubeSettings.from_profile({}).describe() == "current context · the context's namespace"


def test_log_lines_lose_their_timestamps_and_repeats_are_skipped():
    text = ("2026-11-29T10:00:00.5Z a\n2026-11-29T10:00:00.123456789Z b\n"
            "2026-11-29T10:00:01Z c\nno timestamp here\n")
    data, last = split_timestamps(text, None)
    assert data == b"a\nb\nc\nno timestamp here\n" and last == "2026-11-29T10:00:01Z"
    # a follow from sinceTime=10:00:00 sends that second again: only what is newer is kept
    data, last = split_timestamps("2026-11-29T10:00:00.5Z a\n2026-11-29T10:00:01.2Z d\n", "2026-11-29T10:00:00.5Z")
    assert data == b"d\n" and last == "2026-11-29T10:00:01.2Z"


def test_pods_of_a_task_instance_match_annotations_or_label_safe_labels():
    from opsconsole.backends.kubernetes.podinfo import runs_task, safe_label

    run = "manual__2026-11-29T10:00:00+00:00"
    assert safe_label("simple_run") == "simple_run"
    label = safe_label(run)
    assert label != run and len(label) <= 63 and label.startswith("manual__2026-11-29T1000000000")
    refs = {"airflow.dag_id": "exp", "airflow.run_id": run, "airflow.task_id": "train", "airflow.try_number": "2",
            "airflow.map_index": "-1"}
    kpo = pod(labels={"dag_id": "exp", "task_id": "train", "run_id": label, "try_number": "2"})
    executor = pod(labels={"dag_id": "exp", "task_id": "train", "run_id": label, "try_number": "2"},
                   annotations={"dag_id": "exp", "task_id": "train", "run_id": run, "try_number": "2"})
    assert runs_task(kpo, refs) and runs_task(executor, refs)
    assert not runs_task(kpo, {**refs, "airflow.try_number": "1"})  # another try's pod
    assert not runs_task(kpo, {**refs, "airflow.task_id": "eval"})
    assert runs_task(kpo, {"airflow.dag_id": "exp", "airflow.run_id": run})  # a DAG run: all its pods
    assert not runs_task(pod(labels={"app": "web"}), refs) and not runs_task(kpo, {"other.key": "x"})


async def test_thread_iter_hands_each_chunk_over_once_even_when_the_loop_is_slow():
    import time as _time

    from opsconsole.backends.kubernetes.logs import thread_iter

    def produce():
        for i in range(5):
            yield f"{i}\n".encode()

    got = []
    async for item in thread_iter(produce, "test"):
        got.append(item)
        _time.sleep(0.7)  # the event loop is blocked longer than the producer waits per put
    assert got == [f"{i}\n".encode() for i in range(5)]
