"""A real YARN (ResourceManager + NodeManager) for the YARN tests: started once per session on
free ports from the cached Hadoop jars (installed on first use), stopped with its process groups
at the end, at exit and on signals. It FAILS the tests when it cannot start, never skips."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import yarn_peer  # noqa: E402

from yarn_helpers import open_session  # noqa: E402


@pytest.fixture(scope="session")
def yarn(tmp_path_factory) -> yarn_peer.YarnPeer:
    yarn_peer.install_handlers()
    # a short root: container working dirs live under it (a long tmp path makes long socket paths)
    peer = yarn_peer.YarnPeer(Path(tempfile.mkdtemp(prefix="yarnpeer-")))
    try:
        peer.start()
    except Exception as exc:  # noqa: BLE001 - reported as a failure
        peer.stop()
        pytest.fail(f"the test YARN could not start: {exc}", pytrace=False)
    print(f"\nYARN ready in {peer.started_in:.1f}s (RM {peer.rm_url})", file=sys.stderr)
    yield peer
    peer.stop()
    shutil.rmtree(peer.root, ignore_errors=True)


@pytest.fixture(scope="session")
def sleeper(yarn) -> str:
    """A long DistributedShell application in the default queue (600 ticks)."""
    return yarn.submit("ops-sleeper", 600, "default")


@pytest.fixture
async def session(yarn, tmp_path):
    s = open_session({"url": yarn.rm_url, "timeout": 10}, tmp_path / "data")
    yield s
    await s.aclose()
