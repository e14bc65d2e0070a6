"""Balances, P&L and the execution report from a local run's log; the ledger's snapshot and
report tables (schema version 4)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from opsconsole.domain.balances import EXCHANGE, POST, PRE, AssetBalance, BalanceSnapshot
from opsconsole.domain.models import RunSpec
from opsconsole.domain.states import State

SEED_LOG = """2023-10-05 07:39:58,001 INFO  broker flatten_account: balance before run:
{'BNB': 0.0,
 'BTC': 0.0,
 'USDT': 6090.5617341,
 'XRP': 0.0}
2023-10-05 07:39:59,500 INFO  conf {'a': 'b'}
# wall_clock_time=2023-10-05 07:40:00.078250-04:00: done waiting
2023-10-05 07:40:01,000 WARNING broker child order 3 not filled in time
2023-10-05 07:40:02,000 ERROR broker order rejected: -2010 insufficient balance
2023-10-05 07:40:03,000 INFO  an INFO line that mentions an error in prose
# wall_clock_time=2023-10-05 07:45:00.000000-04:00: done waiting
2023-10-05 09:40:00,000 INFO  run_notebooks: published notebook https://notebooks.example.invalid/C5b/Master_execution_analysis.html.
2023-10-05 09:40:00,100 INFO  see https://unrelated.example.invalid/dashboard for the rest
2023-10-05 09:41:00,000 INFO  broker flatten_account: balance after run:
{'BNB': 0.0,
 'BTC': 0.0,
 'USDT': 6102.2201,
 'XRP': 0.0}
"""


def test_ledger_v4_snapshots_and_reports(ledger):
    assert ledger.schema_version() == 4
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    snap = BalanceSnapshot("a1", t, "USDT", {"BTC": AssetBalance(0.1, 0.2, 0.3)}, 1234.5, EXCHANGE, PRE, 7,
                           unpriced=("DOGE",))
    sid = ledger.add_snapshot(snap)
    (back,) = ledger.list_snapshots(run_id=7)
    assert back.id == sid and back.assets["BTC"] == AssetBalance(0.1, 0.2, 0.3) and back.unpriced == ("DOGE",)
    assert back.taken_at == t and back.role == PRE and ledger.last_snapshot("a1").quote_total == 1234.5
    ledger.set_report_notes(7, "caveat: new price method")
    ledger.save_report(7, "# report", {"pnl": 1.0})
    stored = ledger.get_report(7)
    assert stored["notes"] == "caveat: new price method" and stored["markdown"] == "# report"
    assert stored["fields"] == {"pnl": 1.0}


def test_a_ledger_at_version_2_is_upgraded_in_place(tmp_path):
    from opsconsole.services.ledger import MIGRATIONS, Ledger

    path = tmp_path / "ledger.sqlite3"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        migration(db)
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert ledger.schema_version() == 4 and ledger.list_snapshots() == []


def _local_run(context, log: Path, parameters=None, state=State.SUCCESS):
    run = context.ledger.create_run(RunSpec(kind="local-sample", command=["x"], parameters=parameters or {},
                                            preset="seed-run", target="local"), state=State.RUNNING)
    return context.ledger.update_run(run.id, state=state, log_path=str(log),
                                     started_at=datetime(2023, 10, 5, 11, 39, 58, tzinfo=timezone.utc),
                                     ended_at=datetime(2023, 10, 5, 13, 41, tzinfo=timezone.utc))


@pytest.fixture
def context(tmp_path):
    import opsconsole.backends.registry  # noqa: F401
    from opsconsole.config.settings import builtin_config
    from opsconsole.services.context import Context

    ctx = Context.create(builtin_config(), None, data_dir=tmp_path / "data")
    yield ctx
    ctx.close()


async def test_run_balance_and_report_from_a_local_log(context, tmp_path):
    from opsconsole.services.balances import Balances
    from opsconsole.services.report import build_report

    log = tmp_path / "run.log"
    log.write_text(SEED_LOG)
    run = _local_run(context, log, {"strategy": "C5b", "run_duration": 7200, "volatility_multiple": [0.75, 0.7]})
    rb = await Balances(context).run_balance(run)
    assert rb.pre.quote_total == 6090.5617341 and rb.post.quote_total == 6102.2201
    assert rb.pnl == pytest.approx(6102.2201 - 6090.5617341)
    # the log's snapshots are in the ledger now: read once
    assert [(s.role, s.source) for s in context.ledger.list_snapshots(run_id=run.id)] == [(PRE, "log"), (POST, "log")]
    report = await build_report(context, run.id)
    assert report.start == datetime(2023, 10, 5, 11, 40, 0, 78250, tzinfo=timezone.utc)
    assert report.description == "run_duration=7200, strategy=C5b, volatility_multiple=0.75 0.7"
    assert report.notebooks == ["https://notebooks.example.invalid/C5b/Master_execution_analysis.html"]
    assert (report.warnings, report.errors) == (1, 1)
    md = context.ledger.get_report(run.id)["markdown"]
    assert "- **Start time (UTC):** 2023-10-05 11:40:00.078250 UTC" in md
    assert "- **Pre-run balance (USDT):** 6,090.5617 USDT" in md and "- **Post-run balance (USDT):** 6,102.2201 USDT" in md
    assert "- **P&L (USDT):** +11.6584 USDT" in md
    assert "- <https://notebooks.example.invalid/C5b/Master_execution_analysis.html>" in md
    assert "## Notes\n\n(none yet)" in md


async def test_exchange_snapshots_win_over_log_dicts_and_notes_survive_a_rebuild(context, tmp_path):
    from opsconsole.services.balances import Balances
    from opsconsole.services.report import build_report, set_notes

    log = tmp_path / "run.log"
    log.write_text(SEED_LOG)
    run = _local_run(context, log)
    t = datetime(2023, 10, 5, 11, 0, tzinfo=timezone.utc)
    for role, total in ((PRE, 100.0), (POST, 90.0)):
        context.ledger.add_snapshot(BalanceSnapshot("a1", t, "USDT", {"USDT": AssetBalance(total, 0, total)}, total,
                                                    EXCHANGE, role, run.id))
    rb = await Balances(context).run_balance(run)
    assert (rb.pre.source, rb.pnl) == ("exchange", -10.0)
    await build_report(context, run.id)
    md = await set_notes(context, run.id, "Notebook 2 crashed; *re-run by hand*")
    assert md.endswith("## Notes\n\nNotebook 2 crashed; *re-run by hand*\n")
    report = await build_report(context, run.id)
    assert report.notes == "Notebook 2 crashed; *re-run by hand*"
    assert context.ledger.get_report(run.id)["markdown"].endswith("*re-run by hand*\n")


async def test_a_run_without_done_waiting_starts_at_its_start_and_says_so(context, tmp_path):
    from opsconsole.services.report import build_report

    log = tmp_path / "run.log"
    log.write_text("2023-10-05 07:40:01,000 INFO nothing here\n\x1b[31m[bold]markup[/bold]\n")
    run = _local_run(context, log, {"title": "[red]x[/red] `y` <b>"})
    report = await build_report(context, run.id)
    assert report.start == run.started_at and 'no "done waiting" line' in report.start_source
    md = context.ledger.get_report(run.id)["markdown"]
    assert "title=\\[red\\]x\\[/red\\] \\`y\\` \\<b\\>" in md and "- **P&L (USDT):** —" in md


def test_report_cli_writes_the_file(tmp_path):
    from opsconsole.config import paths
    from opsconsole.services.ledger import Ledger

    log = tmp_path / "run.log"
    log.write_text(SEED_LOG)
    d = paths.profile_dir("local")
    d.mkdir(parents=True, exist_ok=True)
    with Ledger(Ledger.default_path(d)) as ledger:
        run = ledger.create_run(RunSpec(kind="local-sample", command=["x"], parameters={"steps": 5},
                                        preset="p", target="local"), state=State.RUNNING)
        ledger.update_run(run.id, state=State.SUCCESS, log_path=str(log))
    out = tmp_path / "out" / "report.md"
    cmd = [sys.executable, "-m", "opsconsole", "report", str(run.id), "--out", str(out), "--notes", "all good"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith(f"# Execution report — run {run.id}: p") and text.endswith("## Notes\n\nall good\n")
    assert "+11.6584 USDT" in text
    missing = subprocess.run([sys.executable, "-m", "opsconsole", "report", "999"], capture_output=True, text=True,
                             timeout=120, stdin=subprocess.DEVNULL)
    assert missing.returncode == 1 and "no run 999" in missing.stderr
    with Ledger(Ledger.default_path(d)) as ledger:
        assert ledger.get_report(run.id)["notes"] == "all good"


def test_release_shows_the_reconciliation_first():
    from opsconsole.config import paths
    from opsconsole.services.ledger import Ledger

    d = paths.profile_dir("local")
    d.mkdir(parents=True, exist_ok=True)
    with Ledger(Ledger.default_path(d)) as ledger:
        run = ledger.create_run(RunSpec(kind="local-sample", command=["x"], preset="still-going", target="local"),
                                state=State.RUNNING)
        ledger.set_halt("test", "tester")
    done = subprocess.run([sys.executable, "-m", "opsconsole", "release", "--yes"], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    head, _, tail = done.stdout.partition("released")
    assert f"reconciliation before release:\nruns still alive:\n  run {run.id} still-going running on local" in head
    with Ledger(Ledger.default_path(d)) as ledger:
        assert ledger.halt_latch() is None
