"""Fixtures of the SSH hosts backend: three real OpenSSH sshd on 127.0.0.1 (one session-wide
key pair and known_hosts), supervisord under them as the service manager, a prometheus_client
exporter in one of its programs. Nothing is skipped: a missing peer is installed by
.ci/peers/10-ssh.sh, or the fixture fails."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import Any

import pytest

from sshd_peer import PeerGroup, free_port, make_keys, start_sshd, start_supervisor, ensure_installed


@pytest.fixture(scope="session")
def peers(tmp_path_factory):
    ensure_installed()
    root = tmp_path_factory.mktemp("sshpeers")
    group = PeerGroup()
    try:
        keys = make_keys(root / "keys")
        sshds = [start_sshd(root, keys, group, name=f"sshd{i}") for i in range(3)]
        metrics_port = free_port()
        supervisor = start_supervisor(root, group, metrics_port=metrics_port)
        yield {"root": root, "keys": keys, "sshds": sshds, "supervisor": supervisor, "metrics_port": metrics_port,
               "group": group}
    finally:
        group.close()


@pytest.fixture
def sshd(peers):
    s = peers["sshds"][0]
    s.start()  # a test that took it down may have failed before bringing it back
    return s


def host_table(sshd, name: str = "vm1", **extra: Any) -> dict[str, Any]:
    table = {"name": name, "hostname": "127.0.0.1", "port": sshd.port, "user": getpass.getuser(),
             "identity": str(sshd.keys.client_key), "known_hosts": str(sshd.known_hosts), "timeout": 10.0,
             "connect_timeout": 5.0}
    table.update(extra)
    return table


def trading_host(peers, name: str = "trading-1", **extra: Any) -> dict[str, Any]:
    sup = peers["supervisor"]
    return host_table(peers["sshds"][0], name, manager="supervisor", supervisor_socket=str(sup.socket),
                      services=list(sup.services), logs=[str(sup.dir / "logs" / "*.log")],
                      metrics_url=f"http://127.0.0.1:{peers['metrics_port']}/metrics",
                      health=["risk_circuit_breaker_active == 0",
                              'market_data_websocket_connected{feed="alpaca"} == 1', "latency < 2s"],
                      state_timeout=20.0, **extra)


def settings_of(*tables: dict[str, Any]):
    from opsconsole.backends.ssh import BACKEND

    return BACKEND.settings(list(tables))


def run(coro):
    return asyncio.get_event_loop().run_until_complete(coro)


@pytest.fixture
def config_text(peers, tmp_path):
    """A config with a `lab` profile holding the trading host (supervisor) and two plain hosts."""

    def make(extra_host: str = "") -> str:
        import tomlkit

        hosts = [trading_host(peers)] + [host_table(s, f"vm{i}") for i, s in enumerate(peers["sshds"][1:], 2)]
        doc = tomlkit.document()
        profiles = tomlkit.table(is_super_table=True)
        lab = tomlkit.table()
        lab["environment"] = "lab"
        aot = tomlkit.aot()
        for h in hosts:
            aot.append(tomlkit.item(h))
        lab["hosts"] = aot
        profiles["lab"] = lab
        doc["profiles"] = profiles
        return tomlkit.dumps(doc) + extra_host

    return make


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d
