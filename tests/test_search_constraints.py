"""The metric-threshold constraint NSGA-II gets in hparams_search=optuna_offline (feasible when <= 0)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lightning_distill.search_constraints import metric_threshold


@pytest.mark.parametrize(
    ("values", "objective", "expected"),
    [
        ([49.35, 1e7], "maximize", -1.0),  # one point above the threshold: feasible
        ([48.35, 1e7], "maximize", 0.0),  # at it: feasible, as SigOpt's inclusive threshold
        ([47.35, 1e7], "maximize", 1.0),  # below: infeasible by its distance
        ([47.35, 1e7], "minimize", -1.0),
    ],
)
def test_threshold_constraint_sign_follows_the_objective(values, objective, expected):
    trial = SimpleNamespace(values=values)
    assert metric_threshold(trial, index=0, threshold=48.35, objective=objective) == [pytest.approx(expected)]


def test_a_failed_trial_is_infeasible():
    assert metric_threshold(SimpleNamespace(values=None), index=0, threshold=48.35) == [float("inf")]


def test_an_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="objective='up'"):
        metric_threshold(SimpleNamespace(values=[1.0]), index=0, threshold=0.0, objective="up")
