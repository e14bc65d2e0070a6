"""The Kubernetes backend against a real kube-apiserver + etcd, with kwok as the kubelet
(conftest.py): the pods pane live from a watch (resumed after a dropped connection, listed
again after 410 Gone), a pod going Running → Failed, logs (tail then follow, the previous
container after a restart), exec with its exit code, describe, delete, the kill step."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from k8s_peer import NAMESPACE, cri_line

from opsconsole.backends.base import SessionEnv
from opsconsole.backends.kubernetes import BACKEND, DELETE, EXEC, PREVIOUS, SHELL
from opsconsole.backends.kubernetes.settings import KubeSettings
from opsconsole.domain.kill import CONFIRMED, StepLog
from opsconsole.domain.models import utcnow
from opsconsole.domain.states import State

SRC = Path(__file__).resolve().parents[2] / "src"


def _session(peer, tmp_path, *, blip: bool = True, **settings):
    table = {"kubeconfig": str(peer.blip_kubeconfig if blip else peer.kubeconfig), "namespaces": [NAMESPACE],
             "timeout": 10, **settings}
    s = BACKEND.settings(table)

    def no_store():
        raise AssertionError("no ledger here")

    env = SessionEnv(profile="t", environment="test", readonly=False, settings=s, store=no_store,
                     data_dir=tmp_path / "data", clock=utcnow, kill_deadline=25.0)
    return BACKEND.open(env)


async def _until(pred, timeout: float = 60.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = await pred()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _source(session):
    (source,) = session.sources()
    return source


async def _row(source, key: str, pred=lambda it: True, timeout: float = 60.0):
    async def look():
        try:
            items = {it.key: it for it in await source.fetch()}
        except RuntimeError:  # the watch is down (stale): it retries
            return None
        it = items.get(key)
        return it if it is not None and pred(it) else None

    return await _until(look, timeout, f"row {key}")


async def _gone(source, key: str, timeout: float = 60.0):
    async def look():
        try:
            return key not in {it.key for it in await source.fetch()}
        except RuntimeError:
            return False

    await _until(look, timeout, f"{key} gone")


def _patch_failed(peer, name: str, reason: str = "OOMKilled", code: int = 137):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    peer.api().patch_namespaced_pod_status(name, NAMESPACE, {"status": {
        "phase": "Failed",
        "containerStatuses": [{"name": "base", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
                               "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": now,
                                                        "finishedAt": now}}}],
    }})


async def _job_text(ref, done: bool = True, contains: str | None = None, timeout: float = 60.0) -> str:
    job = ref.job

    async def look():
        text = Path(job.path).read_text(errors="replace") if Path(job.path).exists() else ""
        if job.state == "failed":
            raise AssertionError(f"log job failed: {job.error}")
        if done and not job.complete:
            return None
        if contains is not None and contains not in text:
            return None
        return text or (None if contains else " ")

    return await _until(look, timeout, f"log {ref.label} ({'done' if done else contains})")


# --- the pane, live ------------------------------------------------------------------------------
async def test_pod_running_then_failed_live_from_the_watch(k8s, tmp_path):
    session = _session(k8s, tmp_path)
    source = _source(session)
    try:
        await source.fetch()
        k8s.create_pod("p-fail", labels={"dag_id": "exp_dag", "task_id": "train", "run_id": "manual__1",
                                         "try_number": "1"},
                       annotations={"dag_id": "exp.dag", "task_id": "train", "run_id": "manual__2026-11-29T10:00:00"})
        # kwok's pod-ready stage makes it Running; the watch tells the pane (no poll)
        await asyncio.wait_for(source.changed(), 10)
        row = await _row(source, f"{NAMESPACE}/p-fail", lambda it: it.state is State.RUNNING)
        assert row.cells["state"] == "Running" and row.cells["ready"] == "1/1"
        assert row.cells["node"] == "kwok-node"
        # Airflow's annotations win over the label-safe labels
        assert (row.cells["dag"], row.cells["run"], row.cells["task"]) == (
            "exp.dag", "manual__2026-11-29T10:00:00", "train")
        seen = source._seen
        _patch_failed(k8s, "p-fail")
        await asyncio.wait_for(source.changed(), 10)
        assert source.session._watch.version != seen
        row = await _row(source, f"{NAMESPACE}/p-fail", lambda it: it.state is State.FAILED)
        assert row.cells["state"] == "OOMKilled"
        watch = session._watch
        assert watch.stats["lists"] == 1 and watch.stats["relists"] == 0  # one list, then only the watch
    finally:
        await session.aclose()


async def test_watch_resumes_from_its_resource_version_after_a_dropped_connection(k8s, tmp_path):
    session = _session(k8s, tmp_path)
    source = _source(session)
    try:
        await source.fetch()
        watch = session._watch
        rv_before = watch.rv[NAMESPACE]
        k8s.blip.cut()  # the network goes: the watch drops, reconnecting is refused
        await _until(lambda: _true(watch.errors), 10, "the watch to notice")
        with pytest.raises(RuntimeError, match="watch"):
            await source.fetch()  # the pane turns stale, with the error
        k8s.create_pod("p-during-outage")
        await asyncio.sleep(0.5)
        k8s.blip.restore()
        row = await _row(source, f"{NAMESPACE}/p-during-outage", timeout=40)
        assert row is not None
        assert watch.stats["resumes"] >= 1
        assert watch.stats["lists"] == 1 and watch.stats["relists"] == 0  # resumed, not listed again
        assert int(watch.rv[NAMESPACE]) > int(rv_before)
    finally:
        k8s.blip.restore()
        await session.aclose()


async def _true(value):
    return bool(value)


async def test_watch_lists_again_on_410_gone(k8s, tmp_path):
    """An outage long enough for etcd to compact past our resourceVersion (and the API server
    restarted, so its watch cache forgot it): the watch gets 410 Gone and lists again —
    which is also the only way to learn of a pod deleted meanwhile."""
    session = _session(k8s, tmp_path)
    source = _source(session)
    api = k8s.api()
    k8s.create_pod("p-410-old")
    try:
        await _row(source, f"{NAMESPACE}/p-410-old")
        watch = session._watch
        k8s.blip.cut()
        await _until(lambda: _true(watch.errors), 10, "the watch to notice")
        api.delete_namespaced_pod("p-410-old", NAMESPACE, grace_period_seconds=0)
        k8s.create_pod("p-410-new")
        for i in range(5):  # history the watch never saw
            k8s.create_pod(f"churn-{i}", namespace="other")
        k8s.compact()
        k8s.restart_apiserver()
        k8s.blip.restore()
        await _row(source, f"{NAMESPACE}/p-410-new", timeout=60)
        await _gone(source, f"{NAMESPACE}/p-410-old")
        assert watch.stats["relists"] >= 1
    finally:
        k8s.blip.restore()
        await session.aclose()


async def test_bookmarks_are_asked_for_and_counted(k8s, tmp_path):
    """allowWatchBookmarks: a short server-side watch timeout makes the server end each watch;
    the watch goes on from its resourceVersion (a reconnect, never a new list)."""
    session = _session(k8s, tmp_path)
    source = _source(session)
    try:
        await source.fetch()
        watch = session._watch
        watch.watch_seconds = 1
        watch.drop_connections()
        await _until(lambda: _true(watch.stats["reconnects"] >= 2), 20, "two server-ended watches")
        k8s.create_pod("p-after-reconnects")
        await _row(source, f"{NAMESPACE}/p-after-reconnects")
        assert watch.stats["lists"] == 1
    finally:
        await session.aclose()


# --- logs ----------------------------------------------------------------------------------------
async def test_log_opens_at_its_tail_then_follows(k8s, tmp_path):
    log = k8s.log_file("log-pod")
    t0 = time.time() - 60
    log.write_text("".join(cri_line(f"old line {i}", ts=t0 + i) for i in range(1, 11)))
    session = _session(k8s, tmp_path, tail_lines=3)
    source = _source(session)
    k8s.create_pod("log-pod")
    try:
        row = await _row(source, f"{NAMESPACE}/log-pod", lambda it: it.state is State.RUNNING)
        ref = await source.open_log(row)
        text = await _job_text(ref, done=False, contains="old line 10")
        assert text.splitlines() == ["old line 8", "old line 9", "old line 10"]  # the tail only
        with log.open("a") as f:
            for i in range(1, 4):
                f.write(cri_line(f"new line {i}"))
                f.flush()
                await asyncio.sleep(0.2)
        text = await _job_text(ref, done=False, contains="new line 3")
        assert text.splitlines() == ["old line 8", "old line 9", "old line 10", "new line 1", "new line 2",
                                     "new line 3"]  # followed, nothing twice
        assert ref.job.state == "following" or ref.job.state == "streaming"
        # the pod ends: the stream ends whole
        _patch_failed(k8s, "log-pod", reason="Error", code=1)
        await _job_text(ref, done=True, timeout=30)
        assert ref.job.state == "done"
    finally:
        await session.aclose()


async def test_previous_container_log_after_a_restart(k8s, tmp_path):
    k8s.log_file("crash-pod", previous=True).write_text(
        cri_line("starting") + cri_line("java.lang.OutOfMemoryError: Java heap space"))
    k8s.log_file("crash-pod").write_text("")
    session = _session(k8s, tmp_path)
    source = _source(session)
    k8s.create_pod("crash-pod", restart_policy="Always")
    try:
        await _row(source, f"{NAMESPACE}/crash-pod", lambda it: it.state is State.RUNNING)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        k8s.api().patch_namespaced_pod_status("crash-pod", NAMESPACE, {"status": {"containerStatuses": [{
            "name": "base", "image": "busybox", "imageID": "", "ready": False, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": now, "finishedAt": now}},
        }]}})
        row = await _row(source, f"{NAMESPACE}/crash-pod", lambda it: it.state is State.UP_FOR_RETRY)
        assert row.cells["state"] == "CrashLoopBackOff (OOMKilled)" and row.cells["restarts"] == 3
        ref = await source.open_log(row)  # down after a restart: the previous container's log
        assert "(previous)" in ref.label
        text = await _job_text(ref, done=True)
        assert text.splitlines() == ["starting", "java.lang.OutOfMemoryError: Java heap space"]
        call = await source.prepare(PREVIOUS.id, row)  # and on its own key
        await call.run(None)
        assert "(previous)" in call.open_log.label
    finally:
        await session.aclose()


# --- exec, shell -----------------------------------------------------------------------------------
async def test_exec_output_in_a_log_with_its_exit_code(k8s, tmp_path):
    session = _session(k8s, tmp_path)
    source = _source(session)
    k8s.create_pod("p-exec")
    try:
        row = await _row(source, f"{NAMESPACE}/p-exec", lambda it: it.state is State.RUNNING)
        call = await source.prepare(EXEC.id, row)
        assert call.ask_line and call.policy == "change"
        detail = await call.run("sh -c 'echo out-line; echo err-line >&2; exit 3'")
        assert "output in a log tab" in detail
        text = await _job_text(call.open_log, done=True)
        lines = text.splitlines()
        assert sorted(lines[:-1]) == ["err-line", "out-line"]  # each once, stdout and stderr
        assert lines[-1] == "── exit code 3 ──"
        call = await source.prepare(EXEC.id, row)
        await call.run("echo fine")
        assert (await _job_text(call.open_log, done=True)).splitlines() == ["fine", "── exit code 0 ──"]
        call = await source.prepare(EXEC.id, row)
        with pytest.raises(ValueError, match="cannot split"):
            await call.run("echo 'unbalanced")
    finally:
        await session.aclose()


async def test_interactive_shell_gets_a_terminal_and_returns_the_exit_code(k8s, tmp_path):
    # (kwok's tty exec drops what a command writes in its last instants: it closes the stream
    # when the process exits, before its pty is drained; a real kubelet does not. Hence the sleep.)
    session = _session(k8s, tmp_path, blip=False,
                       shell=["sh", "-c", "echo shell-says-hi; read x; echo got-$x; sleep 1; exit 4"])
    source = _source(session)
    k8s.create_pod("p-shell")
    try:
        row = await _row(source, f"{NAMESPACE}/p-shell", lambda it: it.state is State.RUNNING)
        call = await source.prepare(SHELL.id, row)
        await call.run(None)
        argv = list(call.interactive.argv)
        assert "--kubeconfig" in argv and "p-shell" in argv
    finally:
        await session.aclose()
    # run it as the UI would, on a real terminal (a pty)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell command
        os.environ["PYTHONPATH"] = str(SRC)
        os.execv(argv[0], argv)
    out = b""
    end = time.monotonic() + 30
    sent = False
    while time.monotonic() < end:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if b"shell-says-hi" in out and not sent:
            os.write(fd, b"pong\r")
            sent = True
    _, status = os.waitpid(pid, 0)
    assert b"shell-says-hi" in out and b"got-pong" in out, out
    assert os.waitstatus_to_exitcode(status) == 4


# --- describe, delete ------------------------------------------------------------------------------
async def test_describe_is_the_pod_and_its_events(k8s, tmp_path):
    from kubernetes import client

    session = _session(k8s, tmp_path)
    source = _source(session)
    pod = k8s.create_pod("p-describe")
    try:
        k8s.api().create_namespaced_event(NAMESPACE, client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="p-describe.1"), type="Warning", reason="BackOff",
            message="Back-off restarting failed container", count=2,
            first_timestamp=utcnow(), last_timestamp=utcnow(),
            involved_object=client.V1ObjectReference(kind="Pod", name="p-describe", namespace=NAMESPACE,
                                                     uid=pod["metadata"]["uid"])))
        row = await _row(source, f"{NAMESPACE}/p-describe")
        described = await source.describe(row)
        assert described["pod"]["metadata"]["name"] == "p-describe"
        assert "managedFields" not in described["pod"]["metadata"]
        assert [(e["type"], e["reason"], e["count"]) for e in described["events"]] == [("Warning", "BackOff", 2)]
    finally:
        await session.aclose()


async def test_delete_pod_through_the_action(k8s, tmp_path):
    session = _session(k8s, tmp_path, delete_grace_period=1)
    source = _source(session)
    k8s.create_pod("p-delete")
    try:
        row = await _row(source, f"{NAMESPACE}/p-delete", lambda it: it.state is State.RUNNING)
        call = await source.prepare(DELETE.id, row)
        assert call.objects == [f"pod {NAMESPACE}/p-delete"] and "grace period of 1 s" in call.body
        assert call.confirm  # the runner asks first
        await call.run(None)
        await _gone(source, f"{NAMESPACE}/p-delete")  # kwok finishes it, the watch says DELETED
    finally:
        await session.aclose()


# --- the kill step -------------------------------------------------------------------------------
async def test_kill_step_deletes_running_airflow_and_labelled_pods_confirmed_by_the_watch(k8s, tmp_path):
    airflow = {"dag_id": "kill_dag", "task_id": "t1", "run_id": "scheduled__1", "kubernetes_executor": "True"}
    k8s.create_pod("k-airflow-1", labels=airflow)
    k8s.create_pod("k-airflow-2", labels={**airflow, "task_id": "t2"})
    k8s.create_pod("k-labelled", labels={"opsconsole/kill": "yes"})
    k8s.create_pod("k-bystander", labels={"app": "web"})
    k8s.create_pod("k-other-ns", namespace="other", labels=airflow)
    k8s.create_pod("k-done", labels={**airflow, "task_id": "t0"})
    session = _session(k8s, tmp_path, kill_selector="opsconsole/kill=yes", kill_grace_period=1)
    source = _source(session)
    try:
        await _row(source, f"{NAMESPACE}/k-done", lambda it: it.state is State.RUNNING)
        _patch_failed(k8s, "k-done", reason="Completed", code=0)
        k8s.api().patch_namespaced_pod_status("k-done", NAMESPACE, {"status": {"phase": "Succeeded"}})
        await _row(source, f"{NAMESPACE}/k-done", lambda it: it.state is State.SUCCESS)
        (step,) = session.kill_steps()
        assert step.phase == "stop" and "kill_dag" not in step.description
        targets = sorted(o.ident for o in await step.targets())
        assert targets == [f"{NAMESPACE}/k-airflow-1", f"{NAMESPACE}/k-airflow-2", f"{NAMESPACE}/k-labelled"]
        log = StepLog()
        detail = await asyncio.wait_for(step.action(log), step.deadline)
        assert {o.ident: o.state for o in log.objects} == {t: CONFIRMED for t in targets}, log.objects
        assert log.verdict() is None and "3 confirmed" in detail
        reasons = {o.ident: o.reason for o in log.objects}
        assert reasons[f"{NAMESPACE}/k-labelled"] == "deleted (seen by the watch)"
        names = {p.metadata.name for p in k8s.api().list_namespaced_pod(NAMESPACE).items}
        assert not names & {"k-airflow-1", "k-airflow-2", "k-labelled"}
        assert {"k-bystander", "k-done"} <= names
        assert k8s.api().read_namespaced_pod("k-other-ns", "other").metadata.deletion_timestamp is None
        # nothing left: the step says so and acts on nothing
        assert await step.targets() == []
        assert await step.action(StepLog()) == "no running pods to delete"
    finally:
        await session.aclose()


async def test_kill_step_fails_clearly_when_the_cluster_is_unreachable(k8s, tmp_path):
    session = _session(k8s, tmp_path, timeout=2)
    k8s.blip.cut()
    try:
        (step,) = session.kill_steps()
        with pytest.raises(Exception) as err:
            await asyncio.wait_for(step.action(StepLog()), 20)
        assert "Connection" in str(err.value) or "refused" in str(err.value) or "Max retries" in str(err.value)
    finally:
        k8s.blip.restore()
        await session.aclose()
