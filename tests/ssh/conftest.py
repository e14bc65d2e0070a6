"""Fixtures of the SSH hosts backend: three real OpenSSH sshd on 127.0.0.1 (one session-wide
key pair and known_hosts), supervisord under them as the service manager, a prometheus_client
exporter in one of its programs. Nothing is skipped: a missing peer is installed by
.ci/peers/10-ssh.sh, or the fixture fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from peer_procs import kill_below
from ssh_helpers import BIG_LAST, host_table, trading_host
from sshd_peer import PeerGroup, ensure_installed, free_port, make_keys, start_sshd, start_supervisor


@pytest.fixture(scope="session")
def peers(tmp_path_factory):
    ensure_installed()
    root = tmp_path_factory.mktemp("sshpeers")
    group = PeerGroup()
    group.cleanups.append(lambda: kill_below(root))  # runs the tests started detached (setsid, tmux)
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




@pytest.fixture(scope="session")
def big_log(tmp_path_factory, peers):
    """A real (not sparse) 1 GiB log file, written once per session and removed after (also
    when the session is interrupted: the peer group's cleanup)."""
    d = tmp_path_factory.mktemp("biglog")
    path = d / "big.log"
    peers["group"].cleanups.append(lambda: path.unlink(missing_ok=True))
    line = b"2026-11-29T12:00:00 INFO market_data tick price=101.25 qty=3 venue=alpaca seq=000000\n"
    block = line * (1024 * 1024 // len(line))
    size = 1 << 30
    with open(path, "wb") as f:
        written = 0
        while written + len(block) + len(BIG_LAST) <= size:
            f.write(block)
            written += len(block)
        f.write(b"x" * (size - written - len(BIG_LAST) - 1) + b"\n")
        f.write(BIG_LAST)
    assert path.stat().st_size == size and path.stat().st_blocks * 512 >= size  # allocated, not sparse
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def ledger(data_dir):
    from opsconsole.services.ledger import Ledger

    ledger = Ledger(Ledger.default_path(data_dir))
    yield ledger
    ledger.close()


@pytest.fixture
def make_session(data_dir, ledger):
    """A hosts session over the given host tables (closed after the test)."""
    from opsconsole.backends.base import SessionEnv
    from opsconsole.backends.ssh import BACKEND
    from opsconsole.domain.models import utcnow

    made = []

    def make(*tables, kill_deadline: float = 60.0, store=None):
        env = SessionEnv(profile="lab", environment="lab", readonly=False, settings=BACKEND.settings(list(tables)),
                         store=lambda: store or ledger, data_dir=data_dir, clock=utcnow, kill_deadline=kill_deadline)
        session = BACKEND.open(env)
        made.append(session)
        return session

    yield make
    for s in made:
        s.pool.close_blocking() if s._pool is not None else None
