"""One exchange account's settings, from a checked `[[profiles.P.exchanges]]` table. Only the
*names* of the environment variables holding the key, secret and password are kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class AccountSettings:
    name: str
    exchange: str
    key_env: str | None = None
    secret_env: str | None = None
    password_env: str | None = None
    quote: str = "USDT"
    sandbox: bool = False
    symbols: tuple[str, ...] = ()
    timeout: float = 10.0
    poll_interval: float = 30.0
    base_url: str | None = None
    max_orders: int = 1000

    @classmethod
    def from_table(cls, t: Mapping[str, Any]) -> "AccountSettings":
        return cls(
            name=t["name"], exchange=t["exchange"], key_env=t.get("key_env"), secret_env=t.get("secret_env"),
            password_env=t.get("password_env"), quote=t.get("quote", "USDT"), sandbox=t.get("sandbox", False),
            symbols=tuple(t.get("symbols", ())), timeout=float(t.get("timeout", 10.0)),
            poll_interval=float(t.get("poll_interval", 30.0)), base_url=t.get("base_url"),
            max_orders=int(t.get("max_orders", 1000)),
        )

    @property
    def label(self) -> str:
        return f"{self.name} ({self.exchange}{', sandbox' if self.sandbox else ''})"
