"""Metric thresholds as Optuna constraints, so NSGA-II sees what SigOpt's metric thresholds say.

SigOpt deprioritizes configurations whose metric misses its threshold and keeps them off the
front; Optuna's NSGA-II takes a ``constraints_func(trial) -> [c, ...]`` where ``c <= 0`` is
feasible. ``hparams_search=optuna_offline`` passes this function, partially applied with the search's
own ``metrics`` list (``conf/search/``), so the threshold, its metric's position among the objectives and its
direction are read from the one place a search states them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lightning_distill.metrics import check_search_metrics, optimized


def thresholds(metrics: Sequence[Mapping[str, Any]]) -> list[tuple[int, float, str]]:
    """``(objective index, threshold, direction)`` of every optimized metric with a threshold."""
    check_search_metrics(metrics)
    return [(index, float(entry["threshold"]), entry["objective"])
            for index, entry in enumerate(optimized(metrics)) if entry.get("threshold") is not None]  # fmt: skip


def metric_threshold(trial: Any, *, metrics: Sequence[Mapping[str, Any]]) -> Sequence[float]:
    """One value per thresholded metric: ``threshold - value`` (maximized) or ``value - threshold`` (minimized);
    <= 0 meets it.

    A trial without values (failed) is infeasible by a wide margin, as SigOpt treats a failed one.
    """
    values = getattr(trial, "values", None)
    constraints = []
    for index, threshold, objective in thresholds(metrics):
        if not values or len(values) <= index or values[index] is None:
            constraints.append(float("inf"))
            continue
        value = float(values[index])
        constraints.append(threshold - value if objective == "maximize" else value - threshold)
    return constraints
