"""Launch a preset to a real Airflow from the Launch screen: one DAG run with the exact conf."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_helpers import until
from opsconsole.backends.airflow.client import AirflowClient, AirflowSettings
from opsconsole.ui.screens.launch import LaunchScreen
from ui_helpers import wait_for


def _preset(name: str, body: str) -> None:
    d = Path(os.environ["XDG_CONFIG_HOME"]) / "opsconsole" / "presets"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.toml").write_text(body)


async def test_launch_broker_preset_as_a_dag_run_with_the_exact_conf(make_app, server, monkeypatch):
    monkeypatch.setenv("OPS_AF_USER", "admin")
    monkeypatch.setenv("OPS_AF_PASS", "admin")
    _preset("twap-on-demo", 'kind = "broker-only"\ntarget = "airflow"\n[airflow]\ndag_id = "opsconsole_demo"\n'
                            '[values]\nnum_bars = 2\nvolatility_multiple = [0.75, 1.0]\n[sweep]\n'
                            'passivity_factor = [0.5, 0.6]\n')
    app = make_app(f'[profiles.pre]\nenvironment = "PREPROD"\n[profiles.pre.airflow]\nurl = "{server.url}"\n'
                   'username_env = "OPS_AF_USER"\npassword_env = "OPS_AF_PASS"\ndags = ["opsconsole_*"]\n'
                   'timeout = 60\n', profile="pre")
    async with app.run_test(size=(160, 48)) as pilot:
        # `t` on the DAG in Status opens the typed form of the preset that launches it
        pane = app.screen.query_one("#pane-airflow")
        await wait_for(pilot, lambda: any(i.key == "opsconsole_demo" for i in pane.items), timeout=60)
        await pilot.press("2")
        pane.table.move_cursor(row=[i.key for i in pane._shown].index("opsconsole_demo"))
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.preset is not None)
        screen = app.screen
        assert screen.preset.name == "twap-on-demo"
        await wait_for(pilot, lambda: screen.plan is not None and screen.plan.preset.name == "twap-on-demo"
                       and len(screen.plan.specs) == 2)
        specs = screen.plan.specs
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: len(app.context.ledger.list_runs()) == 2
                       and all(r.external_id for r in app.context.ledger.list_runs()), timeout=60)
        runs = sorted(app.context.ledger.list_runs(), key=lambda r: r.id)
    client = AirflowClient(AirflowSettings(url=server.url, username="admin", password="admin", timeout=60))
    try:
        for record, spec in zip(runs, specs):
            assert record.target == "airflow:opsconsole_demo"
            assert record.external_id.startswith("opsconsole__twap-on-demo__")
            run = await until(lambda rid=record.external_id: client.get_run("opsconsole_demo", rid),
                              what="the DAG run")
            assert run.conf == spec.conf
            assert run.conf["cmd"] == spec.shell
            assert run.conf["passivity_factor"] == spec.sweep_point["passivity_factor"]
    finally:
        await client.aclose()
