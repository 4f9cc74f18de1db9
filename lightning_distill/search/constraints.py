"""Metric thresholds as Optuna constraints, so NSGA-II sees what SigOpt's metric thresholds say.

SigOpt deprioritizes configurations whose metric misses its threshold and keeps them off the
front; Optuna's NSGA-II takes a ``constraints_func(trial) -> [c, ...]`` where ``c <= 0`` is
feasible. ``hparams_search=optuna_offline`` passes this function, partially applied from config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

OBJECTIVES = ("maximize", "minimize")


def metric_threshold(trial: Any, *, index: int, threshold: float, objective: str = "maximize") -> Sequence[float]:
    """``[threshold - value]`` for a maximized metric (``[value - threshold]`` minimized): <= 0 meets it.

    A trial without values (failed) is infeasible by a wide margin, as SigOpt treats a failed one.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r} must be one of {OBJECTIVES}")
    values = getattr(trial, "values", None)
    if not values or len(values) <= index or values[index] is None:
        return [float("inf")]
    value = float(values[index])
    return [threshold - value if objective == "maximize" else value - threshold]
