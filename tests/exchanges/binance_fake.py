"""A protocol-faithful Binance spot fake for ccxt (the real library) to talk to, on loopback.

What it checks on every signed request, as the real exchange does: the `X-MBX-APIKEY` header
names a known key (else 401, -2015), `signature` is the hex HMAC-SHA256 of the query string
followed by the form body without the signature (else 400, -1022), and `timestamp` is within
`recvWindow` of the server clock (else 400, -1021).

State is real: balances (free / locked), resting LIMIT orders that lock funds, MARKET orders
filled at the symbol's price, fills that move balances, exchangeInfo with PRICE_FILTER,
LOT_SIZE and MIN_NOTIONAL filters enforced on new orders (-1013), -2010 on insufficient
balance, -2011 when a cancel finds no order (or no open orders for cancel-all), -1102 for a
missing mandatory parameter.

Test hooks (plain Python, same process): `fill(order_id)`, `limit(account, ...)` to rest an
order, `fail_next(status, n)` for 429/418 answers with Retry-After, `before_cancel` /
`after_cancel_all` callbacks to race a fill against a cancel or re-place an order after a
cancel-all. It runs in a thread of the test process (ThreadingHTTPServer) and `stop()` closes
its socket.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Symbol:
    base: str
    quote: str
    price: Decimal
    tick: Decimal = Decimal("0.01")
    step: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    min_notional: Decimal = Decimal("5")

    @property
    def name(self) -> str:
        return self.base + self.quote


@dataclass
class Order:
    id: int
    client_id: str
    symbol: str
    side: str
    type: str
    price: Decimal
    qty: Decimal
    executed: Decimal = Decimal(0)
    quote_qty: Decimal = Decimal(0)
    status: str = "NEW"
    time: int = field(default_factory=lambda: int(time.time() * 1000))

    def as_json(self) -> dict:
        return {
            "symbol": self.symbol, "orderId": self.id, "orderListId": -1, "clientOrderId": self.client_id,
            "price": f"{self.price:f}", "origQty": f"{self.qty:f}", "executedQty": f"{self.executed:f}",
            "cummulativeQuoteQty": f"{self.quote_qty:f}", "status": self.status, "timeInForce": "GTC",
            "type": self.type, "side": self.side, "stopPrice": "0.00000000", "icebergQty": "0.00000000",
            "time": self.time, "updateTime": int(time.time() * 1000), "isWorking": True,
            "workingTime": self.time, "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "NONE",
        }


@dataclass
class Account:
    key: str
    secret: str
    balances: dict[str, list[Decimal]] = field(default_factory=dict)  # asset → [free, locked]
    orders: dict[int, Order] = field(default_factory=dict)  # every order, open or not

    def bal(self, asset: str) -> list[Decimal]:
        return self.balances.setdefault(asset, [Decimal(0), Decimal(0)])

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values()
                if o.status in ("NEW", "PARTIALLY_FILLED") and (symbol is None or o.symbol == symbol)]


class ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def D(value: str | float | int) -> Decimal:
    return Decimal(str(value))


class BinanceFake:
    def __init__(self, symbols: list[Symbol], recv_window_max: int = 60_000) -> None:
        self.symbols = {s.name: s for s in symbols}
        self.accounts: dict[str, Account] = {}  # by API key
        self.recv_window_max = recv_window_max
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self._failures: list[tuple[int, int]] = []  # (status, retry_after) for the next requests
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.before_cancel: Callable[[Account, Order], None] | None = None
        self.after_cancel_all: Callable[[Account, str], None] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up and test hooks ---------------------------------------------------------------
    def account(self, key: str, secret: str, **balances: float | str) -> Account:
        acct = Account(key, secret)
        for asset, amount in balances.items():
            acct.bal(asset)[0] = D(amount)
        self.accounts[key] = acct
        return acct

    def fail_next(self, status: int = 429, n: int = 1, retry_after: int = 1) -> None:
        with self.lock:
            self._failures.extend([(status, retry_after)] * n)

    def limit(self, acct: Account, symbol: str, side: str, qty: str | float, price: str | float) -> Order:
        """Rest a LIMIT order as if a strategy had placed it (funds locked)."""
        with self.lock:
            return self._new_order(acct, {"symbol": symbol, "side": side, "type": "LIMIT",
                                          "quantity": str(qty), "price": str(price), "timeInForce": "GTC"})

    def fill(self, acct: Account, order_id: int) -> Order:
        """A resting order fills completely at its price."""
        with self.lock:
            order = acct.orders[order_id]
            self._fill(acct, order, order.qty - order.executed, order.price, locked=True)
            return order

    def total_open(self) -> int:
        return sum(len(a.open_orders()) for a in self.accounts.values())

    # -- server ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "BinanceFake":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _any(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_DELETE = do_PUT = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="binance-fake", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- request handling --------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length).decode() if length else ""
        status, headers, payload = 200, {}, None
        with self.lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, retry = failure
            headers["Retry-After"] = str(retry)
            payload = {"code": -1003, "msg": "Too many requests; current limit is 6000 request weight per 1 MINUTE."
                       if status == 429 else "Way too many requests; IP banned until later."}
        else:
            try:
                payload = self._route(h.command, parts.path, parts.query, body, h.headers.get("X-MBX-APIKEY"))
            except ApiError as exc:
                status, payload = exc.status, {"code": exc.code, "msg": exc.msg}
        data = json.dumps(payload).encode()
        with self.lock:
            self.requests.append((h.command, parts.path, status))
        h.send_response(status)
        h.send_header("Content-Type", "application/json;charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("X-MBX-USED-WEIGHT-1M", str(len(self.requests)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _signed(self, query: str, body: str, key: str | None) -> tuple[Account, dict[str, str]]:
        if not key or key not in self.accounts:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        acct = self.accounts[key]
        total = query + body  # Binance signs the query string followed by the body
        head, sep, sig = total.rpartition("&signature=")
        if not sep or "&" in sig:
            raise ApiError(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        expected = hmac.new(acct.secret.encode(), head.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig):
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(head, keep_blank_values=True))
        try:
            ts = int(params["timestamp"])
        except (KeyError, ValueError):
            raise ApiError(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        window = int(params.get("recvWindow", 5000))
        if window > self.recv_window_max:
            raise ApiError(400, -1131, "recvWindow must be less than 60000")
        now = int(time.time() * 1000)
        if ts >= now + 1000 or now - ts > window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return acct, params

    def _route(self, method: str, path: str, query: str, body: str, key: str | None):
        if path == "/api/v3/ping":
            return {}
        if path == "/api/v3/time":
            return {"serverTime": int(time.time() * 1000)}
        if path == "/api/v3/exchangeInfo":
            return self._exchange_info()
        if path in ("/api/v3/ticker/24hr", "/api/v3/ticker/price"):
            return self._tickers(dict(parse_qsl(query)), path.endswith("24hr"))
        acct, params = self._signed(query, body, key)
        with self.lock:
            if path == "/api/v3/account" and method == "GET":
                return self._account(acct)
            if path == "/api/v3/openOrders" and method == "GET":
                symbol = params.get("symbol")
                return [o.as_json() for o in acct.open_orders(symbol)]
            if path == "/api/v3/openOrders" and method == "DELETE":
                return self._cancel_all(acct, self._symbol(params).name)
            if path == "/api/v3/order" and method == "POST":
                return self._new_order(acct, params).as_json() | {"fills": []}
            if path == "/api/v3/order" and method == "DELETE":
                return self._cancel(acct, params)
            if path == "/api/v3/order" and method == "GET":
                return self._find(acct, params, -2013, "Order does not exist.").as_json()
        raise ApiError(404, -1, f"no route {method} {path}")

    def _exchange_info(self) -> dict:
        syms = []
        for s in self.symbols.values():
            syms.append({
                "symbol": s.name, "status": "TRADING", "baseAsset": s.base, "baseAssetPrecision": 8,
                "quoteAsset": s.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": True, "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False, "permissions": ["SPOT"], "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "NONE", "allowedSelfTradePreventionModes": ["NONE"],
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": f"{s.tick:f}", "maxPrice": "1000000.00000000",
                     "tickSize": f"{s.tick:f}"},
                    {"filterType": "LOT_SIZE", "minQty": f"{s.min_qty:f}", "maxQty": "9000.00000000",
                     "stepSize": f"{s.step:f}"},
                    {"filterType": "MIN_NOTIONAL", "minNotional": f"{s.min_notional:f}", "applyToMarket": True,
                     "avgPriceMins": 5},
                ],
            })
        return {"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [], "symbols": syms}

    def _tickers(self, params: dict[str, str], full: bool):
        wanted = list(self.symbols)
        if "symbol" in params:
            wanted = [params["symbol"]]
        elif "symbols" in params:
            wanted = json.loads(params["symbols"])
        out = []
        for name in wanted:
            s = self.symbols.get(name)
            if s is None:
                raise ApiError(400, -1121, "Invalid symbol.")
            p = f"{s.price:f}"
            row = {"symbol": name, "price": p}
            if full:
                row = {"symbol": name, "priceChange": "0", "priceChangePercent": "0", "weightedAvgPrice": p,
                       "prevClosePrice": p, "lastPrice": p, "lastQty": "1", "bidPrice": p, "bidQty": "10",
                       "askPrice": p, "askQty": "10", "openPrice": p, "highPrice": p, "lowPrice": p,
                       "volume": "100", "quoteVolume": "100", "openTime": 0, "closeTime": int(time.time() * 1000),
                       "firstId": 1, "lastId": 2, "count": 1}
            out.append(row)
        return out[0] if "symbol" in params else out

    def _account(self, acct: Account) -> dict:
        return {"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
                "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
                "requireSelfTradePrevention": False, "updateTime": int(time.time() * 1000), "accountType": "SPOT",
                "balances": [{"asset": a, "free": f"{b[0]:f}", "locked": f"{b[1]:f}"}
                             for a, b in sorted(acct.balances.items())],
                "permissions": ["SPOT"], "uid": 1}

    def _symbol(self, params: dict[str, str]) -> Symbol:
        name = params.get("symbol")
        if not name:
            raise ApiError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if name not in self.symbols:
            raise ApiError(400, -1121, "Invalid symbol.")
        return self.symbols[name]

    def _new_order(self, acct: Account, params: dict[str, str]) -> Order:
        s = self._symbol(params)
        side, otype = params.get("side"), params.get("type")
        if side not in ("BUY", "SELL") or otype not in ("LIMIT", "MARKET"):
            raise ApiError(400, -1102, "Mandatory parameter 'side'/'type' malformed.")
        try:
            qty = D(params["quantity"])
        except KeyError:
            raise ApiError(400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        price = s.price if otype == "MARKET" else D(params.get("price", "0"))
        if qty < s.min_qty or (qty - s.min_qty) % s.step != 0:
            raise ApiError(400, -1013, "Filter failure: LOT_SIZE")
        if otype == "LIMIT" and (price <= 0 or price % s.tick != 0):
            raise ApiError(400, -1013, "Filter failure: PRICE_FILTER")
        if qty * price < s.min_notional:
            raise ApiError(400, -1013, "Filter failure: MIN_NOTIONAL")
        pay, need = (s.quote, qty * price) if side == "BUY" else (s.base, qty)
        if acct.bal(pay)[0] < need:
            raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
        order = Order(next(self._ids), params.get("newClientOrderId") or f"fake{time.time_ns()}", s.name, side,
                      otype, price if otype == "LIMIT" else Decimal(0), qty)
        acct.orders[order.id] = order
        if otype == "MARKET":
            self._fill(acct, order, qty, s.price, locked=False)
        else:
            b = acct.bal(pay)
            b[0] -= need
            b[1] += need
        return order

    def _fill(self, acct: Account, order: Order, qty: Decimal, price: Decimal, locked: bool) -> None:
        s = self.symbols[order.symbol]
        base, quote = acct.bal(s.base), acct.bal(s.quote)
        slot = 1 if locked else 0
        if order.side == "BUY":
            quote[slot] -= qty * (order.price if locked else price)
            quote[0] += qty * ((order.price if locked else price) - price)
            base[0] += qty
        else:
            base[slot] -= qty
            quote[0] += qty * price
        order.executed += qty
        order.quote_qty += qty * price
        order.status = "FILLED" if order.executed >= order.qty else "PARTIALLY_FILLED"

    def _release(self, acct: Account, order: Order) -> None:
        s = self.symbols[order.symbol]
        left = order.qty - order.executed
        asset, amount = (s.quote, left * order.price) if order.side == "BUY" else (s.base, left)
        b = acct.bal(asset)
        b[1] -= amount
        b[0] += amount
        order.status = "CANCELED"

    def _find(self, acct: Account, params: dict[str, str], code: int, msg: str) -> Order:
        s = self._symbol(params)
        if "orderId" in params:
            order = acct.orders.get(int(params["orderId"]))
        elif "origClientOrderId" in params:
            order = next((o for o in acct.orders.values() if o.client_id == params["origClientOrderId"]), None)
        else:
            raise ApiError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order is None or order.symbol != s.name:
            raise ApiError(400, code, msg)
        return order

    def _cancel(self, acct: Account, params: dict[str, str]) -> dict:
        order = self._find(acct, params, -2011, "Unknown order sent.")
        if self.before_cancel is not None:
            self.before_cancel(acct, order)  # e.g. the order fills first
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ApiError(400, -2011, "Unknown order sent.")
        self._release(acct, order)
        return order.as_json()

    def _cancel_all(self, acct: Account, symbol: str) -> list[dict]:
        orders = acct.open_orders(symbol)
        if not orders:
            raise ApiError(400, -2011, "Unknown order sent.")
        out = []
        for order in orders:
            self._release(acct, order)
            out.append(order.as_json())
        if self.after_cancel_all is not None:
            self.after_cancel_all(acct, symbol)  # e.g. a strategy places a new order right after
        return out


def round_down(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_DOWN) * step


def default_fake() -> BinanceFake:
    """Three spot symbols quoted in USDT, with Binance's real filters for them."""
    return BinanceFake([
        Symbol("BTC", "USDT", D("60000.00"), tick=D("0.01"), step=D("0.00001"), min_qty=D("0.00001"),
               min_notional=D("5")),
        Symbol("ETH", "USDT", D("3000.00"), tick=D("0.01"), step=D("0.0001"), min_qty=D("0.0001"),
               min_notional=D("5")),
        Symbol("XRP", "USDT", D("0.5000"), tick=D("0.0001"), step=D("1"), min_qty=D("1"), min_notional=D("5")),
    ])


def main() -> None:  # python tests/exchanges/binance_fake.py → a fake with two accounts, ctrl+c stops it
    import signal

    fake = default_fake().start()
    a = fake.account("demo-key-1", "demo-secret-1", USDT="6090.5617341", BTC="0.0123456", ETH="0.5", XRP="7.9")
    b = fake.account("demo-key-2", "demo-secret-2", USDT="1000")
    fake.limit(a, "BTCUSDT", "SELL", "0.002", "70000")
    fake.limit(a, "ETHUSDT", "BUY", "0.01", "2500")
    fake.limit(b, "XRPUSDT", "BUY", "100", "0.45")
    print(f"Binance fake at {fake.url} (keys demo-key-1/demo-secret-1, demo-key-2/demo-secret-2)", flush=True)
    signal.pause()


if __name__ == "__main__":
    main()
