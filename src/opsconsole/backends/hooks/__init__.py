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


_HEADERS = {"Content-Type": "application/json", "User-Agent": "opsconsole-killswitch"}


async def _send(log: StepLog, kind: str, method: str, url: str, headers: dict[str, str], body: Any,
                timeout: float, expect: tuple[int, ...] | None) -> str:
    """One HTTP call as one object of the step: acted → confirmed (the expected answer), failed
    (another answer: raises), or not confirmed (no answer: it may have acted — unknown)."""
    shown = _redact(url)
    log.acted(kind, shown, f"{method} sent")
    try:
        status, text = await _call(method, url, headers=headers, body=body, timeout=timeout)
    except Exception as exc:
        log.not_confirmed(kind, shown, f"no answer: {type(exc).__name__}: {exc}")
        return f"{method} {shown}: no answer ({type(exc).__name__})"
    try:
        _check(status, text, expect)
    except RuntimeError as exc:
        log.failed(kind, shown, str(exc))
        raise
    log.confirmed(kind, shown, f"HTTP {status}")
    return f"{method} {shown}: HTTP {status}"


def breaker_step(settings: Mapping[str, Any], deadline: float) -> KillStep:
    """The circuit breaker: one HTTP call (method, URL, optional bearer token from an env var),
    its answer checked (2xx, or the configured `expect_status`)."""
    method = str(settings.get("method", "POST")).upper()
    url = str(settings["url"])
    token_env = settings.get("token_env")
    expect = tuple(settings.get("expect_status") or ()) or None
    shown = _redact(url)

    async def action(log: StepLog) -> str:
        headers = dict(_HEADERS)
        if token_env:
            token = os.environ.get(str(token_env))
            if not token:
                log.failed("breaker", shown, f"${token_env} is not set: the call was not made")
                raise RuntimeError(f"${token_env} is not set: the circuit breaker was NOT called")
            headers["Authorization"] = f"Bearer {token}"
        return await _send(log, "breaker", method, url, headers, {"reason": "opsconsole kill-switch"},
                           max(0.5, deadline - 0.5), expect)

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
        return await _send(log, "webhook", "POST", url, dict(_HEADERS), body, max(0.5, deadline - 0.5), None)

    async def targets() -> list[KillObject]:
        await asyncio.to_thread(warm_up)
        return [KillObject("webhook", shown, reason="POST the outcome as JSON")]

    return KillStep(name="alert webhook", kind=ALERT_KIND,
                    description=f"POST the kill's outcome as JSON to {shown}", action=action, deadline=deadline,
                    phase=ALERT, targets=targets)
