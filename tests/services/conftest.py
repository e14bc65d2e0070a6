"""Fixtures for the services tests: the source tree importable here and in child processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


@pytest.fixture(autouse=True)
def _child_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    """Child processes (runs, helper scripts) import opsconsole from this checkout."""
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(SRC) + (os.pathsep + existing if existing else ""))


@pytest.fixture
def ledger(tmp_path: Path):
    from opsconsole.services.ledger import Ledger

    ledger = Ledger(Ledger.default_path(tmp_path / "data"))
    yield ledger
    ledger.close()
