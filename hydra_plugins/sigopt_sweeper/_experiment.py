"""What both drivers share: the experiment the sweeper config defines, and the optimizer
interface the sweep uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from omegaconf import DictConfig, ListConfig, OmegaConf

from hydra_plugins.sigopt_sweeper._metrics import Metric, parse_metrics
from hydra_plugins.sigopt_sweeper._search_space import SearchSpace, parse_search_space
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError, read_settings
from hydra_plugins.sigopt_sweeper._trial import Observation


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    space: SearchSpace
    metrics: tuple[Metric, ...]
    budget: int
    parallel_bandwidth: int

    def to_sigopt(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parameters": self.space.to_sigopt(),
            "metrics": [metric.to_sigopt() for metric in self.metrics],
            "observation_budget": self.budget,
            "parallel_bandwidth": self.parallel_bandwidth,
        }


def read_sweep_config(
    sweeper: DictConfig, arguments: Iterable[str], *, inputs: bool = True
) -> tuple[DictConfig, ExperimentSpec]:
    """``hydra.sweeper`` and the command line's overrides, checked: the settings and the experiment they define
    (``inputs=False``: without resolving ``hydra.sweeper.inputs``, see ``read_settings``)."""
    settings = read_settings(sweeper, inputs=inputs)
    params = OmegaConf.to_container(settings.params) if settings.params is not None else None
    space = parse_search_space(params, arguments)
    if settings.metrics is not None and not isinstance(settings.metrics, ListConfig):
        raise SweepConfigError(
            f"hydra.sweeper.metrics={settings.metrics!r} must be a list of {{name, objective, strategy, threshold}}."
        )
    listed = [
        OmegaConf.to_container(metric) if isinstance(metric, DictConfig) else metric for metric in settings.metrics or []
    ]
    metrics = parse_metrics(listed + stored_entries(settings.get("store") or [], listed), settings.get("metrics_hint"))
    return settings, ExperimentSpec(settings.experiment_name, space, metrics, settings.budget, settings.parallelism)


def stored_entries(names: Sequence[Any], listed: Sequence[Any]) -> list[dict[str, Any]]:
    """``hydra.sweeper.store`` as metric entries, leaving out names ``metrics`` already has."""
    taken = {entry.get("name") for entry in listed if isinstance(entry, dict)}
    entries = []
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise SweepConfigError(f"hydra.sweeper.store[{index}]={name!r}: name a metric of the task's returned dict.")
        if name not in taken:
            entries.append({"name": name, "objective": "minimize", "strategy": "store"})
            taken.add(name)
    return entries


def is_refusal(error: BaseException) -> bool:
    """A definite refusal (HTTP 4xx) as opposed to no answer (a 5xx, a lost connection, a local error):
    a refused request is not retried, one without an answer may be."""
    status = getattr(error, "status_code", None)
    return isinstance(status, int) and status < 500


class OptimizerError(RuntimeError):
    """The optimizer could not suggest (lite's computation, or SigOpt after its retries): the sweep stops
    after the trials in flight finish and are journaled, to resume once fixed."""


@dataclass(frozen=True)
class Suggestion:
    id: str
    assignments: dict[str, Any]
    strategy: str | None = None
    """What served it (lite: ``random``, ``gp``, ``spe``); None where the optimizer does not say (the service)."""


class Driver(Protocol):
    """The optimizer behind the sweep; implemented by LiteDriver (in process) and ApiDriver (service)."""

    name: str
    prefetch: bool
    """Whether the sweep may ask for the next suggestion while all workers are busy."""

    def start(self, experiment_id: str | None) -> str:
        """Create the experiment (or attach to ``experiment_id``) and return its id."""

    def restore(
        self, observations: Sequence[Observation], reported: set[int], suggestion_ids: Sequence[str] = ()
    ) -> list[int]:
        """Bring the optimizer up to the journal's history (its observations and every journaled
        suggestion id); return trials newly reported to it."""

    def warm_start(self, observations: Sequence[Observation]) -> None:
        """Observations of earlier sweeps for the experiment to start from (before any suggestion; not trials)."""

    def suggest(self, pending: Sequence[dict[str, Any]]) -> Suggestion:
        """Next assignments, knowing which are still being evaluated."""

    def observe(self, observation: Observation) -> str | None:
        """Report a finished trial (values or failure); returns the service's observation id if any."""


def sigopt_values(observation: Observation) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in observation.values.items()]
