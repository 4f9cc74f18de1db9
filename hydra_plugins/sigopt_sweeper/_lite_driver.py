"""The in-process ``sigoptlite`` optimizer, made parallel with a constant liar.

sigoptlite serves one open suggestion at a time. To keep N workers busy, each suggestion is asked
of the sweep's lite experiment (``LiteExperiment``: the real history, each observation added once)
with every pending trial observed for that one suggestion at a "lie" value (the mean of completed
values meeting the thresholds by default, see ``_lie_values``), so the optimizer spreads pending
work instead of suggesting the same point N times. Lies are only added once lite has left its
random initialization phase: there they change nothing but would shorten that phase with made-up
data.

The GP works on matrices of a few hundred rows, where multithreaded BLAS spends more time
synchronizing than computing (and competes with trials on the same machine): suggestions run
with ``blas_threads`` (default 1), measured 6x faster than the default on 2 cores at 60
observations.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy
from threadpoolctl import threadpool_limits

from hydra_plugins.sigopt_sweeper._experiment import ExperimentSpec, Suggestion
from hydra_plugins.sigopt_sweeper._lite_experiment import LiteExperiment
from hydra_plugins.sigopt_sweeper._metrics import Metric, meets_thresholds, pareto_front
from hydra_plugins.sigopt_sweeper._settings import choice
from hydra_plugins.sigopt_sweeper._trial import Observation
from hydra_plugins.sigopt_sweeper.config import Lie, Objective

LITE_EXPERIMENT_ID = "lite"


class LiteDriver:
    name = "lite"
    prefetch = True
    """Suggestions are computed here, in seconds: worth computing while trials run."""

    def __init__(
        self,
        spec: ExperimentSpec,
        lie: Lie | str = "mean",
        seed: int | None = None,
        blas_threads: int | None = 1,
        refit_every: int = 1,
        spe_beyond: int | None = None,
    ) -> None:
        """``lie``: a ``Lie`` or its name; ``blas_threads``: null or >= 1; ``refit_every`` >= 1 and
        ``spe_beyond`` (null or >= 0): see ``LiteExperiment`` (all checked with the sweeper's settings)."""
        _ensure_numpy_product()
        self.blas_threads = blas_threads
        self.spec = spec
        self.lie = choice(lie, Lie, "lie")
        self.refit_every = refit_every
        self.spe_beyond = spe_beyond
        self.history: list[Observation] = []
        self.warm: list[Observation] = []
        """Earlier sweeps' observations (``warm_start``): first in lite's history, never trials of this sweep."""
        self._experiment: LiteExperiment | None = None
        self._suggestions = 0
        self.seed = seed
        self._numpy_state = numpy.random.RandomState(seed).get_state()

    def start(self, experiment_id: str | None) -> str:
        self._experiment = self._new_experiment()  # validates the experiment definition before any trial runs
        return LITE_EXPERIMENT_ID

    def restore(
        self, observations: Sequence[Observation], reported: set[int], suggestion_ids: Sequence[str] = ()
    ) -> list[int]:
        """The journal's history; the random stream continues after its last suggestion ``lite-N``."""
        self.history = sorted(observations, key=lambda observation: observation.trial)
        self._experiment = None  # replayed afresh at the next suggestion
        numbers = [int(ident[5:]) for ident in suggestion_ids if ident.startswith("lite-") and ident[5:].isdigit()]
        self._suggestions = max([self._suggestions, *numbers])
        return [observation.trial for observation in self.history if observation.trial not in reported]

    def warm_start(self, observations: Sequence[Observation]) -> None:
        self.warm = list(observations)
        self._experiment = None  # rebuilt with them first at the next suggestion

    def observe(self, observation: Observation) -> str | None:
        self.history.append(observation)
        return None

    def suggest(self, pending: Sequence[dict[str, Any]]) -> Suggestion:
        history = [*self.warm, *self.history]  # a snapshot: the sweep may observe while a prefetch suggests
        experiment = self._caught_up(history)
        lies = self._lie_values(history) if pending and not experiment.in_random_phase() else None
        with self._own_numpy_random_state(), threadpool_limits(limits=self.blas_threads, user_api="blas"):
            assignments, strategy = experiment.suggest(history, pending, lies)
        self._suggestions += 1
        return Suggestion(id=f"lite-{self._suggestions}", assignments=assignments, strategy=strategy)

    def _new_experiment(self) -> LiteExperiment:
        return LiteExperiment(self.spec, refit_every=self.refit_every, spe_beyond=self.spe_beyond)

    def _caught_up(self, history: Sequence[Observation]) -> LiteExperiment:
        """The sweep's lite experiment holding every observation of ``history`` (each added once)."""
        if self._experiment is None:
            self._experiment = self._new_experiment()
        self._experiment.add(history[self._experiment.observed :])
        return self._experiment

    @contextmanager
    def _own_numpy_random_state(self) -> Iterator[None]:
        """libsigopt draws from numpy's global RNG, which every in-process trial re-seeds
        (``seed_everything``): without its own stream lite would repeat the same "random" points.

        With a ``seed``, suggestion N (counted from 0) draws from a stream seeded with (seed, N), so
        a resumed sweep, which restores N from the journal, continues instead of restarting."""
        outside = numpy.random.get_state()
        if self.seed is not None:  # suggestion N draws from (seed, N): a resumed sweep continues the stream
            self._numpy_state = numpy.random.RandomState([self.seed, self._suggestions]).get_state()
        numpy.random.set_state(self._numpy_state)
        try:
            yield
        finally:
            self._numpy_state = numpy.random.get_state()
            numpy.random.set_state(outside)

    def _lie_values(self, history: Sequence[Observation]) -> dict[str, float] | None:
        """The values pending trials are observed at: each lie is one a real trial could return.

        - ``mean``: per metric, the mean of the completed trials that meet every threshold (of all
          completed ones while none does). Averaging in below-threshold trials would pull the lie
          under the threshold, and the optimizer would treat pending regions as infeasible.
        - ``best``: the values of one real Pareto-front trial, the one best on the first optimized
          metric (for one optimized metric: the best trial). Per-metric bests (the best exact *and*
          the fewest parameters) form a point that dominates the whole real front, so every pending
          region would look unbeatable.
        - ``worst``: per metric, the worst completed value (pessimistic: spreads suggestions away
          from pending points; dominated by every trial, so it never distorts the front).
        """
        completed = [observation for observation in history if not observation.failed]
        if not completed:
            return None
        metrics = self.spec.metrics
        if self.lie == Lie.worst.value:
            return {metric.name: _worst(metric, [o.values[metric.name] for o in completed]) for metric in metrics}
        feasible = [o for o in completed if meets_thresholds(o.values, metrics)] or completed
        if self.lie == Lie.mean.value:
            return {metric.name: statistics.fmean(o.values[metric.name] for o in feasible) for metric in metrics}
        front = [feasible[index] for index in pareto_front([o.values for o in feasible], metrics)]
        first = next(metric for metric in metrics if metric.optimized)
        chosen = front[0]
        for observation in front[1:]:
            if first.better(observation.values[first.name], chosen.values[first.name]):
                chosen = observation
        return {metric.name: chosen.values[metric.name] for metric in metrics}


def _worst(metric: Metric, values: Sequence[float]) -> float:
    return min(values) if metric.objective == Objective.maximize.value else max(values)


def _ensure_numpy_product() -> None:
    """libsigopt (lite's engine) still calls ``numpy.product``, which numpy 2 removed.

    pandas 3 needs numpy >= 2, so pinning numpy < 2 is not an option; the alias is exactly the old
    function's meaning (``product`` was a deprecated synonym of ``prod``). Applied only when missing.
    """
    if not hasattr(numpy, "product"):
        numpy.product = numpy.prod  # type: ignore[attr-defined]
