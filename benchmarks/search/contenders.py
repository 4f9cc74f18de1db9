"""The contenders, each through the code path a sweep uses.

- ``lite``: the sigopt sweeper's ``LiteDriver`` (constant liar, ``lie``, ``refit_every``,
  ``spe_beyond`` as in ``hydra.sweeper``), given pending trials and observations as the sweep
  gives them.
- ``nsga2``, ``motpe``, ``random``: Optuna's samplers as Hydra's Optuna sweeper builds and drives
  them: the sampler instantiated from the sweeper's own sampler config, distributions from its own
  override parser, ``study.ask`` + ``trial._suggest`` per parameter, ``study.tell`` with the
  values or ``TrialState.FAIL``. Optuna sees neither thresholds nor pending values (the Optuna
  sweeper passes neither).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import OmegaConf

from benchmarks.search.problems import Outcome, Problem
from hydra_plugins.sigopt_sweeper.api import COMPLETED, FAILED, ExperimentSpec, LiteDriver, Observation

OPTUNA_SAMPLERS = ("nsga2", "motpe", "random")


@dataclass(frozen=True)
class ContenderSpec:
    """One contender's identity in the results (a CSV key)."""

    name: str
    """``lite`` or an Optuna sampler of ``OPTUNA_SAMPLERS``."""
    lie: str = ""
    """lite: the constant liar's ``lie`` ("" for Optuna)."""
    refit_every: int = 0
    """lite: ``hydra.sweeper.refit_every`` (0 for Optuna)."""
    spe_beyond: int | None = None
    """lite: ``hydra.sweeper.spe_beyond`` (None: lite's own rule)."""

    @property
    def label(self) -> str:
        if self.name != "lite":
            return self.name
        spe = "none" if self.spe_beyond is None else self.spe_beyond
        return f"lite[lie={self.lie},refit={self.refit_every},spe>{spe}]"


class LiteContender:
    def __init__(self, spec: ContenderSpec, problem: Problem, budget: int, parallelism: int, seed: int) -> None:
        experiment = ExperimentSpec(problem.name, problem.space, problem.metrics, budget, parallelism)
        self.driver = LiteDriver(
            experiment, lie=spec.lie, seed=seed, refit_every=spec.refit_every, spe_beyond=spec.spe_beyond
        )
        self.driver.start(None)
        self.asked: dict[int, tuple[int, str]] = {}
        self.observed = 0

    def ask(self, pending: Sequence[dict[str, Any]]) -> dict[str, Any]:
        suggestion = self.driver.suggest(pending)
        self.asked[id(suggestion.assignments)] = (len(self.asked), suggestion.id)
        return suggestion.assignments

    def tell(self, assignments: dict[str, Any], outcome: Outcome) -> None:
        trial, suggestion_id = self.asked.pop(id(assignments))
        if outcome.values is None:
            observation = Observation(trial, suggestion_id, assignments, FAILED, reason=outcome.reason)
        else:
            observation = Observation(trial, suggestion_id, assignments, COMPLETED, dict(outcome.values))
        self.driver.observe(observation)


class OptunaContender:
    def __init__(self, spec: ContenderSpec, problem: Problem, seed: int) -> None:
        import optuna
        from hydra_plugins.hydra_optuna_sweeper import config as optuna_config
        from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        logging.getLogger("optuna").setLevel(logging.WARNING)
        sampler_config = {
            "nsga2": optuna_config.NSGAIISamplerConfig,
            "motpe": optuna_config.MOTPESamplerConfig,
            "random": optuna_config.RandomSamplerConfig,
        }[spec.name](seed=seed)
        sampler = instantiate(OmegaConf.structured(sampler_config))
        self.optimized = [metric for metric in problem.metrics if metric.optimized]
        self.study = optuna.create_study(directions=[metric.objective for metric in self.optimized], sampler=sampler)
        parser = OverridesParser.create()
        self.distributions = {
            name: create_optuna_distribution_from_override(parser.parse_override(f"{name}={text}"))
            for name, text in problem.params.items()
        }
        self.asked: dict[int, Any] = {}

    def ask(self, pending: Sequence[dict[str, Any]]) -> dict[str, Any]:
        trial = self.study.ask()
        for name, distribution in self.distributions.items():
            trial._suggest(name, distribution)
        assignments = dict(trial.params)
        self.asked[id(assignments)] = trial
        return assignments

    def tell(self, assignments: dict[str, Any], outcome: Outcome) -> None:
        import optuna

        trial = self.asked.pop(id(assignments))
        if outcome.values is None:
            self.study.tell(trial=trial, state=optuna.trial.TrialState.FAIL, values=None)
        else:
            values = [float(outcome.values[metric.name]) for metric in self.optimized]
            self.study.tell(trial=trial, state=optuna.trial.TrialState.COMPLETE, values=values)


def make_contender(spec: ContenderSpec, problem: Problem, budget: int, parallelism: int, seed: int) -> Any:
    if spec.name == "lite":
        return LiteContender(spec, problem, budget, parallelism, seed)
    if spec.name in OPTUNA_SAMPLERS:
        return OptunaContender(spec, problem, seed)
    raise ValueError(f"contender {spec.name!r} must be 'lite' or one of {list(OPTUNA_SAMPLERS)}")
