"""The exchanges' kill steps and the release reconciliation.

* phase "halt" — cancel every open order of every configured account: one listing of the
  account's open orders, a cancel-all for every symbol with orders and every configured symbol,
  then a second listing to verify. Orders still open (a strategy placed them after the cancel)
  get one cancel each and a third listing; what is still open then is reported per order as
  not confirmed. An order that filled before its cancel is reported confirmed, with its fate.
* phase "flatten" — only with ``[killswitch] flatten_positions = true``: every position in a
  base asset of the account's symbols (all assets with a market to the quote currency when it
  names no symbols) is sold at market to the quote currency; amounts are rounded down to the
  lot size, amounts under the minimum quantity or notional are left and reported as dust.
  Refused on a read-only profile, and per account on a sandbox mismatch (a sandbox account in
  a production profile, or a live account in a profile that is not production).

Listings are capped (the account's max_orders) and every call is bounded by the step's
deadline (rate-limit answers are retried until then)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from opsconsole.backends.exchanges.client import AccountClient, OpenOrder, describe_error, fate
from opsconsole.domain.kill import FLATTEN, HALT, KillObject, KillStep, StepLog

if TYPE_CHECKING:
    from opsconsole.backends.exchanges import ExchangesSession

ORDER = "order"
POSITION = "position"


def kill_steps(session: "ExchangesSession") -> list[KillStep]:
    env = session.env
    deadline = env.kill_deadline
    accounts = ", ".join(a.name for a in session.accounts)
    steps = [KillStep(
        name="exchanges: cancel orders", kind="exchanges",
        description=f"cancel every open order on {accounts}, verified by a second listing",
        action=lambda log: cancel_everything(session, log, deadline), deadline=deadline, phase=HALT,
        targets=lambda: list_targets(session, min(deadline, 10.0)))]
    flatten = bool((env.kill_options or {}).get("flatten_positions"))
    if flatten:
        refused = "refused: read-only profile" if env.readonly else ""
        steps.append(KillStep(
            name="exchanges: flatten", kind="exchanges",
            description=refused or f"sell positions to the quote currency on {accounts} (lot size, min notional)",
            action=lambda log: flatten_everything(session, log, deadline), deadline=deadline, phase=FLATTEN,
            enabled=not env.readonly))
    return steps


async def list_targets(session: "ExchangesSession", seconds: float) -> list[KillObject]:
    """The open orders the halt step would cancel (one capped listing per account)."""
    until = time.monotonic() + seconds
    out: list[KillObject] = []
    answers = await asyncio.gather(*(c.open_orders(until) for c in session.clients()), return_exceptions=True)
    for client, answer in zip(session.clients(), answers):
        if isinstance(answer, BaseException):
            out.append(KillObject("account", client.name, reason=f"cannot list: {describe_error(answer)}"))
        else:
            out += [KillObject(ORDER, o.ident, reason=_order_text(o)) for o in answer]
    return out


def _order_text(o: OpenOrder) -> str:
    return f"{o.side} {o.amount:g} @ {o.price}" if o.amount is not None else o.side


async def cancel_everything(session: "ExchangesSession", log: StepLog, seconds: float) -> str:
    until = time.monotonic() + seconds * 0.95
    log.progress("cancelling open orders")
    results = await asyncio.gather(*(_cancel_account(c, log, until) for c in session.clients()),
                                   return_exceptions=True)
    parts = []
    for client, result in zip(session.clients(), results):
        if isinstance(result, BaseException):
            log.failed("account", client.name, describe_error(result))
            parts.append(f"{client.name}: failed")
        else:
            parts.append(f"{client.name}: {result}")
    return "; ".join(parts)


async def _cancel_account(client: AccountClient, log: StepLog, until: float) -> str:
    first = await client.open_orders(until)
    for order in first:
        log.acted(ORDER, order.ident, _order_text(order))
    symbols = sorted({o.symbol for o in first} | set(client.settings.symbols))
    cancelled = await asyncio.gather(*(client.cancel_all(sym, until) for sym in symbols), return_exceptions=True)
    errors = [f"{sym}: {describe_error(r)}" for sym, r in zip(symbols, cancelled) if isinstance(r, BaseException)]
    # the verification listing
    second = {o.ident: o for o in await client.open_orders(until)}
    for order in first:
        if order.ident not in second:
            log.confirmed(ORDER, order.ident, "cancelled")
    residual = list(second.values())
    for order in residual:
        log.acted(ORDER, order.ident, "still open after cancel-all: cancelling it alone")
    if residual:
        answers = await asyncio.gather(*(client.cancel(o.id, o.symbol, until) for o in residual),
                                       return_exceptions=True)
        third = {o.ident: o for o in await client.open_orders(until)}
        for order, answer in zip(residual, answers):
            if order.ident in third:
                why = describe_error(answer) if isinstance(answer, BaseException) else "cancel answered, still listed"
                log.not_confirmed(ORDER, order.ident, f"still open after cancel-all and a cancel ({why})")
            else:
                log.confirmed(ORDER, order.ident, "residual after cancel-all, cancelled alone")
        for ident, order in third.items():  # placed while we were cancelling: left open, said so
            if ident not in second:
                log.not_confirmed(ORDER, ident, f"still open after cancel-all and a cancel (placed meanwhile: "
                                  f"{_order_text(order)})")
    for order in first:  # an order that was gone before its cancel: say what became of it
        if order.ident not in second and not any(order.id == c.id for r in cancelled if isinstance(r, list) for c in r):
            status = await client.order_status(order.id, order.symbol, until)
            if status is not None and status.status != "canceled":
                log.confirmed(ORDER, order.ident, f"not open any more: {fate(status)}")
    if errors:
        raise RuntimeError("; ".join(errors))
    left = sum(1 for o in log.objects if o.kind == ORDER and o.ident.startswith(client.name + " ")
               and o.state == "not confirmed")
    return f"{len(first)} listed, {len(residual)} residual, {left} left"


def sandbox_mismatch(client: AccountClient, production: bool) -> str | None:
    if client.settings.sandbox and production:
        return "sandbox account in a production profile"
    if not client.settings.sandbox and not production:
        return "live account in a profile that is not production"
    return None


async def flatten_everything(session: "ExchangesSession", log: StepLog, seconds: float) -> str:
    if session.env.readonly:
        raise RuntimeError("refused: read-only profile")
    production = _production(session)
    until = time.monotonic() + seconds * 0.95
    log.progress("selling positions")
    parts = []
    for client in session.clients():
        mismatch = sandbox_mismatch(client, production)
        if mismatch:
            log.failed("account", client.name, f"refused: {mismatch}")
            parts.append(f"{client.name}: refused ({mismatch})")
            continue
        try:
            parts.append(f"{client.name}: {await flatten_account(client, log, until)}")
        except Exception as exc:  # noqa: BLE001 - reported per account, the others go on
            log.failed("account", client.name, describe_error(exc))
            parts.append(f"{client.name}: failed")
    return "; ".join(parts)


def _production(session: "ExchangesSession") -> bool:
    from opsconsole.config.settings import PRODUCTION_LABELS

    return session.env.environment.upper() in PRODUCTION_LABELS


async def flatten_account(client: AccountClient, log: StepLog, until: float) -> str:
    markets = await client.markets(until)
    ex = client.exchange
    quote = client.settings.quote
    bases = {s.split("/")[0] for s in client.settings.symbols} or None
    snap = await client.balance(until)
    sold, dust = 0, 0
    for asset, bal in sorted(snap.assets.items()):
        if asset == quote or (bases is not None and asset not in bases):
            continue
        symbol = f"{asset}/{quote}"
        ident = f"{client.name} {asset}"
        market = markets.get(symbol)
        if market is None:
            log.not_confirmed(POSITION, ident, f"{bal.free:g} {asset}: no {symbol} market, left as is")
            continue
        amount = float(ex.amount_to_precision(symbol, bal.free)) if bal.free > 0 else 0.0
        price = await _price(client, symbol, until)
        why = _dust(market, amount, price)
        if why:
            dust += 1
            log.confirmed(POSITION, ident, f"dust left: {bal.free:g} {asset} ({why})")
            continue
        log.acted(POSITION, ident, f"market sell {amount:g} {symbol}")
        order = await client.market_sell(symbol, amount, until)
        filled = order.get("filled")
        if order.get("status") == "closed" or (filled is not None and filled >= amount):
            left = bal.free - amount
            extra = f"; dust left {left:.8g} {asset}" if left > 0 else ""
            log.confirmed(POSITION, ident, f"sold {filled if filled is not None else amount:g} {asset}{extra}")
            sold += 1
        else:
            log.not_confirmed(POSITION, ident, f"market sell {order.get('id')}: {order.get('status')}")
    return f"{sold} sold, {dust} dust"


def _dust(market: dict[str, Any], amount: float, price: float | None) -> str:
    limits = market.get("limits") or {}
    min_amount = (limits.get("amount") or {}).get("min")
    min_cost = (limits.get("cost") or {}).get("min")
    if amount <= 0 or (min_amount is not None and amount < min_amount):
        return f"under the lot size minimum {min_amount:g}" if min_amount else "nothing to sell"
    if min_cost is not None and price is not None and amount * price < min_cost:
        return f"notional {amount * price:.4g} under the minimum {min_cost:g}"
    return ""


async def _price(client: AccountClient, symbol: str, until: float) -> float | None:
    ex = client.exchange
    ticker = await client.call(lambda: ex.fetch_ticker(symbol), until)
    value = ticker.get("last") or ticker.get("close")
    return float(value) if value else None


async def reconciliation(session: "ExchangesSession") -> list[tuple[str, str]]:
    """(section, line) for the release screen: open orders left, balances vs the last snapshot."""
    lines: list[tuple[str, str]] = []
    until = time.monotonic() + 15.0
    store = session.env.store()
    for client in session.clients():
        try:
            orders = await client.open_orders(until)
        except Exception as exc:  # noqa: BLE001 - shown, the release decides
            lines.append(("open orders", f"{client.name}: cannot list: {describe_error(exc)}"))
        else:
            lines.append(("open orders", f"{client.name}: {len(orders)} open"
                          + "".join(f"\n  {o.symbol} {o.side} {o.amount:g} @ {o.price} #{o.id}" for o in orders[:20])))
        try:
            now = await client.balance(until)
        except Exception as exc:  # noqa: BLE001
            lines.append(("balances", f"{client.name}: cannot read: {describe_error(exc)}"))
            continue
        last = await asyncio.to_thread(store.last_snapshot, client.name)
        if last is None or last.quote_total is None or now.quote_total is None:
            lines.append(("balances", f"{client.name}: {now.quote_total:,.2f} {now.quote} (no earlier snapshot)"))
        else:
            change = now.quote_total - last.quote_total
            lines.append(("balances", f"{client.name}: {now.quote_total:,.2f} {now.quote}, {change:+,.2f} since the "
                          f"snapshot of {last.taken_at:%Y-%m-%d %H:%M:%S} UTC"))
    return lines
