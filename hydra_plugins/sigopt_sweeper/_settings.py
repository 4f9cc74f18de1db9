"""The sweeper's own settings (``hydra.sweeper.*`` but the search space and the metrics), checked
before anything runs, and the error a user fixes in the sweeper config."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hydra_plugins.sigopt_sweeper.config import BaselineConf, DriverType, KeepCheckpoints, Lie

BASELINE_KEYS = frozenset(BaselineConf.__dataclass_fields__)
CHOICES: dict[str, type[Enum]] = {"driver": DriverType, "lie": Lie, "keep_checkpoints": KeepCheckpoints}
# key -> (integer?, its bounds: minimum (inclusive) or above (exclusive), what null means or None)
RANGES: dict[str, tuple[bool, dict[str, float], str | None]] = {
    "budget": (True, {"minimum": 1}, None),
    "parallelism": (True, {"minimum": 1}, None),
    "max_attempts": (True, {"minimum": 1}, None),
    "first_failures_alike": (True, {"minimum": 1}, "never stop for failures alike"),
    "max_infrastructure_failures": (True, {"minimum": 1}, None),
    "report_retries": (True, {"minimum": 0}, None),
    "refit_every": (True, {"minimum": 1}, None),
    "blas_threads": (True, {"minimum": 1}, "the BLAS library's default"),
    "spe_beyond": (True, {"minimum": 0}, "lite's own rule"),
    "trial_timeout_s": (False, {"above": 0}, "no limit"),
    "waiting_log_s": (False, {"above": 0}, "never"),
    "retry_backoff_s": (False, {"above": 0}, None),
    "check_timeout_s": (False, {"above": 0}, None),
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


def require_number(key: str, value: Any, *, integer: bool, minimum: float | None = None, above: float | None = None,
                   null_means: str | None = None) -> None:  # fmt: skip
    """A number (an integer, never a bool, where ``integer``) ``>= minimum`` or ``> above``; null where
    ``null_means`` says what null does. The message names the key, as the application's own checks do."""
    if value is None and null_means is not None:
        return
    kind = "an integer" if integer else "a number"
    number = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and (minimum is None or value >= minimum) and (above is None or value > above):
        return
    bound = f">= {minimum}" if minimum is not None else f"> {above}" if above is not None else ""
    null = f"null ({null_means}) or " if null_means else ""
    raise SweepConfigError(f"{key}={value!r} must be {null}{kind}{f' {bound}' if bound else ''}.")


def read_settings(settings: DictConfig, *, inputs: bool = True) -> DictConfig:
    """``hydra.sweeper`` resolved and checked, with every choice as its value ("lite", "pareto", ...).

    ``inputs=False`` leaves ``inputs`` unresolved (``{}``): the early settings check runs before the application
    prepares its data, and an input's fingerprint may need that (a teacher downloaded by then)."""
    skipped = () if inputs else ("inputs",)
    values = {key: OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node := settings[key]) else node
              for key in settings if key not in skipped}  # fmt: skip
    values.update({key: {} for key in skipped})
    for key, (integer, bounds, null_means) in RANGES.items():
        require_number(f"hydra.sweeper.{key}", values[key], integer=integer, null_means=null_means, **bounds)
    values.update({key: choice(values[key], choices, f"hydra.sweeper.{key}") for key, choices in CHOICES.items()})
    if values["keep_checkpoints"] == KeepCheckpoints.pareto.value and not values["checkpoint_dir"]:
        raise SweepConfigError(
            "hydra.sweeper.keep_checkpoints=pareto deletes the checkpoints of trials off the front, but "
            "hydra.sweeper.checkpoint_dir (the checkpoint's subdirectory in a trial's output directory) is not set."
        )
    check_baseline(values.get("baseline"))
    check_warm_start(values.get("warm_start"))
    check_inputs(values.get("inputs"))
    return OmegaConf.create(values)


def check_inputs(inputs: Any) -> None:
    """``hydra.sweeper.inputs`` maps names to fingerprints (strings or numbers)."""
    if inputs is None:
        return
    if not isinstance(inputs, dict) or not all(
        isinstance(key, str) and isinstance(value, (str, int, float)) and not isinstance(value, bool)
        for key, value in inputs.items()
    ):
        raise SweepConfigError(
            f"hydra.sweeper.inputs={inputs!r} must map names to fingerprints (strings or numbers), e.g. "
            "{data: <hash of the data files>, teacher: <hash of the teacher>}."
        )


def check_warm_start(sources: Any) -> None:
    """``hydra.sweeper.warm_start`` is a list of paths (sweep directories or observation files)."""
    if sources is None:
        return
    if not isinstance(sources, list) or not all(isinstance(source, str) and source for source in sources):
        raise SweepConfigError(
            f"hydra.sweeper.warm_start={sources!r} must be a list of earlier sweep directories or observation files, "
            "e.g. hydra.sweeper.warm_start=[outputs/sweep-1,outputs/sweep-2/observations.csv]."
        )


def check_baseline(baseline: Any) -> None:
    """``hydra.sweeper.baseline`` is null or ``{label: str, values: {metric: number}}`` (``BaselineConf``)."""
    if baseline is None:
        return
    hint = "set it to {label: ..., values: {metric: number, ...}} or null"
    if not isinstance(baseline, dict) or not set(baseline) <= BASELINE_KEYS:
        raise SweepConfigError(f"hydra.sweeper.baseline={baseline!r} is not a baseline point: {hint}.")
    if not isinstance(baseline.get("label", ""), str):
        raise SweepConfigError(f"hydra.sweeper.baseline.label={baseline['label']!r} must be a string.")
    values = baseline.get("values", {})
    if not isinstance(values, dict) or not all(
        isinstance(value, (int, float)) and not isinstance(value, bool) for value in values.values()
    ):
        raise SweepConfigError(f"hydra.sweeper.baseline.values={values!r} must map metric names to numbers: {hint}.")
