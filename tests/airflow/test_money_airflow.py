"""Balances, P&L and the execution report from a real Airflow DAG shaped like seed 000's
full-system run: flatten_account1 → system_run → flatten_account2 → run_notebooks
(fixtures/dags3/opsconsole_money.py; dags2/ the same with Airflow 2 imports), on Airflow 3
and 2. What the logs printed is what the report says."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_helpers import until

DAG = "opsconsole_money"
CONF = {
    "pre_usdt": 6090.5617341, "post_usdt": 6102.2201,
    "done_waiting": ["2023-10-05 07:40:00.078250-04:00", "2023-10-05 07:45:00.011003-04:00"],
    "warnings": 3, "errors": 2,
    "notebooks": ["Master_broker_debugging", "Master_execution_analysis", "Master_bid_ask_execution_analysis"],
}


@pytest.fixture
async def context(server, tmp_path, monkeypatch):
    import opsconsole.backends.registry  # noqa: F401
    from opsconsole.config.settings import parse_config
    from opsconsole.services.context import Context

    monkeypatch.setenv("T_AF_USER", "admin")
    monkeypatch.setenv("T_AF_PASSWORD", "admin")
    config = parse_config(f"""
[profiles.pre]
environment = "PREPROD"
[profiles.pre.airflow]
url = "{server.url}"
username_env = "T_AF_USER"
password_env = "T_AF_PASSWORD"
dags = ["opsconsole_*"]
timeout = 60
""", str(tmp_path / "config.toml"))
    ctx = Context.create(config, "pre", data_dir=tmp_path / "data")
    yield ctx
    await ctx.aclose()
    ctx.close()


async def test_balances_and_report_from_the_seed_shaped_dag(context, tmp_path):
    from opsconsole.backends.airflow.target import AirflowTarget
    from opsconsole.services.balances import Balances
    from opsconsole.backends.airflow.client import AirflowError
    from opsconsole.services.report import build_report

    session = context.session("airflow")
    client = session.client

    async def visible():
        try:
            return await client.get_dag(DAG)
        except Exception:  # noqa: BLE001 - not parsed yet
            return None

    await until(visible, 240, f"DAG {DAG} parsed")

    async def unpaused():
        try:  # the test server's SQLite answers "Database error" (500) while the scheduler writes
            return await client.set_paused(DAG, False)
        except AirflowError as exc:
            if "500" not in str(exc):
                raise
            return None

    await until(unpaused, 60, f"DAG {DAG} unpaused")
    detail = await AirflowTarget(session).trigger_conf(DAG, CONF)
    (run,) = context.ledger.list_runs(5)
    assert f"ledger run {run.id}" in detail and run.external_id

    async def finished():
        await session.sync()
        r = context.ledger.get_run(run.id)
        return r if r.state.final else None

    run = await until(finished, 240, "the DAG run finished", step=1.0)
    assert run.state.value == "success"

    balance = await Balances(context).run_balance(run)
    assert balance.pre.quote_total == 6090.5617341 and balance.post.quote_total == 6102.2201
    assert balance.pre.detail == "C5b.flatten_account1" and balance.post.detail == "C5b.flatten_account2"
    assert balance.pnl == pytest.approx(6102.2201 - 6090.5617341)
    assert set(balance.pre.assets) == {"BNB", "BTC", "BUSD", "ETH", "TUSD", "USDC", "USDP", "USDT", "XRP"}

    report = await build_report(context, run.id)
    assert report.start == datetime(2023, 10, 5, 11, 40, 0, 78250, tzinfo=timezone.utc)
    assert report.start_source == 'first "done waiting" line (C5b.system_run)'
    assert report.end == run.ended_at
    assert report.notebooks == [f"https://notebooks.example.invalid/C5b/{n}.20231005.html" for n in CONF["notebooks"]]
    assert (report.warnings, report.errors) == (3, 2)
    assert report.parts == ["C5b.flatten_account1", "C5b.system_run", "C5b.flatten_account2", "C5b.run_notebooks"]
    md = context.ledger.get_report(run.id)["markdown"]
    assert "- **Pre-run balance (USDT):** 6,090.5617 USDT — log run log" in md
    assert "- **P&L (USDT):** +11.6584 USDT" in md
    assert "- **Start time (UTC):** 2023-10-05 11:40:00.078250 UTC" in md
