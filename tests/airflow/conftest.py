"""Real Airflow 3.3.2 and 2.11.2 servers for the Airflow tests (one of each per session).

Both are installed from the lock files in fixtures/ into their own cached virtualenvs (built on
first use: `python -m pytest -q` is enough on a fresh machine) and started concurrently on free
loopback ports; stopped by PID, with their whole process trees, at the end of the session.
A server that cannot be installed or started FAILS the tests that need it (never skips)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))

import af_server  # noqa: E402

DAGS = {3: ("opsconsole_demo", "opsconsole_mapped", "opsconsole_wide"), 2: ("opsconsole_demo", "opsconsole_mapped")}


class _Launcher:
    """Starts both servers in the background at the first request, hands each out when ready."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: dict[int, af_server.AirflowServer] = {}
        self.errors: dict[int, BaseException] = {}
        self.threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def _start(self, major: int) -> None:
        server = af_server.AirflowServer(major, self.root / f"airflow{major}")
        self.servers[major] = server
        reuse = os.environ.get(f"OPSCONSOLE_TEST_AIRFLOW{major}_URL")  # a developer's running server
        if reuse:
            server.port = int(reuse.rsplit(":", 1)[1])
            return
        try:
            server.launch()
            server.wait_ready(DAGS[major])
        except BaseException as exc:  # noqa: BLE001 - reported by get()
            self.errors[major] = exc

    def start_all(self) -> None:
        with self._lock:
            for major in (3, 2):
                if major not in self.threads:
                    t = threading.Thread(target=self._start, args=(major,), name=f"airflow{major}", daemon=True)
                    self.threads[major] = t
                    t.start()

    def get(self, major: int) -> af_server.AirflowServer:
        self.start_all()
        self.threads[major].join()
        if major in self.errors:
            pytest.fail(f"the test Airflow {major} could not start: {self.errors[major]}", pytrace=False)
        return self.servers[major]

    def stop(self) -> None:
        for t in self.threads.values():
            t.join()
        for server in self.servers.values():
            server.stop()


@pytest.fixture(scope="session")
def airflow_launcher(tmp_path_factory):
    launcher = _Launcher(tmp_path_factory.mktemp("airflow"))
    yield launcher
    launcher.stop()


@pytest.fixture(scope="session")
def airflow3(airflow_launcher) -> af_server.AirflowServer:
    return airflow_launcher.get(3)


@pytest.fixture(scope="session")
def airflow2(airflow_launcher) -> af_server.AirflowServer:
    return airflow_launcher.get(2)


@pytest.fixture(params=[3, 2], ids=["airflow3", "airflow2"])
def server(request, airflow_launcher) -> af_server.AirflowServer:
    return airflow_launcher.get(request.param)


@pytest.fixture
async def client(server):
    from opsconsole.backends.airflow.client import AirflowClient, AirflowSettings

    c = AirflowClient(AirflowSettings(url=server.url, username="admin", password="admin",
                                      dags=("opsconsole_*",), tags=("opsconsole",), timeout=60))
    yield c
    await c.aclose()
