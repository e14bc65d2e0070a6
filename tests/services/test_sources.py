"""Pane sources: the Runs screen keeps showing the ledger when Airflow can't be reached."""

from __future__ import annotations

import socket

from opsconsole.config.settings import parse_config
from opsconsole.domain.models import RunSpec
from opsconsole.domain.states import State
from opsconsole.services.context import Context
from opsconsole.services.sources import LedgerRunsSource


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_runs_source_lists_the_ledger_and_says_when_airflow_sync_fails(tmp_path):
    config = parse_config(f'[profiles.p.airflow]\nurl = "http://127.0.0.1:{_closed_port()}"\ntimeout = 2\n',
                          str(tmp_path / "c.toml"))
    ctx = Context.create(config, "p", data_dir=tmp_path / "data")
    try:
        run = ctx.ledger.create_run(RunSpec(kind="broker-only", command=["x"], target="airflow:dag"))
        ctx.ledger.update_run(run.id, state=State.QUEUED, external_id="opsconsole__x__1")
        local = ctx.ledger.create_run(RunSpec(kind="local-sample", command=["y"]))
        source = LedgerRunsSource(ctx)
        items = await source.fetch()
        assert [i.key for i in items] == [str(local.id), str(run.id)]
        assert items[1].cells["external"] == "opsconsole__x__1"
        assert source.warning and source.warning.startswith("states not synced: Airflow: run 1")
        # the Status pane of local runs shows only local runs
        (local_pane,) = ctx.session("local").sources()
        assert [i.key for i in await local_pane.fetch()] == [str(local.id)]
    finally:
        ctx.close()
