"""Sweeps: any parameter given a list of values expands to the cross product (seed 004).

The order is the sweep table's order, the last parameter varying fastest, so sweep point N is
stable while a preset is edited elsewhere."""

from __future__ import annotations

import itertools
from math import prod
from typing import Any


def sweep_size(sweep: dict[str, list[Any]]) -> int:
    return prod(len(v) for v in sweep.values()) if sweep else 1


def expand(sweep: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The points of the sweep; [{}] when there is none (one plain run)."""
    if not sweep:
        return [{}]
    keys = list(sweep)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(sweep[k] for k in keys))]


def describe_point(point: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in point.items()) or "(no sweep)"
