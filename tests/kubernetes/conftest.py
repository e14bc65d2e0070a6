"""One real Kubernetes API server (etcd + kube-apiserver + kwok) for the Kubernetes tests,
started from the cached binaries (built by the installer when missing) and stopped as a
process group at the end, at exit and on signals. A peer that cannot start FAILS the tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import k8s_peer  # noqa: E402


@pytest.fixture(scope="session")
def k8s(tmp_path_factory):
    try:
        peer = k8s_peer.K8sPeer(tmp_path_factory.mktemp("k8s")).start()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the test Kubernetes API server could not start: {exc}", pytrace=False)
    yield peer
    peer.stop()
