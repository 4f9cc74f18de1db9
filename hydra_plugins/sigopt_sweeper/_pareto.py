"""The Pareto-efficient set of completed trials under the optimized metrics and their thresholds.

Like SigOpt's best assignments for a multimetric experiment with thresholds: only points that
meet every threshold compete (a QA model answering "no answer" to everything scores ~50 exact
and is not a useful small model, however small), and a point stays unless another one is at
least as good on every optimized metric and strictly better on one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hydra_plugins.sigopt_sweeper._metrics import Metric


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
