"""Fixtures for the engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from logtools import write_log


@pytest.fixture
def make_log(tmp_path: Path) -> Callable[..., tuple[Path, list[bytes]]]:
    def make(n_lines: int = 20_000, name: str = "run.log", seed: int = 7) -> tuple[Path, list[bytes]]:
        path = tmp_path / name
        return path, write_log(path, n_lines, seed)

    return make
