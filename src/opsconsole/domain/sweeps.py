"""Sweeps: any parameter given a list of values expands to the cross product (seed 004).

The order is the sweep table's order, the last parameter varying fastest, so sweep point N is
stable while a preset is edited elsewhere."""

from __future__ import annotations

import itertools
from math import prod
from typing import Any, Iterator

# Runs one launch may start unless the preset (`max_runs = N`) or the command line
# (`--max-runs N`) raises it: a sweep is counted before it is expanded, and refused above this.
MAX_RUNS = 1000


class SweepTooLarge(ValueError):
    """A sweep with more points than the cap allows."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(f"{size:,} runs is over the cap of {cap:,}: set max_runs = {size} in the preset "
                         f"(or --max-runs {size}) to launch that many")
        self.size = size
        self.cap = cap


def sweep_size(sweep: dict[str, list[Any]]) -> int:
    return prod(len(v) for v in sweep.values()) if sweep else 1


def check_size(sweep: dict[str, list[Any]], cap: int = MAX_RUNS) -> int:
    """The number of points, counted without expanding; SweepTooLarge above `cap`."""
    size = sweep_size(sweep)
    if size > cap:
        raise SweepTooLarge(size, cap)
    return size


def iter_points(sweep: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """The points one at a time (a million points need no million dicts at once)."""
    if not sweep:
        yield {}
        return
    keys = list(sweep)
    for combo in itertools.product(*(sweep[k] for k in keys)):
        yield dict(zip(keys, combo))


def expand(sweep: dict[str, list[Any]], cap: int = MAX_RUNS) -> list[dict[str, Any]]:
    """The points of the sweep; [{}] when there is none (one plain run). SweepTooLarge above `cap`."""
    check_size(sweep, cap)
    return list(iter_points(sweep))


def describe_point(point: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in point.items()) or "(no sweep)"
