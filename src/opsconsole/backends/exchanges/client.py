"""One exchange account through ccxt's async API (ccxt is imported here, on first use).

Every call has the account's timeout (ccxt's own, in ms) and goes through ccxt's rate limiter
(``enableRateLimit``). Rate-limit answers (429/418 → ccxt's DDoSProtection) and network errors
are retried by :meth:`AccountClient.call` with backoff when a caller gives it a deadline (the
kill steps); the panes call once and show the error as a stale row."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit

from opsconsole.backends.exchanges.settings import AccountSettings
from opsconsole.domain.balances import AssetBalance, BalanceSnapshot

T = TypeVar("T")

# What ccxt needs to talk to a spot API without the endpoints a local or private server lacks.
_OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False,
            "fetchOpenOrders": {"warnWithoutSymbol": False}, "warnOnFetchOpenOrdersWithoutSymbol": False,
            "defaultType": "spot"}


class ExchangeError(RuntimeError):
    """An exchange call failed; the message is for the operator (never carries a secret)."""


@dataclass(frozen=True)
class OpenOrder:
    account: str
    id: str
    symbol: str
    side: str
    type: str
    price: float | None
    amount: float | None
    filled: float | None
    created: datetime | None
    status: str

    @property
    def ident(self) -> str:
        return f"{self.account} {self.symbol} #{self.id}"


def _order(account: str, o: dict[str, Any]) -> OpenOrder:
    ts = o.get("timestamp")
    return OpenOrder(account, str(o.get("id")), str(o.get("symbol")), str(o.get("side") or ""),
                     str(o.get("type") or ""), o.get("price"), o.get("amount"), o.get("filled"),
                     datetime.fromtimestamp(ts / 1000, timezone.utc) if ts else None, str(o.get("status") or ""))


def _env(name: str | None) -> str | None:
    return os.environ.get(name) if name else None


def describe_error(exc: BaseException) -> str:
    """A one-line reason: the ccxt class and its message (ccxt messages carry the exchange's
    answer, never the key or secret)."""
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def retryable(exc: BaseException) -> bool:
    import ccxt

    # DDoSProtection covers 429/418 (rate limit, IP ban); RequestTimeout is a NetworkError
    return isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded, ccxt.NetworkError)) and not isinstance(
        exc, ccxt.InvalidNonce)


class AccountClient:
    def __init__(self, settings: AccountSettings, markets_cache: dict[tuple[str, str, bool], Any]) -> None:
        self.settings = settings
        self.name = settings.name
        self._markets_cache = markets_cache
        self._exchange: Any = None
        self._markets_lock = asyncio.Lock()
        self.markets_loaded = False

    def __repr__(self) -> str:
        return f"AccountClient({self.settings.label})"

    # -- the ccxt object -----------------------------------------------------------------------
    @property
    def exchange(self) -> Any:
        if self._exchange is None:
            import ccxt.async_support as ccxt_async

            s = self.settings
            cls = getattr(ccxt_async, s.exchange, None)
            if cls is None or not isinstance(cls, type):
                raise ExchangeError(f"{s.name}: unknown ccxt exchange id {s.exchange!r}")
            config: dict[str, Any] = {"enableRateLimit": True, "timeout": int(s.timeout * 1000),
                                      "options": dict(_OPTIONS)}
            # read now, handed to ccxt only: never stored on settings, never shown
            for field_name, env_name in (("apiKey", s.key_env), ("secret", s.secret_env),
                                         ("password", s.password_env)):
                value = _env(env_name)
                if value:
                    config[field_name] = value
            ex = cls(config)
            if s.sandbox:
                ex.set_sandbox_mode(True)
            if s.base_url:
                _repoint(ex, s.base_url)
            self._exchange = ex
        return self._exchange

    def has_credentials(self) -> bool:
        s = self.settings
        return bool(_env(s.key_env) and _env(s.secret_env))

    async def aclose(self) -> None:
        ex, self._exchange = self._exchange, None
        if ex is not None:
            try:
                await ex.close()
            except Exception:  # noqa: BLE001 - closing must not raise
                pass

    async def call(self, fn: Callable[[], Awaitable[T]], deadline: float | None = None) -> T:
        """`fn()` once; with a deadline (time.monotonic()), retried with backoff on rate-limit
        and network errors until it passes."""
        delay = 0.5
        while True:
            try:
                return await fn()
            except Exception as exc:
                if deadline is None or not retryable(exc):
                    raise
                wait = min(delay, deadline - time.monotonic())
                retry_after = _retry_after(self._exchange)
                if retry_after is not None:
                    wait = min(max(wait, retry_after), deadline - time.monotonic())
                if wait <= 0:
                    raise
                await asyncio.sleep(wait)
                delay = min(delay * 2, 5.0)

    # -- markets (loaded once per exchange id + base URL + sandbox; shared by the accounts) ----
    async def markets(self, deadline: float | None = None) -> dict[str, Any]:
        ex = self.exchange
        if self.markets_loaded:
            return ex.markets
        async with self._markets_lock:
            if not self.markets_loaded:
                s = self.settings
                key = (s.exchange, s.base_url or "", s.sandbox)
                cached = self._markets_cache.get(key)
                if cached is not None:
                    ex.set_markets(cached)
                else:
                    await self.call(lambda: ex.load_markets(), deadline)
                    self._markets_cache[key] = list(ex.markets.values())
                self.markets_loaded = True
        return ex.markets

    # -- reading -------------------------------------------------------------------------------
    async def balance(self, deadline: float | None = None) -> BalanceSnapshot:
        """Balances per asset (non-zero ones) and their total in the quote currency, valued at
        the last prices of the asset/quote markets."""
        await self.markets(deadline)
        ex = self.exchange
        raw = await self.call(lambda: ex.fetch_balance(), deadline)
        quote = self.settings.quote
        assets: dict[str, AssetBalance] = {}
        for asset, total in (raw.get("total") or {}).items():
            free = (raw.get("free") or {}).get(asset) or 0.0
            used = (raw.get("used") or {}).get(asset) or 0.0
            total = total or 0.0
            if total or free or used:
                assets[asset] = AssetBalance(float(free), float(used), float(total))
        priced = [f"{a}/{quote}" for a in assets if a != quote and f"{a}/{quote}" in ex.markets]
        prices: dict[str, float] = {}
        if priced:
            tickers = await self.call(lambda: ex.fetch_tickers(priced), deadline)
            prices = {sym.split("/")[0]: float(t.get("last") or t.get("close") or 0) for sym, t in tickers.items()
                      if t and (t.get("last") or t.get("close"))}
        value, unpriced = 0.0, []
        for asset, bal in assets.items():
            if asset == quote:
                value += bal.total
            elif asset in prices:
                value += bal.total * prices[asset]
            else:
                unpriced.append(asset)
        return BalanceSnapshot(self.name, datetime.now(timezone.utc), quote, assets, value,
                               unpriced=tuple(sorted(unpriced)))

    async def open_orders(self, deadline: float | None = None, symbols: tuple[str, ...] | None = None) -> list[OpenOrder]:
        """Open orders: of `symbols` one listing each, else one listing of every symbol (capped
        by the account's max_orders)."""
        await self.markets(deadline)
        ex = self.exchange
        cap = self.settings.max_orders
        rows: list[dict[str, Any]] = []

        def listing(symbol: str | None) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
            return lambda: ex.fetch_open_orders(symbol, None, cap)

        for sym in symbols or (None,):
            rows += await self.call(listing(sym), deadline)
        return [_order(self.name, o) for o in rows[:cap]]

    async def order_status(self, order_id: str, symbol: str, deadline: float | None = None) -> OpenOrder | None:
        import ccxt

        ex = self.exchange
        try:
            return _order(self.name, await self.call(lambda: ex.fetch_order(order_id, symbol), deadline))
        except ccxt.OrderNotFound:
            return None

    # -- acting --------------------------------------------------------------------------------
    async def cancel(self, order_id: str, symbol: str, deadline: float | None = None) -> str:
        """Cancel one order; a cancel that finds the order gone (it filled meanwhile) says what
        became of it instead of failing."""
        import ccxt

        await self.markets(deadline)
        ex = self.exchange
        try:
            await self.call(lambda: ex.cancel_order(order_id, symbol), deadline)
            return f"{self.name} {symbol} #{order_id}: cancelled"
        except ccxt.OrderNotFound:
            after = await self.order_status(order_id, symbol, deadline)
            if after is None:
                return f"{self.name} {symbol} #{order_id}: not found (already gone)"
            return f"{self.name} {symbol} #{order_id}: not open any more ({_fate(after)})"

    async def cancel_all(self, symbol: str, deadline: float | None = None) -> list[OpenOrder]:
        """Cancel every open order of `symbol`; [] when there was none (Binance answers -2011)."""
        import ccxt

        await self.markets(deadline)
        ex = self.exchange
        try:
            rows = await self.call(lambda: ex.cancel_all_orders(symbol), deadline)
        except ccxt.OrderNotFound:
            return []
        return [_order(self.name, o) for o in rows or [] if isinstance(o, dict)]

    async def market_sell(self, symbol: str, amount: float, deadline: float | None = None) -> dict[str, Any]:
        ex = self.exchange

        async def sell() -> dict[str, Any]:
            return await ex.create_order(symbol, "market", "sell", amount)

        return await self.call(sell, deadline)


def _fate(order: OpenOrder) -> str:
    if order.status == "closed":
        return f"filled {order.filled:g} before the cancel" if order.filled is not None else "filled before the cancel"
    return order.status or "unknown state"


def fate(order: OpenOrder) -> str:
    return _fate(order)


def _retry_after(ex: Any) -> float | None:
    headers = getattr(ex, "last_response_headers", None) or {}
    try:
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _repoint(ex: Any, base_url: str) -> None:
    """Every API URL of `ex` to `base_url` + its own path (a private endpoint, a local fake)."""
    base = base_url.rstrip("/")

    def move(value: Any) -> Any:
        if isinstance(value, str):
            return base + urlsplit(value).path
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        return value

    ex.urls["api"] = move(ex.urls["api"])
