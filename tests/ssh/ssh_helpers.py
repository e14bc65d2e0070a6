"""Helpers of the SSH hosts tests (a module name of its own: every test dir has a conftest)."""

from __future__ import annotations

import getpass
from typing import Any

BIG_LAST = b"2026-11-29T23:59:59 INFO the very last line of the big log\n"


def host_table(sshd, name: str = "vm1", **extra: Any) -> dict[str, Any]:
    table = {"name": name, "hostname": "127.0.0.1", "port": sshd.port, "user": getpass.getuser(),
             "identity": str(sshd.keys.client_key), "known_hosts": str(sshd.known_hosts), "timeout": 10.0,
             "connect_timeout": 5.0, "workdir": str(sshd.dir / "runs")}
    table.update(extra)
    return table


def trading_host(peers, name: str = "trading-1", **extra: Any) -> dict[str, Any]:
    sup = peers["supervisor"]
    table = dict(manager="supervisor", supervisor_socket=str(sup.socket),
                 services=list(sup.services), logs=[str(sup.dir / "logs" / "*.log")],
                 metrics_url=f"http://127.0.0.1:{peers['metrics_port']}/metrics",
                 health=["risk_circuit_breaker_active == 0",
                         'market_data_websocket_connected{feed="alpaca"} == 1', "latency < 2s"],
                 state_timeout=20.0)
    table.update(extra)
    return host_table(peers["sshds"][0], name, **table)


def settings_of(*tables: dict[str, Any]):
    from opsconsole.backends.ssh import BACKEND

    return BACKEND.settings(list(tables))
