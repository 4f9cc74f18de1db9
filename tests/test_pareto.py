"""The Pareto front on hand-made points (exact up, parameters down, exact threshold 50)."""

from __future__ import annotations

from hydra_plugins.sigopt_sweeper._metrics import Metric, dominates, pareto_front

EXACT = Metric("exact", "maximize", "optimize", threshold=50.0)
PARAMS = Metric("num_params", "minimize", "optimize")
F1 = Metric("f1", "maximize", "store")
METRICS = (EXACT, PARAMS, F1)


def point(exact, params, f1=0.0):
    return {"exact": exact, "num_params": params, "f1": f1}


def test_front_keeps_the_efficient_points_only():
    points = [
        point(67.0, 66e6),  # 0 baseline-like
        point(60.0, 30e6),  # 1 smaller, worse: efficient
        point(70.0, 120e6),  # 2 bigger, better: efficient
        point(65.0, 70e6),  # 3 dominated by 0
        point(58.0, 30e6),  # 4 dominated by 1 (same size, worse)
        point(50.0, 10e6),  # 5 exactly at the threshold: meets it (inclusive, as SigOpt), smallest: efficient
        point(49.0, 5e6),  # 6 below the threshold
    ]
    assert pareto_front(points, METRICS) == [0, 1, 2, 5]


def test_stored_metrics_do_not_count():
    assert pareto_front([point(60, 10, f1=1), point(60, 10, f1=99)], METRICS) == [0, 1]


def test_identical_points_are_both_efficient_and_do_not_dominate_each_other():
    a = point(60.0, 10.0)
    assert not dominates(a, dict(a), METRICS)
    assert pareto_front([a, dict(a)], METRICS) == [0, 1]


def test_without_threshold_everything_competes():
    loose = (Metric("exact", "maximize", "optimize"), PARAMS)
    assert pareto_front([point(10, 1), point(5, 2)], loose) == [0]


def test_single_optimized_metric_front_is_the_best_point():
    only = (Metric("exact", "maximize", "optimize"),)
    assert pareto_front([point(1, 0), point(3, 0), point(2, 0)], only) == [1]


def test_empty_and_all_infeasible():
    assert pareto_front([], METRICS) == []
    assert pareto_front([point(10, 1), point(20, 2)], METRICS) == []


def test_threshold_is_inclusive_as_sigopts():
    """issue 9, defect 9: a trial exactly at the threshold was dropped from the front."""
    assert EXACT.meets_threshold(50.0) and not EXACT.meets_threshold(49.999)
    assert Metric("loss", "minimize", "optimize", threshold=0.5).meets_threshold(0.5)
    assert pareto_front([point(50.0, 1.0)], METRICS) == [0]
