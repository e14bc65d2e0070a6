"""The health backend (`[[profiles.NAME.health]]`): Prometheus /metrics endpoints reachable
over HTTP from the console, each checked against health rules (domain/health.py) — the
`curl -s localhost:9090/metrics | grep risk_circuit_breaker_active` of seed 003, as a pane.

Endpoints that listen only on a VM's localhost belong to that host's `metrics_url` in
`[[profiles.NAME.hosts]]` (read through its SSH connection). httpx and prometheus_client are
imported when the pane first polls. See docs/hosts.md.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opsconsole.backends.base import DESCRIBE, DRILL, Backend, BackendSession, PaneSource, SessionEnv
from opsconsole.config.schema import ArrayOf, Bool, HealthRule, List, Num, Str, Table, Url
from opsconsole.domain.health import RuleResult, evaluate_all, samples
from opsconsole.domain.items import Column, Item
from opsconsole.domain.states import State

if TYPE_CHECKING:
    import httpx

MAX_METRICS = 32 << 20


ENDPOINT = Table({
    "name": Str(),
    "url": Url(),
    "rules": List(HealthRule()),
    "timeout": Num(min=0.1, max=120),
    "interval": Num(min=1, max=3600),
    "verify_tls": Bool(),
}, required=("name", "url"))
SCHEMA = ArrayOf(ENDPOINT, unique="name")


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    rules: tuple[str, ...] = ()
    timeout: float = 5.0
    interval: float = 5.0
    verify_tls: bool = True


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    from prometheus_client.parser import text_string_to_metric_families

    return samples(text_string_to_metric_families(text))


async def check_endpoint(client: "httpx.AsyncClient", ep: Endpoint) -> tuple[list[RuleResult], float]:
    """The endpoint's rules evaluated on a fresh scrape, and the scrape's latency (seconds)."""
    start = time.monotonic()
    resp = await client.get(ep.url, timeout=ep.timeout)
    took = time.monotonic() - start
    if resp.status_code != 200:
        raise RuntimeError(f"{ep.name}: {ep.url} answered HTTP {resp.status_code}")
    if len(resp.content) > MAX_METRICS:
        raise RuntimeError(f"{ep.name}: {len(resp.content)} bytes of metrics (more than {MAX_METRICS})")
    data = await asyncio.to_thread(parse_metrics, resp.text)
    return evaluate_all(ep.rules, data, took), took


class HealthBackend(Backend):
    name = "health"
    title = "Health"
    schema = SCHEMA

    def settings(self, table: Any) -> tuple[Endpoint, ...]:
        return tuple(Endpoint(**{**t, "rules": tuple(t.get("rules", ()))}) for t in table or [])

    def open(self, env: SessionEnv) -> "HealthSession":
        return HealthSession(self, env)


class HealthSession(BackendSession):
    def __init__(self, backend: Backend, env: SessionEnv) -> None:
        super().__init__(backend, env)
        self.endpoints: tuple[Endpoint, ...] = env.settings or ()
        self._clients: dict[bool, Any] = {}

    def client(self, verify: bool) -> "httpx.AsyncClient":
        if verify not in self._clients:
            import httpx

            self._clients[verify] = httpx.AsyncClient(verify=verify, follow_redirects=False)
        return self._clients[verify]

    def sources(self) -> list[PaneSource]:
        return [EndpointsSource(self)]

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            await c.aclose()


class EndpointsSource(PaneSource):
    """Every endpoint: up or down, how many rules hold; drill into the rules."""

    key = "health"
    title = "Health"
    scope = "health"
    capabilities = frozenset({DRILL, DESCRIBE})
    columns = (Column("endpoint", "ENDPOINT", 18), Column("state", "STATE", 8), Column("rules", "RULES OK", 9),
               Column("failing", "FAILING", None), Column("latency", "LATENCY", 8), Column("url", "URL", 32, optional=True))

    def __init__(self, session: HealthSession) -> None:
        self.session = session
        self.interval = min((e.interval for e in session.endpoints), default=5.0)
        self.results: dict[str, list[RuleResult]] = {}

    async def fetch(self) -> list[Item]:
        return list(await asyncio.gather(*(self._one(ep) for ep in self.session.endpoints)))

    async def _one(self, ep: Endpoint) -> Item:
        try:
            results, took = await asyncio.wait_for(check_endpoint(self.session.client(ep.verify_tls), ep),
                                                   ep.timeout + 1)
        except Exception as exc:  # noqa: BLE001 - a down endpoint is a row, not a stale pane
            self.results.pop(ep.name, None)
            return Item(key=ep.name, state=State.FAILED,
                        cells={"endpoint": ep.name, "state": "down", "rules": "", "failing": f"{type(exc).__name__}: {exc}"[:200],
                               "latency": "", "url": ep.url},
                        detail={"endpoint": ep.name, "url": ep.url, "error": str(exc)})
        self.results[ep.name] = results
        failing = [r for r in results if not r.ok]
        return Item(key=ep.name, state=State.FAILED if failing else State.SUCCESS,
                    cells={"endpoint": ep.name, "state": "failing" if failing else "ok",
                           "rules": f"{len(results) - len(failing)}/{len(results)}",
                           "failing": "; ".join(f"{r.rule.text} ({r.detail})" for r in failing),
                           "latency": f"{took * 1000:.0f}ms", "url": ep.url},
                    detail={"endpoint": ep.name, "url": ep.url,
                            "rules": [{"rule": r.rule.text, "ok": r.ok, "value": r.detail} for r in results]})

    def drill(self, item: Item) -> PaneSource | None:
        ep = next((e for e in self.session.endpoints if e.name == item.key), None)
        return RulesSource(self.session, ep) if ep else None


class RulesSource(PaneSource):
    key = "health.rules"
    scope = "health"
    columns = (Column("rule", "RULE", 48), Column("state", "STATE", 8), Column("value", "VALUE", 24))

    def __init__(self, session: HealthSession, ep: Endpoint) -> None:
        self.session = session
        self.ep = ep
        self.title = f"{ep.name} › rules"
        self.interval = ep.interval

    async def fetch(self) -> list[Item]:
        results, took = await check_endpoint(self.session.client(self.ep.verify_tls), self.ep)
        self.title = f"{self.ep.name} › rules ({took * 1000:.0f}ms)"
        return [Item(key=r.rule.text, state=State.SUCCESS if r.ok else State.FAILED,
                     cells={"rule": r.rule.text, "state": r.state, "value": r.detail},
                     detail={"rule": r.rule.text, "ok": r.ok, "value": r.value, "detail": r.detail}) for r in results]


BACKEND = HealthBackend()
