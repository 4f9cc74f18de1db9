"""The metric-threshold constraint NSGA-II gets in hparams_search=optuna_offline (feasible when <= 0)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import REPO_ROOT

from lightning_distill.search.constraints import metric_threshold


def search(threshold: float | None, size_threshold: float | None = None) -> list[dict]:
    return [{"name": "best_f1", "objective": "maximize", "strategy": "optimize", "threshold": threshold},
            {"name": "exact", "objective": "maximize", "strategy": "store", "threshold": 99.0},  # stored: no constraint
            {"name": "num_params", "objective": "minimize", "strategy": "optimize", "threshold": size_threshold}]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([49.35, 1e7], -1.0),  # one point above the threshold: feasible
        ([48.35, 1e7], 0.0),  # at it: feasible, as SigOpt's inclusive threshold
        ([47.35, 1e7], 1.0),  # below: infeasible by its distance
    ],
)
def test_threshold_constraint_of_a_maximized_metric(values, expected):
    assert metric_threshold(SimpleNamespace(values=values), metrics=search(48.35)) == [pytest.approx(expected)]


def test_a_minimized_metric_s_threshold_is_met_below_it_and_indexed_among_the_optimized():
    constraint = metric_threshold(SimpleNamespace(values=[50.0, 8e6]), metrics=search(48.35, size_threshold=1e7))
    assert constraint == [pytest.approx(-1.65), pytest.approx(-2e6)]


def test_no_threshold_no_constraint():
    assert metric_threshold(SimpleNamespace(values=[1.0, 2.0]), metrics=search(None)) == []


def test_a_failed_trial_is_infeasible():
    assert metric_threshold(SimpleNamespace(values=None), metrics=search(48.35)) == [float("inf")]


def test_a_reversed_objective_is_refused_naming_the_key():
    from lightning_distill.errors import ConfigError

    reversed_size = search(48.35)
    reversed_size[2]["objective"] = "maximize"
    with pytest.raises(ConfigError, match=r"search.metrics\[2\].objective='maximize'.*set objective: minimize"):
        metric_threshold(SimpleNamespace(values=[1.0, 2.0]), metrics=reversed_size)


def test_an_unknown_optimized_metric_is_refused_naming_the_key():
    from lightning_distill.errors import ConfigError

    typo = search(48.35)
    typo[0]["name"] = "best_f"
    with pytest.raises(ConfigError, match=r"search.metrics\[0\].name='best_f' is not a metric"):
        metric_threshold(SimpleNamespace(values=[1.0, 2.0]), metrics=typo)


def _offline_sampler(preset: str):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=offline_search", f"hparams_search={preset}"], return_hydra_config=True)
    return instantiate(cfg.hydra.sweeper.sampler), cfg.hydra.sweeper.n_trials


def _first_params(sampler, n_trials: int) -> list[dict[str, float]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    params = []
    for number in range(n_trials):
        trial = study.ask({"lr": optuna.distributions.LogUniformDistribution(2e-6, 0.1)})
        study.tell(trial, [49.0 + number % 3, 1e7 + number])
        params.append(trial.params)
    return study, params


def test_offline_nsga2_evolves_within_its_budget_and_does_not_replay_the_random_search():
    """At population 50 a 32-trial NSGA-II never leaves its random first generation, and at the random
    search's seed that generation is the random search itself (as a first run here found)."""
    nsga2, budget = _offline_sampler("optuna_offline")
    random_sampler, random_budget = _offline_sampler("optuna_offline_random")
    assert budget == random_budget
    study, nsga2_params = _first_params(nsga2, budget)
    _, random_params = _first_params(random_sampler, budget)
    assert nsga2_params[0] != random_params[0]
    generations = {trial.system_attrs.get("nsga2:generation") for trial in study.trials}
    assert max(generations) >= 2, generations
