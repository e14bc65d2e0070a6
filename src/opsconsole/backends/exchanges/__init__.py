"""The exchanges backend: crypto exchange accounts through ccxt's async API (imported only when
a session first talks to an exchange). Its panes list balances per asset (with each account's
total in its quote currency) and open orders; its actions cancel one order, cancel every order
of a symbol and take a balance snapshot into the ledger; its kill steps cancel every open order
of every configured account and symbol (phase "halt", verified by a second listing) and, when
the profile opts in (``[killswitch] flatten_positions = true``), sell positions to the quote
currency (phase "flatten"). See docs/exchanges.md.

Keys, secrets and passwords are read from the environment variables the config names, when a
client is created; they are never kept in settings, shown, logged or audited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import Backend, BackendSession, SessionEnv
from opsconsole.config.schema import ArrayOf, Bool, List, Num, Str, Table, Url
from opsconsole.domain import policy
from opsconsole.domain.actions import Action

if TYPE_CHECKING:
    from opsconsole.backends.base import PaneSource
    from opsconsole.backends.exchanges.client import AccountClient
    from opsconsole.backends.exchanges.settings import AccountSettings
    from opsconsole.domain.balances import BalanceSnapshot
    from opsconsole.domain.kill import KillStep

ACCOUNT = Table({
    "name": Str(),
    "exchange": Str(),                 # the ccxt id: "binance", "kraken", ...
    "key_env": Str(env_name=True),
    "secret_env": Str(env_name=True),
    "password_env": Str(env_name=True),
    "quote": Str(),
    "sandbox": Bool(),
    "symbols": List(Str()),
    "timeout": Num(min=0.1, max=600),
    "poll_interval": Num(min=1, max=3600),
    "base_url": Url(),                 # every API URL re-pointed here (a private endpoint, the tests' fake)
    "max_orders": Num(integer=True, min=1, max=100_000),
}, required=("name", "exchange"), what="[[exchanges]] table")
SCHEMA = ArrayOf(ACCOUNT, unique="name")

CANCEL = Action("exchanges.cancel", "Cancel order", "x", policy.CHANGE, "cancel the selected open order")
CANCEL_SYMBOL = Action("exchanges.cancel_symbol", "Cancel symbol", "X", policy.CHANGE,
                       "cancel every open order of the selected order's symbol on its account")
SNAPSHOT = Action("exchanges.snapshot", "Snapshot", "B", policy.CHANGE,
                  "take a balance snapshot of the selected account now (into the ledger)")
ACTIONS = (CANCEL, CANCEL_SYMBOL, SNAPSHOT)


class ExchangesBackend(Backend):
    name = "exchanges"
    title = "Exchanges"
    schema = SCHEMA
    actions = ACTIONS

    def settings(self, table: Any) -> "tuple[AccountSettings, ...]":
        from opsconsole.backends.exchanges.settings import AccountSettings

        return tuple(AccountSettings.from_table(t) for t in table or ())

    def open(self, env: SessionEnv) -> "ExchangesSession":
        return ExchangesSession(self, env)


class ExchangesSession(BackendSession):
    """One profile's accounts: one ccxt client per account (created on first use), market
    metadata loaded once per exchange and base URL and shared by the accounts on it."""

    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.accounts: tuple[AccountSettings, ...] = tuple(env.settings or ())
        self._clients: dict[str, AccountClient] = {}
        self.markets_cache: dict[tuple[str, str, bool], Any] = {}

    def client(self, name: str) -> "AccountClient":
        client = self._clients.get(name)
        if client is None:
            from opsconsole.backends.exchanges.client import AccountClient

            settings = next((a for a in self.accounts if a.name == name), None)
            if settings is None:
                raise LookupError(f"no exchange account {name!r} in profile {self.env.profile!r}")
            client = self._clients[name] = AccountClient(settings, self.markets_cache)
        return client

    def clients(self) -> "list[AccountClient]":
        return [self.client(a.name) for a in self.accounts]

    def sources(self) -> list["PaneSource"]:
        from opsconsole.backends.exchanges.sources import BalancesSource, OrdersSource

        return [BalancesSource(self), OrdersSource(self)]

    def kill_steps(self) -> list["KillStep"]:
        from opsconsole.backends.exchanges.kill import kill_steps

        return kill_steps(self)

    async def balance_snapshots(self) -> "tuple[list[BalanceSnapshot], list[str]]":
        import asyncio

        from opsconsole.backends.exchanges.client import describe_error

        clients = self.clients()
        answers = await asyncio.gather(*(c.balance() for c in clients), return_exceptions=True)
        snaps = [a for a in answers if not isinstance(a, BaseException)]
        problems = [f"{c.name}: {describe_error(a)}" for c, a in zip(clients, answers) if isinstance(a, BaseException)]
        return snaps, problems

    async def reconciliation(self) -> list[tuple[str, str]]:
        from opsconsole.backends.exchanges.kill import reconciliation

        return await reconciliation(self)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


BACKEND = ExchangesBackend()
