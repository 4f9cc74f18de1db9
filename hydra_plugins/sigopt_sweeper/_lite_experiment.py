"""One sigoptlite experiment kept for a whole sweep, with what makes a suggestion cheap late in it.

Profiled at 479 observations + 19 pending, Table 2's 18 parameters, one BLAS thread (issue 11,
``python -m benchmarks.suggestion_latency --profile``), a suggestion through a fresh experiment took
about 20 s:

- ~60 %: refitting the GP hyperparameters (libsigopt's multistart SLSQP on the log likelihood of
  each optimized metric; its gradient needs a Cholesky solve per hyperparameter and start);
- ~25 %: replaying the history into the fresh experiment (lite validates every observation
  against a JSON schema, and re-checks the schema itself each time);
- ~15 %: maximizing the acquisition function over the GP of ~500 points (3 to 6 s alone at 479).

So the experiment lives as long as the sweep: each real observation is validated once, when it
first reaches lite, and the pending trials' lies are swapped in for one suggestion and out again.
Two settings trade model freshness for time:

- ``refit_every``: the GP hyperparameters are refit on every k-th GP suggestion only and reused in
  between (each refit starts from the previous fit, as lite's own broker does);
- ``spe_beyond``: beyond this many observations, lite's SPE (the ``kde_only`` compute mode, a
  Parzen-estimator strategy, ~0.05 s at 479) replaces the GP: only that gets under 2 s at 479,
  since the GP's acquisition step alone takes longer.

Reaching into lite's broker is guarded: if lite's layout changes, every suggestion replays the
history into a fresh experiment through the public client (slow, never wrong).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra_plugins.sigopt_sweeper._experiment import ExperimentSpec, sigopt_values
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
from hydra_plugins.sigopt_sweeper._trial import RANDOM_STRATEGY, Observation

log = logging.getLogger(__name__)
# libsigopt logs every GP call's whole input and output at INFO (pages per model-based suggestion, into the
# sweep's log): keep its warnings, not its traces.
logging.getLogger("libsigopt").setLevel(logging.WARNING)

RANDOM, GP, SPE = RANDOM_STRATEGY, "gp", "spe"
"""lite's strategies, as its broker picks them: random while valid observations <= max(2 x dimensions, 4)
(``is_initialization_phase``), else SPE (beyond ``spe_beyond`` observations, or lite's own limits), else GP."""


class LiteExperiment:
    """lite's experiment and broker for one sweep; all methods run on one thread at a time."""

    def __init__(self, spec: ExperimentSpec, refit_every: int = 1, spe_beyond: int | None = None) -> None:
        self.spec = spec
        self.refit_every = refit_every
        self.spe_beyond = spe_beyond
        self.observed = 0
        """Real observations handed to lite so far (the history's first ``observed``)."""
        self._gp_suggestions = 0
        self._connection, self._broker = self._create(spe=False)

    def add(self, observations: Sequence[Observation]) -> None:
        """Real observations, each validated by lite once; without the broker, only counted."""
        if self._broker is not None:
            _observe(self._connection, observations)
        self.observed += len(observations)

    def in_random_phase(self) -> bool:
        """lite is still drawing random points (lies there would only shorten that phase)."""
        return self._broker is not None and bool(self._broker.is_initialization_phase)

    def suggest(
        self, history: Sequence[Observation], pending: Sequence[dict[str, Any]], lies: dict[str, float] | None
    ) -> tuple[dict[str, Any], str | None]:
        """The next assignments, pending trials observed at ``lies`` (None: not observed), and the strategy
        lite's broker chose for them (``random``, ``spe`` or ``gp``; None through the public client only)."""
        if self._broker is None:
            return self._suggest_fresh(history, pending, lies), None
        broker = self._broker
        real = len(broker.observations)
        try:
            if lies is not None:
                _observe_lies(self._connection, pending, lies)
            broker.stored_suggestion = None
            broker.force_spe = self._beyond_gp(len(history))
            strategy = RANDOM if broker.use_random else SPE if broker.use_spe else GP
            if strategy != GP or self._refit_due():
                suggestion = broker.create_suggestion()
            else:
                suggestion = self._gp_with_kept_hyperparameters()
            if strategy == GP:
                self._gp_suggestions += 1
            return dict(suggestion.assignments), strategy
        finally:
            del broker.observations[real:]
            broker.stored_suggestion = None

    def _beyond_gp(self, observations: int) -> bool:
        return self.spe_beyond is not None and observations > self.spe_beyond

    def _refit_due(self) -> bool:
        return self._broker.hyperparameters is None or self._gp_suggestions % self.refit_every == 0

    def _gp_with_kept_hyperparameters(self) -> Any:
        from sigoptlite.sources import GPSource

        source = GPSource(self._broker.experiment)
        source.hyperparameters = self._broker.hyperparameters
        return source.get_suggestion(self._broker.observations)

    def _suggest_fresh(
        self, history: Sequence[Observation], pending: Sequence[dict[str, Any]], lies: dict[str, float] | None
    ) -> dict[str, Any]:
        """lite's internals changed: replay everything into a new experiment (public client only)."""
        connection, _ = self._create(spe=self._beyond_gp(len(history)))
        _observe(connection, history)
        if lies is not None:
            _observe_lies(connection, pending, lies)
        return dict(connection.experiments(_lite_id()).suggestions().create().assignments)

    def _create(self, spe: bool) -> tuple[Any, Any]:
        from sigopt import Connection
        from sigopt.exception import SigOptException
        from sigoptlite import LocalDriver

        connection = Connection(driver=LocalDriver, compute_mode="kde_only" if spe else "default")
        try:
            connection.experiments().create(**{**self.spec.to_sigopt(), "parallel_bandwidth": 1})
        except (SigOptException, ValueError) as error:
            raise SweepConfigError(f"sigoptlite rejected the experiment built from hydra.sweeper: {error}") from None
        return connection, _broker(connection)


def _observe(connection: Any, observations: Sequence[Observation]) -> None:
    endpoint = connection.experiments(_lite_id()).observations()
    for observation in observations:
        if observation.failed:
            endpoint.create(assignments=observation.assignments, failed=True)
        else:
            endpoint.create(assignments=observation.assignments, values=sigopt_values(observation))


def _observe_lies(connection: Any, pending: Sequence[dict[str, Any]], lies: dict[str, float]) -> None:
    endpoint = connection.experiments(_lite_id()).observations()
    values = [{"name": name, "value": value} for name, value in lies.items()]
    for assignments in pending:
        endpoint.create(assignments=assignments, values=values)


def _lite_id() -> str:
    from sigoptlite.models import FIXED_EXPERIMENT_ID

    return FIXED_EXPERIMENT_ID


def _broker(connection: Any) -> Any:
    """lite's Broker (its observations, hyperparameters and strategy), or None if lite's layout changed."""
    try:
        broker = connection.impl.driver.routes["experiments"]["POST"].__self__.broker
        for attribute in ("observations", "hyperparameters", "stored_suggestion", "force_spe", "experiment"):
            getattr(broker, attribute)
        broker.is_initialization_phase  # noqa: B018 - probe the properties relied on
        broker.use_random  # noqa: B018
        broker.use_spe  # noqa: B018
        from sigoptlite.sources import GPSource  # noqa: F401

        return broker
    except (AttributeError, KeyError, TypeError, ImportError):
        log.warning("sigoptlite internals changed: every suggestion replays the whole history (slow)")
        return None
