"""Two-objective hypervolume: the area a front dominates up to a reference point.

The search quality benchmark and the report score a search by it: it rewards both reaching far
along each objective and covering the trade-off, and it is zero until a trial beats the reference
point on both objectives, so trials below the score threshold or larger than the reference size
add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the sweeper's metric type; the sweeper itself imports lightning_distill
    from hydra_plugins.sigopt_sweeper.api import Metric

Point = tuple[float, float]


def minimized(values: dict[str, float], metrics: Sequence[Metric]) -> Point:
    """The two optimized metrics of ``values`` as costs (maximized ones negated), in ``metrics``' order."""
    optimized = [metric for metric in metrics if metric.optimized]
    if len(optimized) != 2:
        raise ValueError(f"hypervolume needs exactly two optimized metrics, got {[m.name for m in optimized]}")
    first, second = (-values[m.name] if m.objective == "maximize" else values[m.name] for m in optimized)
    return first, second


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """Area dominated by ``points`` (costs) and bounded by ``reference``; points not strictly
    better than the reference in both costs contribute nothing."""
    inside = sorted((x, y) for x, y in points if x < reference[0] and y < reference[1])
    area = 0.0
    lowest_y = reference[1]
    for x, y in inside:  # ascending first cost: a point adds area only below every earlier one
        if y < lowest_y:
            area += (reference[0] - x) * (lowest_y - y)
            lowest_y = y
    return area


def hypervolume_curve(points: Sequence[Point | None], reference: Point) -> list[float]:
    """Hypervolume after each trial in order (None: a failed trial, which adds nothing)."""
    curve: list[float] = []
    seen: list[Point] = []
    for point in points:
        if point is not None:
            seen.append(point)
        curve.append(hypervolume(seen, reference))
    return curve
