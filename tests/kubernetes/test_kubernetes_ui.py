"""The Kubernetes pane in the app (Textual pilot) against the real API server: rows appear and
change live from the watch; `x` asks for a command and opens its output in a log tab; a
read-only profile refuses delete; the shell's suspend path reports a missing terminal."""

from __future__ import annotations

from pathlib import Path

from k8s_peer import NAMESPACE
from ui_helpers import wait_for

from opsconsole.ui.widgets.source_pane import SourcePane


def _config(peer, readonly: bool = False) -> str:
    return f"""default_profile = "k"
[profiles.k]
readonly = {str(readonly).lower()}
[profiles.k.kubernetes]
kubeconfig = "{peer.kubeconfig}"
namespaces = ["{NAMESPACE}"]
"""


def _pane(app) -> SourcePane:
    return next(p for p in app.screen.query(SourcePane) if p.source.key == "kubernetes")


def _cell(pane, key: str, column: str) -> str:
    try:
        return str(pane.table.get_cell(key, column))
    except Exception:  # noqa: BLE001 - not shown (yet)
        return ""


async def test_pane_rows_follow_the_watch_and_exec_opens_a_log_tab(k8s, make_app):
    k8s.create_pod("ui-pod", labels={"dag_id": "ui_dag", "task_id": "t", "run_id": "r1"})
    app = make_app(_config(k8s))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        pane = _pane(app)
        key = f"{NAMESPACE}/ui-pod"
        await wait_for(pilot, lambda: _cell(pane, key, "state") == "Running", timeout=30)
        assert next(it for it in pane.items if it.key == key).cells["dag"] == "ui_dag"
        # a change in the API server reaches the row without a poll (the fallback is 30 s)
        k8s.api().patch_namespaced_pod_status("ui-pod", NAMESPACE, {"status": {"phase": "Failed", "reason": "Evicted"}})
        await wait_for(pilot, lambda: _cell(pane, key, "state") == "Evicted", timeout=10)
        # exec: the prompt, then the output in a log tab, ending with the exit code
        pane.table.focus()
        pane.table.move_cursor(row=[it.key for it in pane._shown].index(key))
        await pilot.pause()
        await pilot.press("x")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "LinePrompt")
        for ch in "sh -c 'echo from-ui; exit 5'":
            await pilot.press({" ": "space", "'": "apostrophe", ";": "semicolon", "-": "minus"}.get(ch, ch))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "logs" and app.screen.tabs.tab_count == 1, timeout=20)
        view = app.screen.query("LogView").first()
        path = Path(view.ref.path)
        await wait_for(pilot, lambda: path.exists() and "exit code 5" in path.read_text(), timeout=20)
        assert path.read_text().splitlines() == ["from-ui", "── exit code 5 ──"]


async def test_read_only_profile_refuses_delete(k8s, make_app):
    k8s.create_pod("ui-ro-pod")
    app = make_app(_config(k8s, readonly=True))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        pane = _pane(app)
        key = f"{NAMESPACE}/ui-ro-pod"
        await wait_for(pilot, lambda: _cell(pane, key, "state") == "Running", timeout=30)
        pane.table.focus()
        pane.table.move_cursor(row=[it.key for it in pane._shown].index(key))
        await pilot.pause()
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: any("read-only" in str(n.message) for n in app._notifications))
        assert k8s.api().read_namespaced_pod("ui-ro-pod", NAMESPACE).metadata.deletion_timestamp is None


async def test_related_jumps_from_a_task_instance_to_its_pods(k8s, make_app, monkeypatch):
    """J on an item that names an Airflow task instance (Item.refs, as the Airflow pane's task
    rows do) drills the pods pane into that task's pods; escape goes back."""
    from opsconsole.domain.items import Item
    from opsconsole.domain.states import State

    run = "manual__2026-11-29T10:00:00+00:00"
    k8s.create_pod("rel-mine", annotations={"dag_id": "rel_dag", "run_id": run, "task_id": "train"},
                   labels={"dag_id": "rel_dag", "task_id": "train"})
    k8s.create_pod("rel-other-task", annotations={"dag_id": "rel_dag", "run_id": run, "task_id": "eval"},
                   labels={"dag_id": "rel_dag", "task_id": "eval"})
    ti = Item(key="train", state=State.RUNNING, cells={},
              refs={"airflow.dag_id": "rel_dag", "airflow.run_id": run, "airflow.task_id": "train"})
    app = make_app(_config(k8s))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: app.current_mode == "status")
        pods = _pane(app)
        await wait_for(pilot, lambda: _cell(pods, f"{NAMESPACE}/rel-mine", "state") == "Running", timeout=30)
        other = next(p for p in app.screen.query(SourcePane) if p is not pods)
        original = SourcePane.selected
        monkeypatch.setattr(SourcePane, "selected", property(lambda self: ti if self is other else original.fget(self)))
        other.table.focus()
        await pilot.pause()
        await pilot.press("J")
        await wait_for(pilot, lambda: pods.stack and [it.key for it in pods._shown] == [f"{NAMESPACE}/rel-mine"],
                       timeout=10)
        assert pods.source.title.startswith("Pods of rel_dag / manual__2026-11-29T10:00:00+00:00 / train")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not pods.stack and len(pods._shown) > 1)
