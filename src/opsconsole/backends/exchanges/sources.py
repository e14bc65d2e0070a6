"""Exchange accounts in the Status screen: balances (per asset, and each account's total in its
quote currency) and open orders, refreshed on the accounts' slow interval. An account that
cannot be read keeps its last rows, marked stale with the error (the others go on)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import DESCRIBE, PaneSource
from opsconsole.backends.exchanges import CANCEL, CANCEL_SYMBOL, SNAPSHOT
from opsconsole.backends.exchanges.client import OpenOrder, describe_error
from opsconsole.domain.actions import ActionCall, ActionUnavailable
from opsconsole.domain.balances import BalanceSnapshot
from opsconsole.domain.items import Column, Item
from opsconsole.domain.states import State

if TYPE_CHECKING:
    from opsconsole.backends.exchanges import ExchangesSession


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.8g}"


def _interval(session: "ExchangesSession") -> float:
    return min((a.poll_interval for a in session.accounts), default=30.0)


async def _per_account(session: "ExchangesSession", fn: Any) -> dict[str, Any]:
    """fn(client) for every account at once; an exception is kept as the account's answer."""
    clients = session.clients()
    answers = await asyncio.gather(*(fn(c) for c in clients), return_exceptions=True)
    return {c.name: a for c, a in zip(clients, answers)}


class _Source(PaneSource):
    scope = "exchanges"
    capabilities = frozenset({DESCRIBE})

    def __init__(self, session: "ExchangesSession") -> None:
        self.session = session
        self.interval = _interval(session)
        self._last: dict[str, list[Item]] = {}  # account → its last good rows

    def _rows(self, answers: dict[str, Any], build: Any) -> list[Item]:
        items: list[Item] = []
        for account, answer in answers.items():
            if isinstance(answer, BaseException):
                reason = describe_error(answer)
                stale = [Item(i.key, State.UNKNOWN, {**i.cells, "note": f"stale: {reason}"}, detail=i.detail)
                         for i in self._last.get(account, [])]
                items += stale or [Item(f"{account}/error", State.UNKNOWN, {"account": account,
                                                                             "note": f"stale: {reason}"},
                                        detail={"account": account, "error": reason})]
                continue
            rows = build(account, answer)
            self._last[account] = rows
            items += rows
        return items


class BalancesSource(_Source):
    key = "exchanges_balances"
    title = "Exchange balances"
    actions = (SNAPSHOT,)
    columns = (
        Column("account", "ACCOUNT", 16),
        Column("asset", "ASSET", 10),
        Column("free", "FREE", 14),
        Column("used", "USED", 14),
        Column("total", "TOTAL", 16),
        Column("note", "NOTE", None, optional=True),
    )

    def __init__(self, session: "ExchangesSession") -> None:
        super().__init__(session)
        self.snapshots: dict[str, BalanceSnapshot] = {}

    async def fetch(self) -> list[Item]:
        answers = await _per_account(self.session, lambda c: c.balance())
        for name, answer in answers.items():
            if isinstance(answer, BalanceSnapshot):
                self.snapshots[name] = answer
        return self._rows(answers, self._build)

    @staticmethod
    def _build(account: str, snap: BalanceSnapshot) -> list[Item]:
        note = f"unpriced: {', '.join(snap.unpriced)}" if snap.unpriced else ""
        rows = [Item(f"{account}/Σ", State.SUCCESS,
                     {"account": account, "asset": f"Σ {snap.quote}", "total": _num(snap.quote_total), "note": note},
                     created_at=snap.taken_at,
                     detail={"account": account, "quote": snap.quote, "quote_total": snap.quote_total,
                             "unpriced": list(snap.unpriced), "taken_at": snap.taken_at.isoformat()})]
        for asset, bal in sorted(snap.assets.items()):
            rows.append(Item(f"{account}/{asset}", State.SUCCESS,
                             {"account": account, "asset": asset, "free": _num(bal.free), "used": _num(bal.used),
                              "total": _num(bal.total), "note": ""},
                             detail={"account": account, "asset": asset, "free": bal.free, "used": bal.used,
                                     "total": bal.total}))
        return rows

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        if action_id != SNAPSHOT.id:
            return await super().prepare(action_id, item)
        if item is None:
            raise ActionUnavailable("snapshot: select an account's row")
        account = str(item.detail.get("account") or item.key.split("/")[0])
        session = self.session

        async def run(_: Any) -> str:
            snap = await session.client(account).balance()
            store = session.env.store()
            await asyncio.to_thread(store.add_snapshot, snap)
            return f"{account}: snapshot {snap.quote_total:,.2f} {snap.quote} ({len(snap.assets)} assets)"

        return ActionCall(SNAPSHOT, f"Snapshot {account}'s balances?",
                          f"Read {account}'s balances now and keep them in the ledger (Balances screen).",
                          [f"account {account}"], run, confirm=False, label="snapshot")


class OrdersSource(_Source):
    key = "exchanges_orders"
    title = "Open orders"
    actions = (CANCEL, CANCEL_SYMBOL)
    columns = (
        Column("account", "ACCOUNT", 16),
        Column("symbol", "SYMBOL", 12),
        Column("side", "SIDE", 4),
        Column("price", "PRICE", 14),
        Column("amount", "AMOUNT", 14),
        Column("filled", "FILLED", 12),
        Column("age", "AGE", 7),
        Column("id", "ORDER ID", 14, optional=True),
        Column("note", "NOTE", None, optional=True),
    )

    def __init__(self, session: "ExchangesSession") -> None:
        super().__init__(session)
        self.orders: dict[str, OpenOrder] = {}

    async def fetch(self) -> list[Item]:
        answers = await _per_account(self.session, lambda c: c.open_orders())
        for answer in answers.values():
            if isinstance(answer, list):
                for order in answer:
                    self.orders[order.ident] = order
        return self._rows(answers, self._build)

    @staticmethod
    def _build(account: str, orders: list[OpenOrder]) -> list[Item]:
        return [Item(o.ident, State.RUNNING,
                     {"account": account, "symbol": o.symbol, "side": o.side, "price": _num(o.price),
                      "amount": _num(o.amount), "filled": _num(o.filled), "id": o.id, "note": ""},
                     created_at=o.created, started_at=o.created,
                     detail={"account": account, "id": o.id, "symbol": o.symbol, "side": o.side, "type": o.type,
                             "price": o.price, "amount": o.amount, "filled": o.filled, "status": o.status,
                             "created": o.created.isoformat() if o.created else None})
                for o in sorted(orders, key=lambda o: (o.symbol, o.created or datetime.min.replace(tzinfo=timezone.utc)))]

    def _selected(self, item: Item | None, what: str) -> OpenOrder:
        order = self.orders.get(item.key) if item is not None else None
        if order is None:
            raise ActionUnavailable(f"{what}: select an open order")
        return order

    async def prepare(self, action_id: str, item: Item | None) -> ActionCall:
        session = self.session
        if action_id == CANCEL.id:
            order = self._selected(item, "cancel")
            return ActionCall(CANCEL, f"Cancel order {order.id}?",
                              f"{order.account}: cancel {order.side} {order.amount} {order.symbol} @ {order.price}.",
                              [f"order {order.ident}"],
                              lambda _: session.client(order.account).cancel(order.id, order.symbol),
                              confirm_label="Send cancel", label="cancel order")
        if action_id == CANCEL_SYMBOL.id:
            order = self._selected(item, "cancel symbol")

            async def run(_: Any) -> str:
                done = await session.client(order.account).cancel_all(order.symbol)
                return f"{order.account} {order.symbol}: {len(done)} order(s) cancelled"

            return ActionCall(CANCEL_SYMBOL, f"Cancel every {order.symbol} order on {order.account}?",
                              f"{order.account}: cancel all open {order.symbol} orders.",
                              [f"orders {order.account} {order.symbol}"], run, confirm_label="Send cancel-all",
                              label="cancel symbol")
        return await super().prepare(action_id, item)
