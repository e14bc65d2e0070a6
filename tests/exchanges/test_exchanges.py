"""The exchanges backend with the real ccxt against the Binance-spot fake: every signed request
is verified (HMAC-SHA256, timestamp window), orders and balances are real state."""

from __future__ import annotations

import asyncio
import time

import pytest

from exchange_helpers import exchanges

from opsconsole.domain.kill import StepLog

pytestmark = pytest.mark.asyncio


def _source(context, key):
    return next(s for s in exchanges(context).sources() if s.key == key)


async def test_balances_pane_values_every_asset_in_the_quote_currency(fake, make_context):
    a = fake.account("key-a", "secret-a", USDT="1000", BTC="0.01", ETH="0.5", DOGE="3")
    fake.limit(a, "BTCUSDT", "SELL", "0.002", "70000")  # locks 0.002 BTC
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")})
    items = await _source(ctx, "exchanges_balances").fetch()
    rows = {i.key: i for i in items}
    total = rows["a1/Σ"]
    assert total.detail["quote_total"] == pytest.approx(1000 + 0.01 * 60000 + 0.5 * 3000)
    assert total.detail["unpriced"] == ["DOGE"] and "unpriced: DOGE" in total.cells["note"]
    btc = rows["a1/BTC"].detail
    assert (btc["free"], btc["used"], btc["total"]) == pytest.approx((0.008, 0.002, 0.01))
    orders = await _source(ctx, "exchanges_orders").fetch()
    (order,) = orders
    assert order.cells["symbol"] == "BTC/USDT" and order.cells["side"] == "sell"
    assert order.cells["price"] == "70,000.00" and order.cells["amount"] == "0.002" and order.created_at
    # every private call was signed and accepted; markets were loaded once for the session
    assert all(status == 200 for _, _, status in fake.requests)
    assert sum(1 for _, path, _ in fake.requests if path == "/api/v3/exchangeInfo") == 1


async def test_bad_secret_and_unknown_key_are_auth_errors_shown_as_stale_rows(fake, make_context):
    fake.account("key-a", "secret-a", USDT="10")
    ctx = make_context(fake, {"a1": ("key-a", "not-the-secret"), "a2": ("no-such-key", "x")})
    items = await _source(ctx, "exchanges_balances").fetch()
    notes = {i.key: i.cells["note"] for i in items}
    assert "AuthenticationError" in notes["a1/error"] and "Signature for this request is not valid" in notes["a1/error"]
    assert "AuthenticationError" in notes["a2/error"] and "Invalid API-key" in notes["a2/error"]
    assert "not-the-secret" not in str(items) and "secret-a" not in str(items)
    assert ("GET", "/api/v3/account", 400) in fake.requests and ("GET", "/api/v3/account", 401) in fake.requests


async def test_a_request_outside_the_recv_window_is_refused(fake, make_context):
    fake.account("key-a", "secret-a", USDT="10")
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")})
    client = exchanges(ctx).client("a1")
    await client.markets()
    client.exchange.nonce = lambda: int(time.time() * 1000) - 120_000  # a clock two minutes late
    import ccxt

    with pytest.raises(ccxt.InvalidNonce, match="outside of the recvWindow"):
        await client.balance()


async def test_rate_limit_answers_make_rows_stale_and_are_retried_by_the_kill_step(fake, make_context):
    a = fake.account("key-a", "secret-a", USDT="1000", BTC="0.01")
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")})
    pane = _source(ctx, "exchanges_balances")
    assert any(i.key == "a1/Σ" for i in await pane.fetch())
    fake.fail_next(429, 1)
    stale = await pane.fetch()
    assert stale and all(i.state.value == "unknown" and "stale: DDoSProtection" in i.cells["note"] for i in stale)
    assert {i.key for i in stale} >= {"a1/Σ", "a1/BTC"}  # the last rows kept, marked stale
    fake.fail_next(418, 1)
    assert "418" in (await pane.fetch())[0].cells["note"]
    order = fake.limit(a, "BTCUSDT", "SELL", "0.001", "65000")
    fake.fail_next(429, 2, retry_after=0)
    step = next(s for s in exchanges(ctx).kill_steps() if s.phase == "halt")
    log = StepLog()
    detail = await step.action(log)
    assert [o.state for o in log.objects] == ["confirmed"] and f"#{order.id}" in log.objects[0].ident
    assert "1 listed" in detail and fake.total_open() == 0
    assert sum(1 for _, _, status in fake.requests if status == 429) == 3


async def test_cancel_racing_a_fill_reports_the_fill(fake, make_context):
    from opsconsole.backends.exchanges import CANCEL

    a = fake.account("key-a", "secret-a", USDT="1000", BTC="0.01")
    order = fake.limit(a, "BTCUSDT", "SELL", "0.005", "61000")
    fake.before_cancel = lambda acct, o: fake.fill(acct, o.id)  # the fill lands first
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")})
    pane = _source(ctx, "exchanges_orders")
    (item,) = await pane.fetch()
    call = await pane.prepare(CANCEL.id, item)
    assert call.objects == [f"order a1 BTC/USDT #{order.id}"]
    detail = await call.run(None)
    assert detail == f"a1 BTC/USDT #{order.id}: not open any more (filled 0.005 before the cancel)"
    assert float(a.balances["USDT"][0]) == pytest.approx(1000 + 0.005 * 61000)
    assert ("DELETE", "/api/v3/order", 400) in fake.requests  # -2011 Unknown order sent


async def test_cancel_all_verifies_with_a_second_listing_and_reports_residual_orders(fake, make_context):
    a = fake.account("key-a", "secret-a", USDT="5000", BTC="0.1", ETH="2")
    b = fake.account("key-b", "secret-b", USDT="5000", XRP="100")
    first = [fake.limit(a, "BTCUSDT", "SELL", "0.01", "70000"), fake.limit(a, "ETHUSDT", "BUY", "0.1", "2500"),
             fake.limit(a, "ETHUSDT", "SELL", "0.1", "3500"), fake.limit(b, "XRPUSDT", "SELL", "20", "0.9")]
    placed = []

    def strategy_places_again(acct, symbol):  # a strategy still running re-quotes right after
        if symbol == "ETHUSDT" and not placed:
            placed.append(fake.limit(acct, "ETHUSDT", "BUY", "0.1", "2400"))

    fake.after_cancel_all = strategy_places_again
    ctx = make_context(fake, {"a1": ("key-a", "secret-a"), "b1": ("key-b", "secret-b")})
    step = next(s for s in exchanges(ctx).kill_steps() if s.phase == "halt")
    targets = await step.targets()
    assert sorted(t.ident for t in targets) == sorted(
        f"{n} {s} #{o.id}" for n, s, o in zip(("a1", "a1", "a1", "b1"),
                                              ("BTC/USDT", "ETH/USDT", "ETH/USDT", "XRP/USDT"), first))
    log = StepLog()
    await step.action(log)
    states = {o.ident: (o.state, o.reason) for o in log.objects}
    assert all(states[f"{n} {s} #{o.id}"][0] == "confirmed" for n, s, o in
               zip(("a1", "a1", "a1", "b1"), ("BTC/USDT", "ETH/USDT", "ETH/USDT", "XRP/USDT"), first))
    assert states[f"a1 ETH/USDT #{placed[0].id}"] == ("confirmed", "residual after cancel-all, cancelled alone")
    assert fake.total_open() == 0 and log.verdict() is None
    assert a.balances["USDT"] == [5000, 0] and a.balances["ETH"] == [2, 0]  # every lock released

    # a strategy that re-places on every cancel: the residual is reported, per order
    def always(acct, symbol):
        if symbol == "BTCUSDT":
            placed.append(fake.limit(acct, "BTCUSDT", "SELL", "0.01", "71000"))

    fake.after_cancel_all = always
    fake.before_cancel = lambda acct, o: placed.append(fake.limit(acct, "BTCUSDT", "SELL", "0.01", "72000"))
    fake.limit(a, "BTCUSDT", "SELL", "0.01", "70000")
    log = StepLog()
    await step.action(log)
    left = [o for o in log.objects if o.state == "not confirmed"]
    assert left and all("still open after cancel-all and a cancel" in o.reason for o in left)
    assert log.verdict() == "unknown"


async def test_flatten_sells_to_the_quote_respecting_lot_size_and_min_notional(fake, make_context):
    a = fake.account("key-a", "secret-a", USDT="100", BTC="0.0123456", ETH="0.001", XRP="7.9")
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")}, flatten=True)
    steps = {s.phase: s for s in exchanges(ctx).kill_steps()}
    assert set(steps) == {"halt", "flatten"} and steps["flatten"].enabled
    log = StepLog()
    detail = await steps["flatten"].action(log)
    objects = {o.ident: o for o in log.objects}
    assert objects["a1 BTC"].state == "confirmed" and objects["a1 BTC"].reason.startswith("sold 0.01234 BTC")
    assert "dust left 5.6e-06 BTC" in objects["a1 BTC"].reason
    assert objects["a1 ETH"].reason == "dust left: 0.001 ETH (notional 3 under the minimum 5)"
    assert objects["a1 XRP"].reason == "dust left: 7.9 XRP (notional 3.5 under the minimum 5)"
    assert detail == "a1: 1 sold, 2 dust"
    assert float(a.balances["BTC"][0]) == pytest.approx(0.0000056) and float(a.balances["XRP"][0]) == pytest.approx(7.9)
    assert float(a.balances["USDT"][0]) == pytest.approx(100 + 0.01234 * 60000)
    # the market order the fake accepted had a quantity on the lot-size grid
    assert ("POST", "/api/v3/order", 200) in fake.requests


async def test_flatten_is_opt_in_refused_read_only_and_on_a_sandbox_mismatch(fake, make_context):
    a = fake.account("key-a", "secret-a", USDT="100", BTC="0.01")
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")})
    assert [s.phase for s in exchanges(ctx).kill_steps()] == ["halt"]  # not opted in
    ro = make_context(fake, {"a1": ("key-a", "secret-a")}, flatten=True, readonly=True)
    (flatten,) = [s for s in exchanges(ro).kill_steps() if s.phase == "flatten"]
    assert not flatten.enabled and "read-only" in flatten.description
    prod = make_context(fake, {"a1": ("key-a", "secret-a")}, flatten=True, environment="PROD", sandbox=True)
    (flatten,) = [s for s in exchanges(prod).kill_steps() if s.phase == "flatten"]
    log = StepLog()
    await flatten.action(log)
    (obj,) = log.objects
    assert obj.state == "failed" and obj.reason == "refused: sandbox account in a production profile"
    assert float(a.balances["BTC"][0]) == pytest.approx(0.01)
    assert not any(method == "POST" for method, _, _ in fake.requests)


async def test_snapshot_action_keeps_the_balance_in_the_ledger_and_reconciliation_compares(fake, make_context):
    from opsconsole.backends.exchanges import SNAPSHOT
    from opsconsole.services.actions import ActionRunner
    from opsconsole.services.reconcile import format_reconciliation, reconciliation

    a = fake.account("key-a", "secret-a", USDT="1000", BTC="0.01")
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")})
    pane = _source(ctx, "exchanges_balances")
    items = await pane.fetch()
    call = await pane.prepare(SNAPSHOT.id, next(i for i in items if i.key == "a1/BTC"))
    outcome = await ActionRunner(ctx, "tester").run(call)
    assert outcome.ok and outcome.detail == "a1: snapshot 1,600.00 USDT (2 assets)"
    (snap,) = ctx.ledger.list_snapshots("a1")
    assert snap.quote_total == pytest.approx(1600) and snap.source == "exchange"
    (audit,) = ctx.ledger.list_action_audit("exchanges.snapshot")
    assert audit["objects"] == ["account a1"] and "secret-a" not in str(audit)
    order = fake.limit(a, "BTCUSDT", "SELL", "0.001", "70000")
    a.balances["USDT"][0] += 50  # a deposit
    text = format_reconciliation(await reconciliation(ctx))
    assert f"a1: 1 open\n    BTC/USDT sell 0.001 @ 70000.0 #{order.id}" in text
    assert "a1: 1,650.00 USDT, +50.00 since the snapshot of" in text
    assert "runs still alive:\n  none" in text


async def test_settings_keep_env_names_only_and_ccxt_loads_lazily(fake, make_context):
    import sys

    fake.account("key-a", "secret-a", USDT="1")
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")})
    session = exchanges(ctx)
    assert "secret-a" not in repr(session.accounts) and "T_A1_SECRET" in repr(session.accounts)
    client = session.client("a1")
    assert "secret-a" not in repr(client)
    assert [s.key for s in session.sources()] == ["exchanges_balances", "exchanges_orders"]
    if "ccxt" not in sys.modules:  # (another test of this process may have imported it)
        assert "ccxt.async_support" not in sys.modules
    await client.balance()
    assert "ccxt.async_support" in sys.modules


async def test_a_preset_asking_for_snapshots_gets_pre_and_post_exchange_balances(fake, make_context, tmp_path,
                                                                                  monkeypatch):
    import os
    from pathlib import Path

    from opsconsole.config.kinds import load_kinds
    from opsconsole.config.presets import parse_preset
    from opsconsole.services.balances import Balances, snapshot_ended_runs
    from opsconsole.services.launcher import launch, plan_launch

    src = Path(__file__).resolve().parents[2] / "src"
    monkeypatch.setenv("PYTHONPATH", str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    a = fake.account("key-a", "secret-a", USDT="1000", BTC="0.01")
    ctx = make_context(fake, {"a1": ("key-a", "secret-a")})
    kinds = load_kinds().kinds
    preset = parse_preset('kind = "local-sample"\ntarget = "local"\nsnapshot_balances = true\n'
                          "[values]\nsteps = 3\ninterval = 0.01\n", tmp_path / "snap.toml", kinds)
    plan = plan_launch(preset, kinds["local-sample"], dict(preset.values))
    (record,) = await launch(ctx, plan)
    (pre,) = ctx.ledger.list_snapshots(run_id=record.id)
    assert (pre.role, pre.source, pre.quote_total) == ("pre", "exchange", pytest.approx(1600))
    await ctx.target("local").wait([record])
    a.balances["USDT"][0] += 25  # the run made 25 USDT
    assert await snapshot_ended_runs(ctx) == [record.id]
    assert await snapshot_ended_runs(ctx) == []  # once
    rb = await Balances(ctx).run_balance(ctx.ledger.get_run(record.id))
    assert (rb.pre.source, rb.post.source) == ("exchange", "exchange") and rb.pnl == pytest.approx(25)
