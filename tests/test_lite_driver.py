"""The lite driver's constant liar and its own random stream (sigoptlite in process, offline)."""

from __future__ import annotations

import numpy as np
import pytest

from hydra_plugins.sigopt_sweeper.api import (
    COMPLETED,
    FAILED,
    ExperimentSpec,
    LiteDriver,
    Observation,
    parse_metrics,
    parse_search_space,
)

SPACE = parse_search_space({"width": "int(interval(1, 8))", "quality": "interval(0.0, 1.0)"})
METRICS = parse_metrics(
    [
        {"name": "exact", "objective": "maximize", "strategy": "optimize", "threshold": 20.0},
        {"name": "num_params", "objective": "minimize", "strategy": "optimize"},
        {"name": "f1", "objective": "maximize", "strategy": "store"},
    ]
)
SPEC = ExperimentSpec("test", SPACE, METRICS, budget=30, parallel_bandwidth=3)


def observed(trial, width, quality, failed=False):
    if failed:
        return Observation(trial, str(trial), {"width": width, "quality": quality}, FAILED, reason="cuda_oom: x")
    exact = 100 * quality - 5 * width
    return Observation(
        trial,
        str(trial),
        {"width": width, "quality": quality},
        COMPLETED,
        {"exact": exact, "num_params": 1000.0 * width, "f1": exact + 1},
    )


def driver_with_history(size, **kwargs):
    driver = LiteDriver(SPEC, seed=0, **kwargs)
    rng = np.random.default_rng(1)
    history = [observed(t, int(rng.integers(1, 9)), float(rng.uniform()), failed=(t == 3)) for t in range(size)]
    driver.restore(history, set())
    return driver


@pytest.mark.parametrize(
    ("lie", "exact", "params"), [("mean", 40.0, 3000.0), ("worst", 30.0, 4000.0), ("best", 50.0, 2000.0)]
)
def test_lie_values(lie, exact, params):
    driver = LiteDriver(SPEC, lie=lie)
    history = [observed(0, 2, 0.6), observed(1, 4, 0.5), observed(2, 1, 0.1, failed=True)]
    lies = driver._lie_values(history)
    assert lies["exact"] == pytest.approx(exact) and lies["num_params"] == pytest.approx(params)


def spy_on_lite(driver):
    """Records, for every suggestion lite computes, how many observations it sees and whether the
    GP hyperparameters are refit (a refit goes through the broker, kept ones through GPSource)."""
    from sigoptlite.sources import GPSource

    calls = []
    driver.start(None)
    broker = driver._experiment._broker
    create, update = broker.create_suggestion, GPSource.update_hyperparameters

    def create_suggestion():
        calls.append(("broker", len(broker.observations), broker.use_spe))
        return create()

    def update_hyperparameters(source, observations, hyperparameters):
        calls.append(("refit", len(observations), False))
        return update(source, observations, hyperparameters)

    broker.create_suggestion = create_suggestion
    return calls, broker, pytest.MonkeyPatch.context(), update_hyperparameters


def test_pending_trials_are_observed_as_lies_only_after_the_random_phase_and_only_for_one_suggestion():
    pending = [{"width": 2, "quality": 0.5}, {"width": 7, "quality": 0.9}]
    for size, seen in ((3, 3), (10, 12)):  # random phase: lies would only shorten it
        driver = driver_with_history(size)
        calls, broker, _, _ = spy_on_lite(driver)
        driver.suggest(pending)
        assert calls[0][:2] == ("broker", seen)
        assert len(broker.observations) == size, "lies are taken out again; each real observation is kept once"
        assert driver._experiment.observed == size


def test_gp_hyperparameters_are_refit_every_k_suggestions_and_spe_takes_over_beyond_the_limit(monkeypatch):
    from sigoptlite.sources import GPSource

    driver = driver_with_history(10, refit_every=3, spe_beyond=14)
    calls, broker, _, update_hyperparameters = spy_on_lite(driver)
    monkeypatch.setattr(GPSource, "update_hyperparameters", update_hyperparameters)
    rng = np.random.default_rng(5)
    for trial in range(10, 17):
        driver.suggest([])
        driver.observe(observed(trial, int(rng.integers(1, 9)), float(rng.uniform())))
    refits = [seen for kind, seen, _ in calls if kind == "refit"]
    assert refits == [10, 13], "GP suggestions at 10..14 observations: refit at the 1st and the 4th"
    assert [spe for kind, seen, spe in calls if kind == "broker" and seen > 14] == [True, True]
    assert len(broker.observations) == 16


def test_gp_suggestions_with_pending_trials_are_valid_and_distinct():
    driver = driver_with_history(10)
    pending = []
    for _ in range(3):
        suggestion = driver.suggest(pending)
        assert 1 <= suggestion.assignments["width"] <= 8 and 0 <= suggestion.assignments["quality"] <= 1
        pending.append(suggestion.assignments)
    assert len({tuple(sorted(p.items())) for p in pending}) == 3


def test_suggestions_do_not_depend_on_or_disturb_numpy_global_rng():
    """In-process trials re-seed numpy's global RNG; lite must not repeat points because of it."""
    driver = LiteDriver(SPEC, seed=0)
    points = []
    for _ in range(3):
        np.random.seed(42)
        state = np.random.get_state()[1].copy()
        points.append(driver.suggest([]).assignments)
        assert (np.random.get_state()[1] == state).all()
    assert len({tuple(sorted(p.items())) for p in points}) == 3


def test_a_resumed_seeded_stream_continues_instead_of_repeating_suggestions():
    """issue 9, defect 5: seed + resume re-suggested the first points in lite's random phase."""
    first = LiteDriver(SPEC, seed=7)
    before = [first.suggest([]) for _ in range(3)]
    history = [Observation(n, s.id, s.assignments, FAILED, reason="x") for n, s in enumerate(before[:2])]
    resumed = LiteDriver(SPEC, seed=7)
    resumed.restore(history, set(), [suggestion.id for suggestion in before])
    after = [resumed.suggest([]) for _ in range(3)]
    points = {tuple(sorted(s.assignments.items())) for s in before + after}
    assert len(points) == 6, "no earlier point suggested again"
    assert [s.id for s in after] == ["lite-4", "lite-5", "lite-6"], "ids do not repeat either"
    again = LiteDriver(SPEC, seed=7)
    again.restore(history, set(), [suggestion.id for suggestion in before])
    assert [again.suggest([]).assignments for _ in range(3)] == [s.assignments for s in after], "still reproducible"


def test_lies_stay_plausible_real_outcomes():
    """issue 9, defect 10: best dominated the whole front; mean averaged in below-threshold trials."""
    history = [observed(0, 1, 0.35), observed(1, 2, 0.6), observed(2, 8, 0.2)]  # exact 30, 50, -20 (< 20)
    best = LiteDriver(SPEC, lie="best")._lie_values(history)
    assert (best["exact"], best["num_params"]) == (50.0, 2000.0), "a real front trial, not (50, 1000)"
    mean = LiteDriver(SPEC, lie="mean")._lie_values(history)
    assert mean["exact"] == pytest.approx(40.0) and mean["exact"] >= 20.0, "below-threshold trial 2 left out"
    assert mean["num_params"] == pytest.approx(1500.0)


def test_each_suggestion_says_which_strategy_served_it():
    """Random while valid observations <= max(2 x 2 dimensions, 4) = 4 (failed ones do not count), then GP,
    then SPE beyond ``spe_beyond``: the strategy is lite's own choice, read off its broker."""
    strategies = []
    for size in (0, 5, 6, 9, 10):  # history 0..5 holds trial 3 failed: 4 valid at 5, 5 valid at 6
        strategies.append(driver_with_history(size, spe_beyond=8).suggest([]).strategy)
    assert strategies == ["random", "random", "gp", "spe", "spe"]


def test_failed_observations_keep_lite_in_its_random_phase():
    driver = LiteDriver(SPEC, seed=0)
    driver.restore([observed(t, 2, 0.5, failed=True) for t in range(12)], set())
    assert driver.suggest([]).strategy == "random"
