"""A host's /metrics, read from the host's side when the endpoint listens on its localhost (a
direct-tcpip channel of the host's SSH connection: the port stays closed to the network), else
directly with httpx; parsed with prometheus_client's text parser and checked against the host's
health rules (domain/health.py)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from opsconsole.domain.health import RuleResult, evaluate_all, samples

if TYPE_CHECKING:
    from opsconsole.backends.ssh import HostSettings
    from opsconsole.backends.ssh.pool import Pool

LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}
MAX_METRICS = 32 << 20


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    from prometheus_client.parser import text_string_to_metric_families

    return samples(text_string_to_metric_families(text))


async def fetch_metrics(pool: "Pool", host: "HostSettings") -> tuple[str, float]:
    """The exposition text and how long the request took."""
    url = host.metrics_url or ""
    parts = urlsplit(url)
    start = time.monotonic()
    if parts.hostname in LOCAL_NAMES and parts.scheme == "http":
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        target = "127.0.0.1" if parts.hostname != "::1" else "::1"
        status, body = await pool.call(host.name, lambda c: c.http_get(target, parts.port or 80, path))
    else:
        import httpx

        async with httpx.AsyncClient(timeout=host.timeout) as client:
            resp = await client.get(url)
            status, body = resp.status_code, resp.content
    took = time.monotonic() - start
    if status != 200:
        raise RuntimeError(f"{host.name}: {url} answered HTTP {status}")
    if len(body) > MAX_METRICS:
        raise RuntimeError(f"{host.name}: {url} sent {len(body)} bytes of metrics (more than {MAX_METRICS})")
    return body.decode("utf-8", "replace"), took


async def host_health(pool: "Pool", host: "HostSettings") -> tuple[list[RuleResult], float]:
    text, took = await fetch_metrics(pool, host)
    data = await asyncio.to_thread(parse_metrics, text)
    return evaluate_all(host.health, data, took), took
