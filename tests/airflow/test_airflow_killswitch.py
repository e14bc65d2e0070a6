"""The kill-switch of a profile with Airflow: its plan gains the Airflow step, and firing it marks
the running runs failed and pauses the DAGs, concurrently with the other steps, ending only when
the task processes are gone."""

from __future__ import annotations

from airflow_helpers import run_id, running_task
from opsconsole.config.settings import parse_config
from opsconsole.domain.states import State
from opsconsole.services.context import Context
from opsconsole.services.killplan import build_plan

DEMO = "opsconsole_demo"


def _context(tmp_path, url: str) -> Context:
    text = f"""
default_profile = "af"
[profiles.af]
[profiles.af.killswitch]
deadline = 60
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
        updates = []
        report = await ctx.killswitch().fire(by="test", on_update=lambda r: updates.append((r.name, r.outcome)))
        result = {r.kind: r for r in report.results}["airflow"]
        assert result.outcome == "ok", result.detail
        assert f"{DEMO}/{rid}" in result.detail and "paused: opsconsole_demo" in result.detail
        assert "task process(es) stopped" in result.detail
        assert (await client.get_run(DEMO, rid)).state is State.FAILED
        dags = {d.dag_id: d.is_paused for d in await client.list_dags()}
        assert dags == {DEMO: True, "opsconsole_mapped": False}  # only the profile's DAGs
        assert ("stop Airflow runs", "running") in updates
    finally:
        await client.set_paused(DEMO, False)
        ctx.close()
