"""The kill-switch of a profile with Airflow: its plan gains the Airflow step, and firing it marks
the running runs failed and pauses the DAGs, concurrently with the other steps; it confirms the
tasks ended by their task instances' state and fields, never by downloading their logs — so a
200 MB task log is confirmed within the deadline."""

from __future__ import annotations

import asyncio
from pathlib import Path

from airflow_helpers import run_id, running_task, until
from opsconsole.config.settings import parse_config
from opsconsole.domain.states import State
from opsconsole.services.context import Context
from opsconsole.services.killplan import build_plan

DEMO = "opsconsole_demo"


def _context(tmp_path, url: str, deadline: float = 60) -> Context:
    text = f"""
default_profile = "af"
[profiles.af]
[profiles.af.killswitch]
deadline = {deadline}
[profiles.af.airflow]
url = "{url}"
username_env = "OPSC_AF_USER"
password_env = "OPSC_AF_PASS"
dags = ["opsconsole_demo"]
"""
    return Context.create(parse_config(text, str(tmp_path / "config.toml")), None, data_dir=tmp_path / "data")


async def test_kill_switch_fires_the_airflow_step(server, client, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSC_AF_USER", "admin")
    monkeypatch.setenv("OPSC_AF_PASS", "admin")
    ctx = _context(tmp_path, server.url)
    try:
        plan = build_plan(ctx)
        assert [s.kind for s in plan] == ["local", "airflow"]
        assert "opsconsole_demo" in plan[1].description
        await client.set_paused(DEMO, False)
        await client.set_paused("opsconsole_mapped", False)
        rid = run_id("ks")
        await client.trigger(DEMO, {"lines": 100000, "sleep": 0.05}, run_id=rid)
        await running_task(client, DEMO, rid, "emit_lines")
        targets = await ctx.killswitch().targets()
        assert [o.ident for o in targets["stop Airflow runs"]] == [f"{DEMO}/{rid}"]
        updates = []
        report = await ctx.killswitch().fire(by="test", on_update=lambda r: updates.append((r.name, r.outcome)))
        result = {r.kind: r for r in report.results}["airflow"]
        assert result.outcome == "ok", (result.detail, result.log.objects)
        objects = {(o.kind, o.ident): o.state for o in result.log.objects}
        assert objects[("dag run", f"{DEMO}/{rid}")] == "confirmed"
        assert objects[("dag", DEMO)] == "confirmed"
        assert objects[("task", f"{DEMO}/{rid}/emit_lines try 1")] == "confirmed"
        assert (await client.get_run(DEMO, rid)).state is State.FAILED
        dags = {d.dag_id: d.is_paused for d in await client.list_dags()}
        # only the profile's DAGs are paused (other DAGs in the folder keep their own state)
        assert {d: dags[d] for d in (DEMO, "opsconsole_mapped")} == {DEMO: True, "opsconsole_mapped": False}
        assert ("stop Airflow runs", "running") in updates
        audit = ctx.ledger.list_audit(report.kill_id)
        end = next(r for r in audit if r["event"] == "step_end" and r["step"] == "stop Airflow runs")
        assert {o["id"] for o in end["objects"]} >= {f"{DEMO}/{rid}", DEMO}
    finally:
        await client.set_paused(DEMO, False)
        ctx.close()


def _log_file(server, rid: str) -> Path | None:
    logs = server.home / "logs"
    found = [p for p in logs.rglob("*.log") if f"run_id={rid}" in str(p) and "emit_lines" in str(p)]
    return max(found, key=lambda p: p.stat().st_size) if found else None


async def test_a_200_mb_task_log_is_confirmed_stopped_within_the_deadline(airflow3, tmp_path, monkeypatch):
    """Issue 9: a 30-43 MB log made the step FAIL at 27 s (it downloaded the whole log to see
    "Task killed"). With 200 MB of log the step now ends ok well within its deadline, confirmed
    by the task instance's state, and the task process really stops (its log stops growing)."""
    from opsconsole.backends.airflow.client import AirflowClient, AirflowSettings

    monkeypatch.setenv("OPSC_AF_USER", "admin")
    monkeypatch.setenv("OPSC_AF_PASS", "admin")
    client = AirflowClient(AirflowSettings(url=airflow3.url, username="admin", password="admin", timeout=60))
    deadline = 30.0
    ctx = _context(tmp_path, airflow3.url, deadline=deadline)
    try:
        await client.set_paused(DEMO, False)
        rid = run_id("big")
        # ~2 KB a line, no sleep: the log passes 200 MB in a minute or two, and goes on growing
        await client.trigger(DEMO, {"lines": 10_000_000, "sleep": 0, "experiment": "x" * 2000}, run_id=rid)
        await running_task(client, DEMO, rid, "emit_lines")

        async def big_enough():
            path = _log_file(airflow3, rid)
            return path if path is not None and path.stat().st_size >= 200 * 1024 * 1024 else None

        log_path = await until(big_enough, timeout=600, what="the task log to pass 200 MB", step=2.0)
        report = await ctx.killswitch().fire(by="test")
        result = {r.kind: r for r in report.results}["airflow"]
        # ok = confirmed before the step's deadline (past it the engine ends the step "unknown")
        assert result.outcome == "ok", (result.detail, result.log.objects)
        objects = {(o.kind, o.ident): o.state for o in result.log.objects}
        assert objects[("task", f"{DEMO}/{rid}/emit_lines try 1")] == "confirmed"
        # the run is over (marked failed; once, in a full-suite run, Airflow 3 reported it
        # "success" afterwards: the kill-switch asserts what it confirmed, the run is not active)
        assert not (await client.get_run(DEMO, rid)).state.active

        # the process is really gone: its log stops growing (Airflow kills it at its heartbeat)
        async def stopped_growing():
            before = log_path.stat().st_size
            await asyncio.sleep(5.0)
            return log_path.stat().st_size == before

        await until(stopped_growing, timeout=120, what="the task's log to stop growing", step=0.1)
        assert log_path.stat().st_size >= 200 * 1024 * 1024
    finally:
        await client.set_paused(DEMO, False)
        await client.aclose()
        ctx.close()
