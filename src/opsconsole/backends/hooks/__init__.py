"""HTTP hooks of the kill-switch: the circuit breaker (phase ``breaker``) and the alert webhook
(phase ``alert``), configured in a profile's ``[killswitch]`` table.

Not a backend of the registry (no panes, no profile table of its own): a small package under
backends/ because backends are where opsconsole talks to the outside (STYLE.md); the kill plan
(services/killplan.py) builds these steps from the profile's kill-switch settings. httpx is
imported when a step runs. Secrets: the breaker's token is read from the environment variable
the config names, at fire time, and goes only into the Authorization header.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Mapping
from typing import Any

from opsconsole.domain.kill import ALERT, BREAKER, KillObject, KillStep, StepLog

BREAKER_KIND, ALERT_KIND = "breaker", "alert"


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="…" if parts.query else "")) if parts.query else url


@functools.lru_cache(maxsize=1)
def _tls() -> Any:
    """The TLS context (system CAs), built once: building it costs a few hundred ms."""
    import ssl

    import httpx  # noqa: F401 - imported here too, so that warming up imports it

    return ssl.create_default_context()


def warm_up() -> None:
    """(Blocking.) Import httpx and build the TLS context, so that firing waits for neither."""
    _tls()


async def _call(method: str, url: str, *, headers: Mapping[str, str], body: Any, timeout: float) -> tuple[int, str]:
    import httpx

    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, verify=_tls()) as client:
        response = await client.request(method, url, headers=dict(headers),
                                        content=None if body is None else json.dumps(body, default=str).encode())
        return response.status_code, response.text[:300]


def _check(status: int, text: str, expect: tuple[int, ...] | None) -> None:
    ok = status in expect if expect else 200 <= status < 300
    if not ok:
        want = ", ".join(map(str, expect)) if expect else "2xx"
        raise RuntimeError(f"HTTP {status} (expected {want}): {text.strip()[:200]}")


def breaker_step(settings: Mapping[str, Any], deadline: float) -> KillStep:
    """The circuit breaker: one HTTP call (method, URL, optional bearer token from an env var),
    its answer checked (2xx, or the configured `expect_status`)."""
    method = str(settings.get("method", "POST")).upper()
    url = str(settings["url"])
    token_env = settings.get("token_env")
    expect = tuple(settings.get("expect_status") or ()) or None
    shown = _redact(url)

    async def action(log: StepLog) -> str:
        headers = {"Content-Type": "application/json", "User-Agent": "opsconsole-killswitch"}
        if token_env:
            token = os.environ.get(str(token_env))
            if not token:
                log.failed("breaker", shown, f"${token_env} is not set: the call was not made")
                raise RuntimeError(f"${token_env} is not set: the circuit breaker was NOT called")
            headers["Authorization"] = f"Bearer {token}"
        log.acted("breaker", shown, f"{method} sent")
        try:
            status, text = await _call(method, url, headers=headers, body={"reason": "opsconsole kill-switch"},
                                       timeout=max(0.5, deadline - 0.5))
        except Exception as exc:  # no answer: it may have acted, we can't tell → unknown
            log.not_confirmed("breaker", shown, f"no answer: {type(exc).__name__}: {exc}")
            return f"{method} {shown}: no answer ({type(exc).__name__})"
        try:
            _check(status, text, expect)
        except RuntimeError as exc:
            log.failed("breaker", shown, str(exc))
            raise
        log.confirmed("breaker", shown, f"HTTP {status}")
        return f"{method} {shown}: HTTP {status}"

    async def targets() -> list[KillObject]:
        # armed: import httpx now (in a thread), so that firing does not wait for the import
        await asyncio.to_thread(warm_up)
        return [KillObject("breaker", shown, reason=f"{method}" + (f", token ${token_env}" if token_env else ""))]

    return KillStep(name="circuit breaker", kind=BREAKER_KIND,
                    description=f"{method} {shown}" + (f" (bearer token from ${token_env})" if token_env else "")
                                + ", answer checked", action=action, deadline=deadline, phase=BREAKER,
                    targets=targets)


def alert_step(url: str, deadline: float) -> KillStep:
    """The alert webhook: POSTs the kill's outcome as JSON (every earlier step with its objects,
    the latch) after all the other phases."""
    shown = _redact(url)

    async def action(log: StepLog) -> str:
        body = {"event": "opsconsole.killswitch", **(log.outcome or {})}
        log.acted("webhook", shown, "POST sent")
        try:
            status, text = await _call("POST", url, headers={"Content-Type": "application/json",
                                                             "User-Agent": "opsconsole-killswitch"},
                                       body=body, timeout=max(0.5, deadline - 0.5))
        except Exception as exc:  # no answer: it may have arrived, we can't tell → unknown
            log.not_confirmed("webhook", shown, f"no answer: {type(exc).__name__}: {exc}")
            return f"POST {shown}: no answer ({type(exc).__name__})"
        try:
            _check(status, text, None)
        except RuntimeError as exc:
            log.failed("webhook", shown, str(exc))
            raise
        log.confirmed("webhook", shown, f"HTTP {status}")
        return f"POST {shown}: HTTP {status}"

    async def targets() -> list[KillObject]:
        await asyncio.to_thread(warm_up)
        return [KillObject("webhook", shown, reason="POST the outcome as JSON")]

    return KillStep(name="alert webhook", kind=ALERT_KIND,
                    description=f"POST the kill's outcome as JSON to {shown}", action=action, deadline=deadline,
                    phase=ALERT, targets=targets)
