"""The sweeper's own settings (``hydra.sweeper.*`` but the search space and the metrics), checked
before anything runs, and the error a user fixes in the sweeper config."""

from __future__ import annotations

from enum import Enum
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hydra_plugins.sigopt_sweeper.config import DriverType, KeepCheckpoints, Lie

CHOICES: dict[str, type[Enum]] = {"driver": DriverType, "lie": Lie, "keep_checkpoints": KeepCheckpoints}
INTEGER_MINIMUMS = {
    "budget": 1,
    "parallelism": 1,
    "max_attempts": 1,
    "max_infrastructure_failures": 1,
    "report_retries": 0,
    "refit_every": 1,
}


class SweepConfigError(ValueError):
    """The sweeper config (search space, metrics, budget, driver settings) cannot be run as given."""


def choice(value: Any, choices: type[Enum], key: str) -> str:
    """The value of the member of ``choices`` that ``value`` is or names; an error naming ``key`` otherwise.

    Members are matched by name: Hydra's plugin scan runs ``config.py`` again, which makes new Enum
    classes, so a member from the config may not be one of the class imported here.
    """
    name = value.name if isinstance(value, Enum) else value
    if not isinstance(name, str) or name not in choices.__members__:
        raise SweepConfigError(f"{key}={name!r} must be one of {list(choices.__members__)}.")
    return choices[name].value


def read_settings(settings: DictConfig) -> DictConfig:
    """``hydra.sweeper`` resolved and checked, with every choice as its value ("lite", "pareto", ...)."""
    values = OmegaConf.to_container(settings, resolve=True)
    for key, minimum in INTEGER_MINIMUMS.items():
        if not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] < minimum:
            raise SweepConfigError(f"hydra.sweeper.{key}={values[key]} must be an integer >= {minimum}.")
    for key, null in (("trial_timeout_s", "no limit"), ("retry_backoff_s", None)):
        value = values[key]
        if (value is not None or null is None) and (not isinstance(value, (int, float)) or value <= 0):
            allowed = f"null ({null}) or " if null else ""
            raise SweepConfigError(f"hydra.sweeper.{key}={value} must be {allowed}a number of seconds > 0.")
    values.update({key: choice(values[key], choices, f"hydra.sweeper.{key}") for key, choices in CHOICES.items()})
    blas_threads = values["blas_threads"]
    if blas_threads is not None and (not isinstance(blas_threads, int) or blas_threads < 1):
        raise SweepConfigError(f"hydra.sweeper.blas_threads={blas_threads} must be null or an integer >= 1.")
    spe_beyond = values["spe_beyond"]
    if spe_beyond is not None and (not isinstance(spe_beyond, int) or isinstance(spe_beyond, bool) or spe_beyond < 0):
        raise SweepConfigError(
            f"hydra.sweeper.spe_beyond={spe_beyond} must be null (lite's own rule) or a number of observations >= 0."
        )
    if values["keep_checkpoints"] == KeepCheckpoints.pareto.value and not values["checkpoint_dir"]:
        raise SweepConfigError(
            "hydra.sweeper.keep_checkpoints=pareto deletes the checkpoints of trials off the front, but "
            "hydra.sweeper.checkpoint_dir (the checkpoint's subdirectory in a trial's output directory) is not set."
        )
    return OmegaConf.create(values)
