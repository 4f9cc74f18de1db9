"""``search.warm_start`` for the Optuna presets: earlier observations added to the study as trials before the
first ask, so every searcher of a comparison starts from the same history.

hydra-optuna-sweeper has no warm start of its own; it creates its study with ``load_if_exists=True``, so a
Hydra callback that runs before it (``on_multirun_start``) can add the earlier observations to the same
storage and study. They are read and filtered exactly as the sigopt sweeper's warm start reads them
(``hydra_plugins.sigopt_sweeper.api.read_warm_start``: same space, same metrics, skipped ones counted), and
become trials with the sweeper's own distributions (``create_params_from_overrides``), the objectives as
values, and, where the preset's NSGA-II has a threshold constraint, its constraint values, which the sampler
only computes for trials it ran itself. Each added trial carries ``user_attrs.warm_start`` (its index), so a
restarted search adds only what is missing, and the Optuna export leaves them out of the sweep's trials.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lightning_distill.errors import ConfigError

log = logging.getLogger(__name__)

WARM_START_ATTR = "warm_start"
NSGA2_CONSTRAINTS_KEY = "nsga2:constraints"
"""Where optuna 2.10's NSGAIISampler keeps a trial's constraint values (``optuna/samplers/_nsga2.py``)."""
NSGA2_GENERATION_KEY = "nsga2:generation"
"""NSGA-II builds its population only from trials that carry a generation: the warm trials are generation 0,
so the sweep's first trial is bred from them instead of drawn at random."""


class OptunaWarmStart(Callback):
    def __init__(self, sources: Sequence[str] | None = None) -> None:
        self.sources = [str(source) for source in sources or []]

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.sources:
            return
        sweeper = config.hydra.sweeper
        if not sweeper.get("storage"):
            raise ConfigError("search.warm_start with an Optuna preset needs hydra.sweeper.storage (e.g. "
                              "sqlite:///outputs/search.db): the earlier trials are added to the stored study.")  # fmt: skip
        added, warm = add_warm_trials(config, self.sources)
        log.info("%s; %d added to Optuna study %s", warm.summary(), added, sweeper.study_name)
        population = sweeper.get("sampler", {}).get("population_size")
        if population and len(warm.observations) < int(population):
            log.warning("NSGA-II: %d warm-start trials form a first generation smaller than its population_size=%s",
                        len(warm.observations), population)  # fmt: skip


def add_warm_trials(config: DictConfig, sources: Sequence[str]) -> tuple[int, Any]:
    """Add ``sources``' observations to the study the Optuna sweeper will load; returns (added, WarmStart)."""
    import optuna
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides

    from hydra_plugins.sigopt_sweeper.api import ExperimentSpec, parse_metrics, parse_search_space, read_warm_start

    sweeper = config.hydra.sweeper
    params = OmegaConf.to_container(sweeper.params, resolve=True) or {}
    distributions, _ = create_params_from_overrides([f"{key}={value}" for key, value in params.items()])
    metrics = parse_metrics(OmegaConf.to_container(config.search.metrics, resolve=True))
    objectives = [str(name) for name in config.objectives]  # a list or a ListConfig (the presets resolve it)
    spec = ExperimentSpec("warm-start", parse_search_space(params), metrics, 1, 1)
    warm = read_warm_start(sources, spec)
    directions = [str(direction.name if hasattr(direction, "name") else direction) for direction in sweeper.direction]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=sweeper.study_name, storage=sweeper.storage, directions=directions,
                                load_if_exists=True)  # fmt: skip
    present = {trial.user_attrs.get(WARM_START_ATTR) for trial in study.get_trials(deepcopy=False)}
    constraint = _constraint(sweeper)
    added = 0
    for index, observation in enumerate(warm.observations):
        if index in present:
            continue
        trial_params = {name: _as_distribution_value(distributions[name], value)
                        for name, value in observation.assignments.items()}  # fmt: skip
        common = {"params": trial_params, "distributions": {name: distributions[name] for name in trial_params},
                  "user_attrs": {WARM_START_ATTR: index}}  # fmt: skip
        if observation.failed:
            trial = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, **common)
        else:
            values = [observation.values[name] for name in objectives]
            system = {NSGA2_GENERATION_KEY: 0, **({NSGA2_CONSTRAINTS_KEY: constraint(values)} if constraint else {})}
            trial = optuna.trial.create_trial(values=values, system_attrs=system, **common)
        study.add_trial(trial)
        added += 1
    return added, warm


def _constraint(sweeper: DictConfig) -> Any:
    """The preset's threshold constraint (``search_constraints.metric_threshold``) as a function of the
    objective values; None for a preset without one."""
    from types import SimpleNamespace

    from lightning_distill.search.constraints import metric_threshold

    settings = sweeper.get("sampler", {}).get("constraints_func")
    if settings is None:
        return None
    keywords = {key: value for key, value in OmegaConf.to_container(settings, resolve=True).items()
                if key in ("index", "threshold", "objective")}  # fmt: skip
    return lambda values: list(metric_threshold(SimpleNamespace(values=values), **keywords))


def _as_distribution_value(distribution: Any, value: Any) -> Any:
    """An assignment in the distribution's own type (a categorical's choice is matched by its text)."""
    import optuna

    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        for choice in distribution.choices:
            if str(choice) == str(value):
                return choice
        raise ConfigError(f"search.warm_start: {value!r} is none of {list(distribution.choices)}")
    if isinstance(distribution, (optuna.distributions.IntUniformDistribution, optuna.distributions.IntLogUniformDistribution)):
        return int(value)
    return float(value)
