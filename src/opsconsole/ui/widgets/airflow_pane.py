"""The Airflow pane: a SourcePane (DAGs › runs › task instances) with Airflow's actions bound to
keys, each acting on the selected item of the current level through `app.perform` (read-only
refusal, a confirmation with Cancel as default), and a "server preparing…" title while a big
log is on its way."""

from __future__ import annotations

import asyncio

import json
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from opsconsole.domain.items import Item
from opsconsole.services import airflow_sources as af
from opsconsole.ui.bindings import bindings
from opsconsole.ui.widgets.source_pane import SourcePane


class TriggerScreen(ModalScreen[dict | None]):
    """The conf of a new run, as JSON (the DAG's params by default); validated before it goes."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="airflow.trigger.cancel"),
                Binding("ctrl+s", "submit", "Trigger", id="airflow.trigger.submit", priority=True)]
    DEFAULT_CSS = """
    TriggerScreen { align: center middle; }
    TriggerScreen > Vertical { width: 90; max-width: 95%; height: auto; max-height: 90%; border: heavy $accent;
                               background: $surface; padding: 0 1; }
    TriggerScreen .title { text-style: bold; padding-bottom: 1; }
    TriggerScreen TextArea { height: 14; }
    TriggerScreen #error { color: $error; height: auto; }
    TriggerScreen Horizontal { height: auto; align-horizontal: right; }
    TriggerScreen Button { margin-left: 2; }
    """

    def __init__(self, dag_id: str, conf: dict) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.conf = conf

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Trigger {self.dag_id}: conf (JSON object)   ctrl+s: next   esc: cancel"),
                         classes="title")
            yield TextArea(json.dumps(self.conf, indent=2), language="json", id="conf")
            yield Static("", id="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Trigger…", id="submit", variant="warning")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def parsed(self) -> dict | None:
        """The conf if the text is a JSON object, else None (and the error is shown)."""
        text = self.query_one(TextArea).text
        try:
            conf = json.loads(text or "{}")
        except ValueError as exc:
            self.query_one("#error", Static).update(Text(f"invalid JSON: {exc}"))
            return None
        if not isinstance(conf, dict):
            self.query_one("#error", Static).update(Text("the conf must be a JSON object {…}"))
            return None
        return conf

    def action_submit(self) -> None:
        conf = self.parsed()
        if conf is not None:
            self.dismiss(conf)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.dismiss(None)


class AirflowPane(SourcePane):
    BINDINGS = bindings("airflow")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.preparing: str | None = None  # "server preparing <what> 12s" while a log is awaited

    # --- title ----------------------------------------------------------------------------------
    def _title(self) -> Text:
        text = super()._title()
        if self.preparing:
            text.append(f"  ⏳ {self.preparing}", style="bold cyan")
        return text

    # --- logs: say the server is preparing, open when the first line is in --------------------------
    async def _open_remote_log(self, open_log, item: Item) -> None:
        start = getattr(self.source, "start_log", None)
        if start is None:
            return await super()._open_remote_log(open_log, item)
        try:
            job = await start(item)  # the spool looks at the disk in a thread
        except Exception as exc:  # noqa: BLE001
            self.notify(f"{item.key}: cannot open log: {exc}", severity="error", markup=False)
            return
        if not job.ready:
            self.notify(f"{item.key}: the Airflow server is preparing the log (≈0.14 s per MB); "
                        "it opens when the first line arrives", title="server preparing…", timeout=6, markup=False)
            started = time.monotonic()

            def tick() -> None:
                self.preparing = f"server preparing log of {item.key}… {time.monotonic() - started:.0f}s"
                self._update_title()

            tick()
            timer = self.set_interval(0.5, tick)
            try:
                await job.wait_ready()
            finally:
                timer.stop()
                self.preparing = None
                self._update_title()
        if job.error and not job.size:
            self.notify(f"{item.key}: cannot read the log: {job.error}", severity="error", markup=False)
            return
        item.log_path = str(job.path)
        self.post_message(self.OpenLog(item))

    # --- actions -----------------------------------------------------------------------------------
    @property
    def hub(self) -> af.AirflowHub:
        return self.source.hub  # type: ignore[attr-defined]

    def _dag_id(self) -> str | None:
        dag_id = self.source.dag_id(self.selected)  # type: ignore[attr-defined]
        if dag_id is None:
            self.notify("select a DAG first", severity="warning")
        return dag_id

    def action_trigger(self) -> None:
        dag_id = self._dag_id()
        if dag_id is None or not self.app.guarded("trigger"):
            return
        self.run_worker(self._trigger(dag_id), group="airflow-trigger", exclusive=True)

    async def _trigger(self, dag_id: str) -> None:
        # A preset that launches this DAG opens the typed Launch form, prefilled; the raw JSON
        # conf editor is for DAGs no preset knows.
        from opsconsole.services.catalog import load_catalog

        catalog = await asyncio.to_thread(load_catalog, self.app.context.preset_dirs())
        preset = next((p for p in catalog.presets
                       if p.target == "airflow" and p.airflow.get("dag_id") == dag_id), None)
        if preset is not None:
            self.notify(f"{dag_id}: launching through preset {preset.name}", markup=False)
            self.app.open_in_launch(preset.name, {})
            return
        hub = self.hub
        try:
            defaults = await af.load_trigger_defaults(hub, dag_id)
        except Exception as exc:  # noqa: BLE001 - an empty conf still lets the operator go on
            self.notify(f"{dag_id}: params unavailable ({exc})", severity="warning", markup=False)
            defaults = {}
        conf = await self.app.push_screen_wait(TriggerScreen(dag_id, defaults))
        if conf is None:
            return
        self.app.perform("trigger", f"Trigger {dag_id}?",
                         f"A new run of {dag_id} with conf:\n{json.dumps(conf, indent=2)}",
                         lambda: af.trigger(hub, dag_id, conf), confirm_label="Trigger")

    def action_toggle_pause(self) -> None:
        dag_id = self._dag_id()
        if dag_id is None:
            return
        dags = self.stack[0] if self.stack else self.source
        dag = getattr(dags, "objects", {}).get(dag_id)
        pause = not (dag.is_paused if dag is not None else False)
        action = "pause" if pause else "unpause"
        hub = self.hub
        self.app.perform(action, f"{action.title()} {dag_id}?",
                         f"{'No new runs of' if pause else 'The scheduler runs'} {dag_id} "
                         f"{'will start (running ones go on)' if pause else 'again on its schedule'}.",
                         lambda: af.set_paused(hub, dag_id, pause), confirm_label=action.title())

    def _need(self, levels: tuple[str, ...], what: str) -> Item | None:
        item = self.selected
        if getattr(self.source, "level", "") not in levels or item is None:
            self.notify(f"{what}: select a run (enter on a DAG) or a task instance", severity="warning")
            return None
        return item

    def action_mark_failed(self) -> None:
        item = self._need(("runs", "tasks"), "mark failed")
        if item is None:
            return
        hub, source = self.hub, self.source
        if source.level == "runs":  # type: ignore[attr-defined]
            dag_id, run_id = source.dag, item.key  # type: ignore[attr-defined]
            self.app.perform("mark_failed", f"Mark run {run_id} failed?",
                             f"{dag_id} {run_id}: the run and its unfinished tasks become failed; running task "
                             "processes are killed at their worker's next heartbeat (6–15 s).",
                             lambda: af.mark_run_failed(hub, dag_id, run_id), confirm_label="Mark failed")
            return
        ti = source.task_instance(item)  # type: ignore[attr-defined]
        self.app.perform("set_state", f"Mark {ti.label} failed?",
                         f"{ti.dag_id} {ti.run_id} {ti.label}: set the task instance's state to failed.",
                         lambda: af.mark_task_failed(hub, ti), confirm_label="Mark failed")

    def _clear(self, only_failed: bool) -> None:
        item = self._need(("runs", "tasks"), "clear")
        if item is None:
            return
        hub, source = self.hub, self.source
        if source.level == "runs":  # type: ignore[attr-defined]
            dag_id, run_id, ti = source.dag, item.key, None  # type: ignore[attr-defined]
            what = f"every {'failed ' if only_failed else ''}task of run {run_id}"
        else:
            ti = source.task_instance(item)  # type: ignore[attr-defined]
            dag_id, run_id = ti.dag_id, ti.run_id
            what = f"{ti.label}{' (if failed)' if only_failed else ''} and its downstream tasks"
        self.app.perform("clear", f"Clear {what}?",
                         f"{dag_id} {run_id}: clear {what}. They run again (a new try).",
                         lambda: af.clear(hub, dag_id, run_id, ti, only_failed=only_failed), confirm_label="Clear")

    def action_clear(self) -> None:
        self._clear(only_failed=False)

    def action_clear_failed(self) -> None:
        self._clear(only_failed=True)

    async def on_unmount(self) -> None:
        root = self.stack[0] if self.stack else self.source
        hub = getattr(root, "hub", None)
        if hub is not None:
            try:
                await hub.close()
            except Exception:  # noqa: BLE001 - closing on exit must not raise
                pass
