"""The metric-threshold constraint NSGA-II gets in hparams_search=optuna_offline (feasible when <= 0)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import REPO_ROOT

from lightning_distill.search.constraints import metric_threshold


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
