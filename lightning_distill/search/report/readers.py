"""The small readers that run and sweep loading share: CSV rows with their numbers parsed, a number out of
anything, a nested config as dotted keys, and what a malformed file raises."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from omegaconf.errors import OmegaConfBaseException

UNREADABLE = (OSError, ValueError, TypeError, AttributeError, KeyError, OmegaConfBaseException)
"""What a malformed or foreign metrics.json / pareto.json / config.yaml raises while being read."""


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="") as handle:
        return [{key: value if (number := _number(value)) is None else number for key, value in row.items()} for row in csv.DictReader(handle)]


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        if not node and prefix:
            return {prefix: {}}
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: node}
