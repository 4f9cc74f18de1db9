"""The sweep's metrics: validated config, SigOpt metric specs, values read from a trial's return,
and the Pareto-efficient set they define.

The front is like SigOpt's best assignments for a multimetric experiment with thresholds: only
points that meet every threshold compete (a QA model answering "no answer" to everything scores
~50 exact and is not a useful small model, however small), and a point stays unless another one
is at least as good on every optimized metric and strictly better on one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydra_plugins.sigopt_sweeper._settings import SweepConfigError, choice
from hydra_plugins.sigopt_sweeper.config import MetricConf, Objective, Strategy

METRIC_KEYS = frozenset(MetricConf.__dataclass_fields__)


@dataclass(frozen=True)
class Metric:
    name: str
    objective: str
    strategy: str
    threshold: float | None = None

    @property
    def optimized(self) -> bool:
        return self.strategy == Strategy.optimize.value

    def to_sigopt(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.name, "objective": self.objective, "strategy": self.strategy}
        if self.threshold is not None:
            spec["threshold"] = self.threshold
        return spec

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b`` for this metric."""
        return a > b if self.objective == Objective.maximize.value else a < b

    def meets_threshold(self, value: float) -> bool:
        """Inclusive, as SigOpt's: a value exactly at the threshold meets it."""
        if self.threshold is None:
            return True
        return value >= self.threshold if self.objective == Objective.maximize.value else value <= self.threshold


def parse_metrics(entries: Sequence[Mapping[str, Any]], hint: str | None = None) -> tuple[Metric, ...]:
    """``hint``: where the application sets the metrics (``hydra.sweeper.metrics_hint``), for the empty case."""
    if not entries:
        where = f" ({hint})" if hint else ""
        raise SweepConfigError(
            "hydra.sweeper.metrics is empty: list the metrics of the task's returned dict that the sweep optimizes "
            "(one or two) and stores, e.g. [{name: accuracy, objective: maximize}], or select your application's "
            f"sweeper preset that sets them{where}."
        )
    metrics = []
    for index, entry in enumerate(entries):
        key = f"hydra.sweeper.metrics[{index}]"
        if not isinstance(entry, Mapping):
            raise SweepConfigError(f"{key}={entry!r} must be a mapping {{name: ..., objective: ..., strategy: ...}}.")
        unknown = sorted(set(entry) - METRIC_KEYS)
        if unknown:
            raise SweepConfigError(f"{key} has unknown keys {unknown}: a metric has {sorted(METRIC_KEYS)}.")
        name = entry.get("name")
        if not name:
            raise SweepConfigError(f"{key}.name is empty: name the key of the metric in the task's returned dict.")
        objective = choice(entry.get("objective") or Objective.maximize, Objective, f"{key}.objective")
        strategy = choice(entry.get("strategy") or Strategy.optimize, Strategy, f"{key}.strategy")
        threshold = entry.get("threshold")
        if threshold is not None and not math.isfinite(float(threshold)):
            raise SweepConfigError(f"{key}.threshold={threshold} must be a finite number or null.")
        metrics.append(Metric(str(name), objective, strategy, None if threshold is None else float(threshold)))
    names = [metric.name for metric in metrics]
    if len(set(names)) != len(names):
        raise SweepConfigError(f"hydra.sweeper.metrics names must be unique, got {names}.")
    optimized = [metric for metric in metrics if metric.optimized]
    if not 1 <= len(optimized) <= 2:
        raise SweepConfigError(
            f"hydra.sweeper.metrics: SigOpt optimizes one or two metrics, got {len(optimized)} with strategy=optimize "
            f"({[metric.name for metric in optimized]}); set the others to strategy=store."
        )
    return tuple(metrics)


class MissingMetricError(SweepConfigError):
    """A completed trial did not return a configured metric: a naming mistake that would fail every trial."""


def read_values(metrics: Sequence[Metric], returned: Any, trial: int) -> dict[str, float]:
    """Configured metrics out of the task's return value; raises when the task and config disagree."""
    if not isinstance(returned, Mapping):
        raise MissingMetricError(
            f"trial {trial} returned {type(returned).__name__} {str(returned)[:80]!r}; the sigopt sweeper needs the task to "
            "return a dict of metric values, {name: value, ...}."
        )
    missing = [metric.name for metric in metrics if metric.name not in returned]
    if missing:
        raise MissingMetricError(
            f"trial {trial} returned no {missing} (it returned: {sorted(map(str, returned))}). "
            "Fix the names in hydra.sweeper.metrics or make the task return them."
        )
    values = {}
    for metric in metrics:
        try:
            values[metric.name] = float(returned[metric.name])
        except (TypeError, ValueError):
            raise ValueError(f"{metric.name}={str(returned[metric.name])[:80]!r} is not a number") from None
    return values


def non_finite(values: Mapping[str, float]) -> list[str]:
    return [name for name, value in values.items() if not math.isfinite(value)]


def meets_thresholds(values: Mapping[str, float], metrics: Sequence[Metric]) -> bool:
    return all(metric.meets_threshold(values[metric.name]) for metric in metrics if metric.optimized)


def dominates(a: Mapping[str, float], b: Mapping[str, float], metrics: Sequence[Metric]) -> bool:
    """``a`` is at least as good as ``b`` on every optimized metric and better on one."""
    optimized = [metric for metric in metrics if metric.optimized]
    no_worse = all(not metric.better(b[metric.name], a[metric.name]) for metric in optimized)
    better = any(metric.better(a[metric.name], b[metric.name]) for metric in optimized)
    return no_worse and better


def pareto_front(points: Sequence[Mapping[str, float]], metrics: Sequence[Metric]) -> list[int]:
    """Indices of the efficient points, in input order."""
    feasible = [index for index, point in enumerate(points) if meets_thresholds(point, metrics)]
    return [
        index
        for index in feasible
        if not any(dominates(points[other], points[index], metrics) for other in feasible if other != index)
    ]
