"""The in-process ``sigoptlite`` optimizer, made parallel with a constant liar.

sigoptlite serves one open suggestion at a time. To keep N workers busy, each suggestion is asked
of a *fresh* lite experiment into which the real history is replayed (by assignments, which lite
accepts) plus every pending trial observed with a "lie" value (the mean of completed values meeting
the thresholds by default, see ``_lie_values``), so the optimizer spreads pending work instead of suggesting the same point N times.
Lies are only added once lite has left its random initialization phase: there they change
nothing but would shorten that phase with made-up data.

The GP works on matrices of a few hundred rows, where multithreaded BLAS spends more time
synchronizing than computing (and competes with trials on the same machine): suggestions run
with ``blas_threads`` (default 1), measured 6x faster than the default on 2 cores at 60
observations.

A fresh replay would refit the GP hyperparameters from scratch each time (seconds at hundreds of
observations); the previous fit is handed to the new broker as its starting point, as lite's own
broker does between suggestions. That reaches into lite's internals, so it is guarded and falls
back to a plain refit if lite changes.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy
from threadpoolctl import threadpool_limits

from hydra_plugins.sigopt_sweeper._experiment import ExperimentSpec, Suggestion, sigopt_values
from hydra_plugins.sigopt_sweeper._metrics import Metric, meets_thresholds, pareto_front
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError, choice
from hydra_plugins.sigopt_sweeper._trial import Observation
from hydra_plugins.sigopt_sweeper.config import Lie, Objective

log = logging.getLogger(__name__)

LITE_EXPERIMENT_ID = "lite"


class LiteDriver:
    name = "lite"
    prefetch = True
    """Suggestions are computed here, in seconds: worth computing while trials run."""

    def __init__(
        self, spec: ExperimentSpec, lie: Lie | str = "mean", seed: int | None = None, blas_threads: int | None = 1
    ) -> None:
        """``lie``: a ``Lie`` or its name; ``blas_threads``: null or >= 1 (checked with the sweeper's settings)."""
        _ensure_numpy_product()
        self.blas_threads = blas_threads
        self.spec = spec
        self.lie = choice(lie, Lie, "lie")
        self.history: list[Observation] = []
        self._hyperparameters: Any = None
        self._suggestions = 0
        self.seed = seed
        self._numpy_state = numpy.random.RandomState(seed).get_state()

    def start(self, experiment_id: str | None) -> str:
        self._replayed([])  # validates the experiment definition with lite before any trial runs
        return LITE_EXPERIMENT_ID

    def restore(
        self, observations: Sequence[Observation], reported: set[int], suggestion_ids: Sequence[str] = ()
    ) -> list[int]:
        """The journal's history; the random stream continues after its last suggestion ``lite-N``."""
        self.history = sorted(observations, key=lambda observation: observation.trial)
        numbers = [int(ident[5:]) for ident in suggestion_ids if ident.startswith("lite-") and ident[5:].isdigit()]
        self._suggestions = max([self._suggestions, *numbers])
        return [observation.trial for observation in self.history if observation.trial not in reported]

    def observe(self, observation: Observation) -> str | None:
        self.history.append(observation)
        return None

    def suggest(self, pending: Sequence[dict[str, Any]]) -> Suggestion:
        connection, api = self._replayed(pending)
        if api is not None and self._hyperparameters is not None:
            api.broker.hyperparameters = self._hyperparameters
        with self._own_numpy_random_state(), threadpool_limits(limits=self.blas_threads, user_api="blas"):
            suggestion = connection.experiments(_lite_id()).suggestions().create()
        if api is not None and api.broker.hyperparameters is not None:
            self._hyperparameters = api.broker.hyperparameters
        self._suggestions += 1
        return Suggestion(id=f"lite-{self._suggestions}", assignments=dict(suggestion.assignments))

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

    # -- replay ----------------------------------------------------------------------------------

    def _replayed(self, pending: Sequence[dict[str, Any]]) -> tuple[Any, Any]:
        from sigopt import Connection
        from sigopt.exception import SigOptException
        from sigoptlite import LocalDriver

        connection = Connection(driver=LocalDriver)
        try:
            connection.experiments().create(**{**self.spec.to_sigopt(), "parallel_bandwidth": 1})
        except (SigOptException, ValueError) as error:
            raise SweepConfigError(f"sigoptlite rejected the experiment built from hydra.sweeper: {error}") from None
        observations = connection.experiments(_lite_id()).observations()
        history = list(self.history)  # a snapshot: the sweep may observe while a prefetch suggests
        for observation in history:
            if observation.failed:
                observations.create(assignments=observation.assignments, failed=True)
            else:
                observations.create(assignments=observation.assignments, values=sigopt_values(observation))
        api = _local_api(connection)
        lies = self._lie_values(history)
        in_random_phase = api is not None and api.broker.is_initialization_phase
        if pending and lies and not in_random_phase:
            for assignments in pending:
                observations.create(assignments=assignments, values=[{"name": k, "value": v} for k, v in lies.items()])
        return connection, api

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


def _lite_id() -> str:
    from sigoptlite.models import FIXED_EXPERIMENT_ID

    return FIXED_EXPERIMENT_ID


def _local_api(connection: Any) -> Any:
    """lite's LocalAPI (holds the broker), or None if lite's layout changed."""
    try:
        api = connection.impl.driver.routes["experiments"]["POST"].__self__
        api.broker.hyperparameters  # noqa: B018 - probe the attribute we rely on
        api.broker.is_initialization_phase  # noqa: B018
        return api
    except (AttributeError, KeyError, TypeError):
        log.debug("sigoptlite internals changed; GP hyperparameters will be refit on every suggestion")
        return None
