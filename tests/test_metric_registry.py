"""One registry of metric names (``lightning_distill/metrics.py``): what the run logs is registered, what a search
optimizes is checked against it before any trial, and the presets that list objectives derive them from it."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT

from lightning_distill import metrics
from lightning_distill.errors import ConfigError


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize("search", ["table2", "smoke", "quick", "offline"])
def test_every_shipped_search_optimizes_registered_metrics_in_their_direction(search):
    cfg = compose(f"search={search}")
    from omegaconf import OmegaConf

    metrics.check_search_metrics(OmegaConf.to_container(cfg.search, resolve=True)["metrics"])


@pytest.mark.parametrize("size", ["num_params", "onnx_int8_size_mb", "inference_time_onnx"])
def test_optuna_objectives_and_directions_come_from_the_search(size):
    cfg = compose("experiment=offline_search", "hparams_search=optuna_offline", f"size_objective={size}")
    assert list(cfg.objectives) == ["best_f1", size]
    assert list(cfg.hydra.sweeper.direction) == ["maximize", "minimize"]
    assert (cfg.hydra.sweeper.n_trials, cfg.hydra.sweeper.n_jobs) == (cfg.search.budget, cfg.search.parallelism)


def test_a_search_that_optimizes_an_unknown_metric_fails_before_any_trial(tmp_path):
    cfg = compose("experiment=smoke", "search.metrics.0.name=exakt", f"paths.output_dir={tmp_path}")
    from lightning_distill.training.run_checks import check_before_trials

    with pytest.raises(ConfigError, match=r"search.metrics\[0\].name='exakt' is not a metric this project reports"):
        check_before_trials(cfg)


def test_a_stored_metric_may_be_any_name_the_task_returns():
    metrics.check_search_metrics([{"name": "my_metric", "objective": "minimize", "strategy": "store"}])


def test_the_size_objectives_are_registered_sizes():
    shipped = {path.stem for path in (REPO_ROOT / "conf" / "size_objective").glob("*.yaml")}
    assert shipped == set(metrics.SIZES)
    assert all(metrics.REGISTRY[name].direction == metrics.MINIMIZE for name in metrics.SIZES)


def test_the_callbacks_log_registered_names():
    from lightning_distill.callbacks.onnx_deployment import LATENCY_METRIC, SIZE_METRIC

    assert {LATENCY_METRIC, SIZE_METRIC} <= set(metrics.REGISTRY)
    assert set(metrics.SUMMARY) | set(metrics.EVALUATION) <= set(metrics.REGISTRY)


@pytest.mark.parametrize(("search", "space"), [("table2", "table2"), ("offline", "offline"), ("quick", "quick"), ("smoke", "smoke")])
def test_a_search_file_says_its_space_and_the_command_line_can_still_change_it(search, space):
    """One file says what a search is: choosing ``search=X`` brings its space; ``search_space=Y`` still wins."""
    from omegaconf import OmegaConf

    def space_of(*overrides):
        cfg = compose(*overrides)
        return OmegaConf.to_container(cfg.search_space), cfg.hydra.runtime.choices

    chosen, choices = space_of(f"search={search}")
    expected, _ = space_of(f"search={search}", f"search_space={space}")
    assert chosen == expected
    narrowed, _ = space_of(f"search={search}", "search_space=offline_narrow")
    assert narrowed == space_of("search=offline", "search_space=offline_narrow")[0]
    assert any(key.startswith("search_space") and value == space for key, value in choices.items())
