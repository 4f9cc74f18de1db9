"""The sweep loop: suggest -> journal -> launch -> journal -> report, until the budget is spent.

Ordering is what makes a crash harmless: a suggestion is journaled before its trial starts, an
observation before it is reported, so on ``resume`` finished trials are never repeated, trials
that were in flight run again with their original assignments, and the optimizer learns about
observations it may have missed.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.sigopt_sweeper._api_driver import ApiDriver
from hydra_plugins.sigopt_sweeper._errors import SweepConfigError
from hydra_plugins.sigopt_sweeper._experiment import Driver, ExperimentSpec
from hydra_plugins.sigopt_sweeper._failure_reason import BAD_METRICS, NON_FINITE_LOSS
from hydra_plugins.sigopt_sweeper._journal import COMPLETED, FAILED, Journal, JournalState, Observation, Trial
from hydra_plugins.sigopt_sweeper._lite_driver import LiteDriver
from hydra_plugins.sigopt_sweeper._metrics import Metric, MissingMetricError, non_finite, parse_metrics, read_values
from hydra_plugins.sigopt_sweeper._results import plot_pareto, prune_checkpoints, write_observations, write_pareto
from hydra_plugins.sigopt_sweeper._search_space import SearchSpace, parse_search_space
from hydra_plugins.sigopt_sweeper._trial_pool import TrialOutcome, make_pool
from hydra_plugins.sigopt_sweeper._trial_task import TimedTask

log = logging.getLogger(__name__)

DRIVERS = ("auto", "lite", "api")
KEEP_CHECKPOINTS = ("all", "pareto")


class SigOptSweep:
    def __init__(self, settings: DictConfig) -> None:
        self.settings = settings
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        self.task: TimedTask | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task = TimedTask(task_function)
        self.launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context, task_function=self.task)

    # -- configuration ---------------------------------------------------------------------------

    def _validate(self) -> None:
        settings = self.settings
        for key in ("budget", "parallelism"):
            value = settings[key]
            if not isinstance(value, int) or value < 1:
                raise SweepConfigError(f"hydra.sweeper.{key}={value} must be an integer >= 1.")
        if settings.driver not in DRIVERS:
            raise SweepConfigError(f"hydra.sweeper.driver={settings.driver!r} must be one of {list(DRIVERS)}.")
        if settings.keep_checkpoints not in KEEP_CHECKPOINTS:
            raise SweepConfigError(f"hydra.sweeper.keep_checkpoints={settings.keep_checkpoints!r} must be one of {list(KEEP_CHECKPOINTS)}.")

    def _driver(self, spec: ExperimentSpec) -> Driver:
        settings = self.settings
        token = os.environ.get(settings.token_env, "").strip()
        driver = settings.driver
        if driver == "auto":
            driver = "api" if token else "lite"
        if driver == "lite":
            return LiteDriver(spec, lie=settings.lie, seed=settings.seed, blas_threads=settings.blas_threads)
        if not token:
            raise SweepConfigError(
                f"hydra.sweeper.driver=api needs a SigOpt API token in ${settings.token_env} "
                "(export it; it is never read from config). Use driver=lite to run offline."
            )
        api_url = os.environ.get(settings.api_url_env) or None
        return ApiDriver(spec, token, token_env=settings.token_env, api_url=api_url, project=settings.project)

    def _check_composes(self, space: SearchSpace) -> None:
        """Compose one trial's config now: a searched key the job config lacks fails here, not in a trial."""
        try:
            self.hydra_context.config_loader.load_sweep_config(self.config, space.overrides(space.sample()))
        except Exception as error:  # noqa: BLE001 - Hydra raises several types; all mean "fix the space"
            raise SweepConfigError(
                f"a trial config does not compose from the search space: {str(error).splitlines()[0]} "
                "(a searched key must exist in the job config, or be added with `+key` in a fixed override)."
            ) from None

    def _header(self, driver: Driver, experiment_id: str, spec: ExperimentSpec) -> dict[str, Any]:
        return {
            "driver": driver.name,
            "experiment_id": experiment_id,
            "experiment": spec.to_sigopt(),
            "fixed": [list(entry) for entry in spec.space.fixed],
        }

    def _check_resumable(self, state: JournalState, spec: ExperimentSpec, driver: Driver, journal: Journal) -> None:
        header = state.header
        if header is None:
            raise SweepConfigError(f"{journal.path} has no readable sweep header; cannot resume it.")
        if header["driver"] != driver.name:
            raise SweepConfigError(
                f"{journal.path} was written by the {header['driver']} driver, this run uses {driver.name}; "
                f"set hydra.sweeper.driver={header['driver']} to resume it."
            )
        recorded = header["experiment"]
        current = spec.to_sigopt()
        for key in ("parameters", "metrics"):
            if recorded[key] != current[key]:
                raise SweepConfigError(
                    f"hydra.sweeper {key} differ from the journaled sweep in {journal.path}; resume with the same "
                    "search space and metrics, or start a new sweep in another hydra.sweep.dir."
                )

    # -- the loop ----------------------------------------------------------------------------------

    def sweep(self, arguments: list[str]) -> list[Observation]:
        assert self.config is not None and self.hydra_context is not None and self.task is not None
        self._validate()
        settings = self.settings
        params = OmegaConf.to_container(settings.params, resolve=True) if settings.params is not None else None
        space = parse_search_space(params, arguments)
        metrics = parse_metrics([OmegaConf.to_container(metric, resolve=True) for metric in settings.metrics])
        spec = ExperimentSpec(settings.experiment_name, space, metrics, settings.budget, settings.parallelism)
        self._check_composes(space)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        journal = Journal(sweep_dir)
        driver = self._driver(spec)

        state = journal.load() if journal.exists() else JournalState()
        if journal.exists() and not settings.resume:
            raise SweepConfigError(
                f"{sweep_dir} already holds a sweep journal ({len(state.observations)} observations). Pass "
                "hydra.sweeper.resume=true to continue it, or choose another hydra.sweep.dir; nothing was overwritten."
            )
        if state.header is not None:
            self._check_resumable(state, spec, driver, journal)
        experiment_id = driver.start(state.header["experiment_id"] if state.header else settings.experiment_id)
        if state.header is None:
            journal.write_header(self._header(driver, experiment_id, spec))
        else:
            log.info("Resuming %s: %d observations, %d trials to re-run", sweep_dir, len(state.observations), len(state.pending))
        for trial in driver.restore(list(state.observations.values()), state.reported):
            journal.record_reported(trial)

        log.info(
            "SigOpt sweep (%s driver, experiment %s): %d parameters, budget %d, parallelism %d -> %s",
            driver.name, experiment_id, len(space.parameters), settings.budget, settings.parallelism, sweep_dir,
        )
        observations = dict(state.observations)
        pool = make_pool(self.launcher, self.config, settings.parallelism, sweep_dir, self.hydra_context, self.task)
        try:
            self._loop(driver, pool, journal, space, metrics, observations, state)
        finally:
            pool.close()
            self._write_results(sweep_dir, list(observations.values()), space, metrics, final=True)
        return sorted(observations.values(), key=lambda observation: observation.trial)

    def _loop(self, driver: Driver, pool: Any, journal: Journal, space: SearchSpace, metrics: tuple[Metric, ...],
              observations: dict[int, Observation], state: JournalState) -> None:
        queue = list(state.pending)
        next_number = state.next_trial_number
        in_flight: dict[int, Trial] = {}
        sweep_dir = journal.path.parent
        prefetch = Prefetcher(driver)
        try:
            self._fill_and_wait(driver, pool, journal, space, metrics, observations, queue, next_number, in_flight, prefetch, sweep_dir)
        finally:
            prefetch.close()

    def _fill_and_wait(self, driver: Driver, pool: Any, journal: Journal, space: SearchSpace, metrics: tuple[Metric, ...],
                       observations: dict[int, Observation], queue: list[Trial], next_number: int,
                       in_flight: dict[int, Trial], prefetch: Prefetcher, sweep_dir: Path) -> None:
        budget = self.settings.budget
        while True:
            while pool.has_room(len(in_flight)) and len(observations) + len(in_flight) < budget:
                if queue:
                    trial = queue.pop(0)
                    trial.overrides = trial.overrides or space.overrides(trial.assignments)
                else:
                    started = time.perf_counter()
                    suggestion = prefetch.take([trial.assignments for trial in in_flight.values()])
                    trial = Trial(next_number, suggestion.id, suggestion.assignments, space.overrides(suggestion.assignments))
                    next_number += 1
                    journal.record_suggestion(trial)
                    log.info("trial %d suggested (waited %.2f s): %s", trial.number, time.perf_counter() - started, " ".join(trial.overrides[len(space.fixed):]))
                pool.submit(trial)
                in_flight[trial.number] = trial
            if not in_flight:
                return
            if pool.asynchronous and driver.prefetch and not queue and len(observations) + len(in_flight) < budget:
                prefetch.start([trial.assignments for trial in in_flight.values()])
            for outcome in pool.wait():
                in_flight.pop(outcome.trial.number, None)
                observation, error = self._observe(outcome, metrics)
                journal.record_observation(observation)
                observations[observation.trial] = observation
                journal.record_reported(observation.trial, driver.observe(observation))
                log.info(
                    "trial %d %s (%d/%d)%s", observation.trial, observation.status, len(observations), budget,
                    f": {observation.reason}" if observation.reason else f": {observation.values}",
                )
                self._write_results(sweep_dir, list(observations.values()), space, metrics, final=False)
                if error is not None:
                    raise error

    def _observe(self, outcome: TrialOutcome, metrics: tuple[Metric, ...]) -> tuple[Observation, SweepConfigError | None]:
        trial = outcome.trial
        duration = None if outcome.started_at is None or outcome.finished_at is None else outcome.finished_at - outcome.started_at
        base = dict(trial=trial.number, suggestion_id=trial.suggestion_id, assignments=trial.assignments,
                    duration_s=duration, started_at=outcome.started_at, finished_at=outcome.finished_at,
                    output_dir=outcome.output_dir)
        if not outcome.ok:
            return Observation(status=FAILED, reason=outcome.reason, **base), None
        try:
            values = read_values(metrics, outcome.value, trial.number)
        except MissingMetricError as error:
            return Observation(status=FAILED, reason=f"{BAD_METRICS}: {error}", **base), error
        returned = {str(key): _plain(value) for key, value in outcome.value.items()}
        bad = non_finite(values)
        if bad:
            return Observation(status=FAILED, reason=f"{NON_FINITE_LOSS}: non-finite {bad}", metrics=returned, **base), None
        return Observation(status=COMPLETED, values=values, metrics=returned, **base), None

    def _write_results(self, sweep_dir: Path, observations: list[Observation], space: SearchSpace, metrics: tuple[Metric, ...], *, final: bool) -> None:
        names = [parameter.name for parameter in space.parameters]
        write_observations(sweep_dir, observations, names, metrics)
        baseline = OmegaConf.to_container(self.settings.baseline, resolve=True) if self.settings.baseline else None
        front = write_pareto(sweep_dir, observations, metrics, baseline, self.settings.checkpoint_dir)
        if not final:
            return
        plot_pareto(sweep_dir, observations, front, metrics, baseline)
        if self.settings.keep_checkpoints == "pareto" and len(observations) >= self.settings.budget:
            removed = prune_checkpoints(observations, front, self.settings.checkpoint_dir)
            log.info("Deleted %d student checkpoints off the Pareto front (keep_checkpoints=pareto)", removed)
        log.info("Pareto front: %d of %d observations -> %s", len(front), len(observations), sweep_dir / "pareto.json")


class Prefetcher:
    """Computes the next suggestion in the background while trials run (asynchronous pools only).

    A GP suggestion takes about a second at tens of observations and over ten at hundreds; done
    after a worker frees up, that is idle worker time on every trial. Asked while all workers are
    busy, it knows every in-flight trial as pending; the one trial that finished meanwhile was
    among them, so the suggestion is as informed as the constant liar makes it anyway. In-process
    launchers run trials in this thread (and re-seed numpy's global RNG), so they do not prefetch.
    """

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sigopt-suggest")
        self.future: Future | None = None

    def start(self, pending: list[dict[str, Any]]) -> None:
        if self.future is None:
            self.future = self.executor.submit(self.driver.suggest, pending)

    def take(self, pending: list[dict[str, Any]]) -> Any:
        if self.future is None:
            return self.driver.suggest(pending)
        future, self.future = self.future, None
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _plain(value: Any) -> Any:
    """JSON-ready metric values (tensors and numpy scalars from a task become floats)."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
