"""One sweep: start-up (settings, experiment, journal, driver), then the loop suggest -> journal
-> launch -> journal -> report, until the budget is spent.

Ordering is what makes a crash harmless: a suggestion is journaled before its trial starts, an
observation before it is reported, so on ``resume`` finished trials are never repeated, trials
that were in flight run again with their original assignments, and the optimizer learns about
observations it may have missed.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.sigopt_sweeper._checkpoints import delete_off_front, trial_dirs_elsewhere
from hydra_plugins.sigopt_sweeper._command_line import shell_override
from hydra_plugins.sigopt_sweeper._drivers import make_driver
from hydra_plugins.sigopt_sweeper._experiment import (
    Driver,
    ExperimentSpec,
    OptimizerError,
    Suggestion,
    is_refusal,
    read_sweep_config,
)
from hydra_plugins.sigopt_sweeper._interrupts import InterruptWatch, SweepInterrupted
from hydra_plugins.sigopt_sweeper._journal import Journal, JournalState, sweep_header
from hydra_plugins.sigopt_sweeper._lock import SweepLock
from hydra_plugins.sigopt_sweeper._result_files import (
    PARETO_JSON,
    front_table,
    plot_pareto,
    write_observations,
    write_pareto,
)
from hydra_plugins.sigopt_sweeper._search_space import SearchSpace
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
from hydra_plugins.sigopt_sweeper._trial import (
    CRASHED,
    DISK,
    Observation,
    Trial,
    TrialOutcome,
    first_line,
    to_observation,
)
from hydra_plugins.sigopt_sweeper._trial_pool import InfrastructureError, LauncherPool, RayPool, TimedTask, make_pool
from hydra_plugins.sigopt_sweeper._warm_start import read_warm_start
from hydra_plugins.sigopt_sweeper.config import KeepCheckpoints

log = logging.getLogger(__name__)


class SigOptSweep:
    """What the Sweeper delegates to: Hydra's context from ``setup``, then a sweep per ``sweep``."""

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
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=self.task
        )

    def sweep(self, arguments: list[str]) -> list[Observation]:
        assert self.config is not None and self.hydra_context is not None and self.task is not None
        settings, spec = read_sweep_config(self.settings, arguments)
        self._check_composes(spec.space)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        journal = Journal(sweep_dir)
        with SweepLock(sweep_dir), InterruptWatch() as watch:
            driver = make_driver(settings, spec)
            pool = make_pool(
                self.launcher,
                self.config,
                spec.parallel_bandwidth,
                sweep_dir,
                self.hydra_context,
                self.task,
                settings.trial_timeout_s,
                settings.waiting_log_s,
            )
            try:
                state = _start(driver, journal, settings, spec)
            except BaseException:
                pool.close()
                raise
            running = RunningSweep.resumed(settings, spec, driver, pool, journal, state)
            running.watch = watch
            return running.run()

    def _check_composes(self, space: SearchSpace) -> None:
        """Compose one trial's config now: a searched key the job config lacks fails here, not in a trial."""
        try:
            self.hydra_context.config_loader.load_sweep_config(self.config, space.overrides(space.sample()))
        except Exception as error:  # noqa: BLE001 - Hydra raises several types; all mean "fix the space"
            raise SweepConfigError(
                f"a trial config does not compose from the search space: {str(error).splitlines()[0]} "
                "(a searched key must exist in the job config, or be added with `+key` in a fixed override)."
            ) from None


def _start(driver: Driver, journal: Journal, settings: DictConfig, spec: ExperimentSpec) -> JournalState:
    """Start the driver on a new experiment, or on the journaled one brought up to the journal's history.

    A new sweep reads its warm start (``hydra.sweeper.warm_start``) before anything is written, journals it
    after the header, and hands it to the driver before the first suggestion; a resumed one takes the
    journaled warm start (the sources must be the same)."""
    inputs = dict(settings.get("inputs") or {})
    state = journal.state_to_resume(spec, driver.name, resume=settings.resume, inputs=inputs)
    sources = [str(source) for source in settings.get("warm_start") or []]
    warm = state.warm if state.header is not None else (read_warm_start(sources, spec) if sources else None)
    if state.header is not None and sources != (warm.sources if warm else []):
        raise SweepConfigError(
            f"hydra.sweeper.warm_start={sources} differs from the journaled sweep's "
            f"({warm.sources if warm else 'none'}) in {journal.path}; a sweep keeps the warm start it began with. "
            "Resume without changing it, or start a new sweep in another hydra.sweep.dir."
        )
    experiment_id = driver.start(state.header["experiment_id"] if state.header else settings.experiment_id)
    sweep_dir = journal.path.parent
    if state.header is None:  # the warm start goes in the header's own line: one append, no half-written start
        header = sweep_header(driver.name, experiment_id, spec, inputs)
        journal.write_header({**header, "warm_start": warm.to_record()} if warm is not None else header)
        if warm is not None:
            log.info("%s", warm.summary())
            if not warm.observations:
                log.warning("hydra.sweeper.warm_start: none of the earlier observations fits this search (%s)",
                            ", ".join(sources))  # fmt: skip
    else:
        log.info(
            "Resuming %s: %d observations, %d trials to re-run", sweep_dir, len(state.observations), len(state.pending)
        )
        _say_budget_change(state, spec)
    if warm is not None and warm.observations:
        driver.warm_start(warm.observations)
    suggestion_ids = [trial.suggestion_id for trial in state.trials.values()]
    for trial in driver.restore(list(state.observations.values()), state.reported, suggestion_ids):
        journal.record_reported(trial)
        state.reported.add(trial)
    log.info(
        "SigOpt sweep (%s driver, experiment %s): %d parameters, budget %d, parallelism %d -> %s",
        driver.name,
        experiment_id,
        len(spec.space.parameters),
        spec.budget,
        spec.parallel_bandwidth,
        sweep_dir,
    )
    return state


def _say_budget_change(state: JournalState, spec: ExperimentSpec) -> None:
    """A resume with another ``budget`` runs to the new one; one below what is journaled leaves trials unrun."""
    journaled = state.header["experiment"].get("observation_budget") if state.header else None
    if journaled is None or journaled == spec.budget:
        return
    done, pending = len(state.observations), len(state.pending)
    if spec.budget >= done + pending:
        log.warning("hydra.sweeper.budget changed on resume: journaled %d, now %d; the sweep runs to %d observations "
                    "(%d more, %d of them re-runs of pending trials).", journaled, spec.budget, spec.budget,
                    spec.budget - done, pending)  # fmt: skip
    else:
        log.warning("hydra.sweeper.budget=%d on resume is below the %d observations and %d pending trials journaled "
                    "(budget %d): %d pending trial(s) will not run. Resume with "
                    "hydra.sweeper.budget=%d or more to run them.", spec.budget, done, pending, journaled,
                    done + pending - max(spec.budget, done), done + pending)  # fmt: skip


@dataclass
class RunningSweep:
    """A started sweep: its settings, experiment, driver, trial pool and journal, and what the loop
    counts (observations so far, trials to re-run, the next trial number, trials in flight)."""

    settings: DictConfig
    spec: ExperimentSpec
    driver: Driver
    pool: LauncherPool | RayPool
    journal: Journal
    observations: dict[int, Observation]
    to_rerun: list[Trial]
    """Trials in flight when a resumed sweep stopped, or lost to the infrastructure: they run again
    with their assignments before any new suggestion."""
    next_number: int
    unreported: set[int] = field(default_factory=set)
    """Journaled observations the optimizer has not acknowledged (reported after the next wait)."""
    refused: set[int] = field(default_factory=set)
    """Unreported observations the optimizer refused (a definite 4xx answer): not retried in this run,
    so one cannot hold back the others; retried on resume."""
    in_flight: dict[int, Trial] = field(default_factory=dict)
    requeued: Counter[int] = field(default_factory=Counter)
    """Per trial: times lost to an infrastructure failure (and put back to run again)."""
    infrastructure_streak: int = 0
    """Consecutive trials lost to infrastructure failures (the circuit breaker's count)."""
    starts: Counter[int] = field(default_factory=Counter)
    """Per trial: times started, in this run and the journaled ones (a re-start gets a fresh folder)."""
    watch: InterruptWatch | None = None
    """The sweep's SIGINT/SIGTERM handling (None: signals act as Python's defaults)."""
    collected: list[Observation] = field(default_factory=list)
    """Observations of trials this run finished, in order (``first_failures_alike`` looks at its first ones)."""

    def __post_init__(self) -> None:
        self.sweep_dir = self.journal.path.parent
        self.pool.on_start = lambda trial: self.journal.record_started(trial.number)
        self.baseline = OmegaConf.to_container(self.settings.baseline) if self.settings.baseline else None
        self.prefetcher = Prefetcher(self.driver)

    @classmethod
    def resumed(
        cls,
        settings: DictConfig,
        spec: ExperimentSpec,
        driver: Driver,
        pool: LauncherPool | RayPool,
        journal: Journal,
        state: JournalState,
    ) -> RunningSweep:
        """The sweep the journal's ``state`` describes (a new one for an empty state).

        A trial started ``max_attempts`` times without ever finishing (it crashed the launcher or
        the sweep process each time) is recorded as failed instead of being run again.
        """
        running = cls(settings, spec, driver, pool, journal, dict(state.observations), [], state.next_trial_number)
        running.unreported = set(state.observations) - state.reported
        running.requeued = Counter(state.requeued)
        running.starts = Counter(state.starts)
        for trial in state.pending:
            crashes = state.unfinished_starts(trial.number)
            if crashes < settings.max_attempts:
                running.to_rerun.append(trial)
                continue
            reason = (
                f"{CRASHED}: started {crashes} times without finishing (the sweep or its launcher died each time); "
                f"not run again (hydra.sweeper.max_attempts={settings.max_attempts})"
            )
            log.warning("trial %d: %s", trial.number, reason)
            running._observe(to_observation(TrialOutcome(trial, ok=False, reason=reason), spec.metrics)[0])
        return running

    def run(self) -> list[Observation]:
        failing = False
        try:
            self._report()
            try:
                while self._start_trials():
                    self._prefetch()
                    self._collect()
            except OptimizerError:
                self._drain()
                raise
            self._report()
        except (KeyboardInterrupt, SystemExit):
            failing = True
            if self.watch is None or self.watch.signum is None:
                raise
            self._interrupted()  # a trial turns the interrupt into SystemExit (Lightning) or lets it through
            raise SweepInterrupted(self.watch.signum) from None
        except BaseException:
            failing = True
            raise
        finally:
            self.prefetcher.close()
            self.pool.close()
            if self.unreported:
                log.warning(
                    "%d observations are journaled but not reported to the optimizer; rerun with "
                    "hydra.sweeper.resume=true to report them",
                    len(self.unreported),
                )
            try:
                self._write_results(final=True)
            except OSError as error:
                if not failing:
                    raise
                log.warning("the result files could not be rewritten after the error below: %s", error)
        return sorted(self.observations.values(), key=lambda observation: observation.trial)

    def _interrupted(self) -> None:
        """The user stopped the sweep: its trials in flight stay pending, and are no attempts of theirs."""
        assert self.watch is not None
        for number in sorted(self.in_flight):
            self.journal.record_interrupted(number, self.watch.signal_name)
        log.error(
            "sigopt sweeper: interrupted (%s); %d trials were in flight and stay pending (no attempt counted). "
            "To continue, rerun the same command with hydra.sweeper.resume=true %s",
            self.watch.signal_name,
            len(self.in_flight),
            shell_override("hydra.sweep.dir", str(self.sweep_dir)),
        )
        self.in_flight.clear()

    def _check_interrupt(self) -> None:
        if self.watch is not None:
            self.watch.check()
            self.watch.reinstall()

    def _drain(self) -> None:
        """No new trial can start: let the ones in flight finish and journal them before stopping."""
        if self.in_flight:
            log.error("the optimizer failed; waiting for the %d trials in flight before stopping", len(self.in_flight))
        while self.in_flight:
            self._collect()
        self._report()

    def _budget_left(self) -> bool:
        return len(self.observations) + len(self.in_flight) < self.spec.budget

    def _pending(self) -> list[dict[str, Any]]:
        return [trial.assignments for trial in self.in_flight.values()]

    def _start_trials(self) -> bool:
        """Submit trials while the pool has room and the budget allows; False once none is left in flight."""
        self._check_interrupt()
        while self.pool.has_room(len(self.in_flight)) and self._budget_left():
            trial = self._next_trial()
            self.starts[trial.number] += 1
            self.pool.submit(self._attempt(trial))  # journaled as started by the pool's on_start, when it starts
            self.in_flight[trial.number] = trial
        return bool(self.in_flight)

    def _attempt(self, trial: Trial) -> Trial:
        """The trial as launched: a re-start writes into a fresh folder ``N.attemptK``, so it never shares
        one with an earlier start whose worker may still be running (a Ray worker outlives a killed sweep).
        With the api driver the trial also learns its SigOpt suggestion and experiment (environment
        variables through ``hydra.job.env_set``), for a training-run logger to name them."""
        extra = []
        attempt = self.starts[trial.number]
        if attempt > 1:
            extra.append(f"hydra.sweep.subdir={trial.number}.attempt{attempt}")
        if self.driver.name == "api":
            experiment_id = getattr(self.driver, "experiment_id", None)
            extra += [
                f"++hydra.job.env_set.SIGOPT_SUGGESTION_ID={trial.suggestion_id}",
                f"++hydra.job.env_set.SIGOPT_TRIAL={trial.number}",
                *([f"++hydra.job.env_set.SIGOPT_EXPERIMENT_ID={experiment_id}"] if experiment_id else []),
            ]
        return replace(trial, overrides=[*trial.overrides, *extra]) if extra else trial

    def _next_trial(self) -> Trial:
        """A trial to re-run, else a new suggestion (journaled)."""
        space = self.spec.space
        if self.to_rerun:
            trial = self.to_rerun.pop(0)
            trial.overrides = trial.overrides or space.overrides(trial.assignments)
            return trial
        started = time.perf_counter()
        try:
            suggestion = self.prefetcher.take(self._pending())
        except Exception as error:
            raise OptimizerError(
                f"the {self.driver.name} optimizer could not suggest trial {self.next_number}: {first_line(error)}. "
                f"The {len(self.observations) + len(self.in_flight)} trials so far are journaled: fix the cause, then "
                "rerun with hydra.sweeper.resume=true."
            ) from error
        trial = Trial(
            self.next_number,
            suggestion.id,
            suggestion.assignments,
            space.overrides(suggestion.assignments),
            strategy=suggestion.strategy,
        )
        self.next_number += 1
        self.journal.record_suggestion(trial)
        log.info(
            "trial %d suggested (%s, waited %.2f s): %s",
            trial.number,
            trial.strategy or "strategy not reported",
            time.perf_counter() - started,
            " ".join(trial.overrides[len(space.fixed) :]),
        )
        return trial

    def _prefetch(self) -> None:
        if self.pool.asynchronous and self.driver.prefetch and not self.to_rerun and self._budget_left():
            self.prefetcher.start(self._pending())

    def _collect(self) -> None:
        """Wait for finished trials: journal every outcome of the wait first, then report them.

        Reporting can fail (a SigOpt outage); by then every outcome is journaled, and what was not
        reported is retried after the next wait and on resume, while the sweep goes on.
        """
        finished: list[tuple[Observation, Exception | None]] = []
        broken: TrialOutcome | None = None
        for outcome in self.pool.wait():
            trial = self.in_flight.pop(outcome.trial.number, outcome.trial)
            if outcome.infrastructure:
                self.infrastructure_streak += 1
                if self.infrastructure_streak >= self.settings.max_infrastructure_failures:
                    broken = outcome
                if broken is None and _lost_to_disk(outcome) and self.requeued[trial.number] + 1 >= self.settings.max_attempts:
                    broken = outcome  # a disk that fails a trial again: stop, never report it as the trial's fault
                if broken or self.requeued[trial.number] + 1 < self.settings.max_attempts:
                    self._requeue(trial, outcome.reason)
                    continue
            else:
                self.infrastructure_streak = 0
            observation, error = to_observation(outcome, self.spec.metrics)
            self._observe(observation)
            self.collected.append(observation)
            finished.append((observation, error))
        self._report()
        for observation, _ in finished:
            log.info(
                "trial %d %s (%d/%d)%s",
                observation.trial,
                observation.status,
                len(self.observations),
                self.spec.budget,
                f": {observation.reason}" if observation.reason else f": {observation.values}",
            )
        self._write_results(final=False)
        if broken is not None:
            raise InfrastructureError(
                f"{self.infrastructure_streak} trials in a row were lost to infrastructure failures "
                f"(hydra.sweeper.max_infrastructure_failures={self.settings.max_infrastructure_failures}); the last: "
                f"trial {broken.trial.number}: {broken.reason}. The sweep stopped with its unfinished trials pending: "
                "fix the workers (image, nodes, disk, runtime env), then rerun with hydra.sweeper.resume=true."
                if not _lost_to_disk(broken)
                else f"the disk failed trial {broken.trial.number} again: {broken.reason}. Nothing was reported to "
                "the optimizer as the trial's fault; the sweep stopped with its unfinished trials pending: free space "
                "(or fix the disk), then rerun with hydra.sweeper.resume=true."
            )
        for _, error in finished:
            if error is not None:
                raise error
        self._check_failures_alike(finished)
        self._check_interrupt()  # after the finished trials are journaled: a swallowed Ctrl-C loses none

    def _check_failures_alike(self, finished: list[tuple[Observation, Exception | None]]) -> None:
        """Stop once the first ``first_failures_alike`` trials of this run have all failed the same way."""
        count = self.settings.get("first_failures_alike")
        if not count or not len(self.collected) - len(finished) < count <= len(self.collected):
            return  # checked once: in the wait that finished the count-th trial of this run
        first = self.collected[:count]
        if all(o.failed for o in first) and len({_alike(o.reason) for o in first}) == 1:
            raise FailuresAlikeError(
                f"the first {count} trials of this run all failed with the same error: {first[0].reason}. A setting "
                "that breaks every trial is the likely cause, not the search space; the sweep stopped instead of "
                f"spending its budget on it ({len(self.observations)} observations journaled in {self.sweep_dir}). Fix "
                "the setting and start a new sweep in another hydra.sweep.dir: these failures say nothing about the "
                "space (hydra.sweeper.first_failures_alike=null lets a sweep go on regardless)."
            )

    def _observe(self, observation: Observation) -> None:
        """Journal a finished trial's observation (reported to the optimizer by ``_report``)."""
        self.journal.record_observation(observation)
        self.observations[observation.trial] = observation
        self.unreported.add(observation.trial)

    def _requeue(self, trial: Trial, reason: str | None) -> None:
        """Put a trial lost to the infrastructure back to run again: not an observation of its point."""
        self.requeued[trial.number] += 1
        self.journal.record_requeued(trial.number, reason or "")
        self.to_rerun.append(trial)
        log.warning("trial %d lost to the infrastructure, to run again: %s", trial.number, reason)

    def _report(self) -> None:
        """Report journaled observations the optimizer has not acknowledged, oldest first.

        One with no answer (after the driver's own retries) stops this round: the service is likely
        down, and the rest stay unreported in the journal for the next round or a resume. One the
        optimizer refuses (a definite 4xx answer) is set aside until a resume, and the rest go on.
        """
        for number in sorted(self.unreported - self.refused):
            try:
                observation_id = self.driver.observe(self.observations[number])
            except Exception as error:  # noqa: BLE001 - any failure leaves it unreported, to retry
                refused = is_refusal(error)
                log.warning(
                    "trial %d: reporting its observation failed (%s); %s",
                    number,
                    first_line(error),
                    "refused: retried on resume" if refused else "retried after the next trial and on resume",
                )
                if not refused:
                    return
                self.refused.add(number)
                continue
            self.journal.record_reported(number, observation_id)
            self.unreported.discard(number)

    def _write_results(self, *, final: bool) -> None:
        observations = list(self.observations.values())
        metrics = self.spec.metrics
        write_observations(
            self.sweep_dir, observations, [parameter.name for parameter in self.spec.space.parameters], metrics
        )
        front = write_pareto(self.sweep_dir, observations, metrics, self.baseline, self.settings.checkpoint_dir)
        if not final:
            return
        plot_pareto(self.sweep_dir, observations, front, metrics, self.baseline)
        elsewhere = trial_dirs_elsewhere(observations)
        if elsewhere:
            log.warning(
                "%d trial directories are not on this machine (e.g. %s): a Ray trial writes its directory on the "
                "worker that ran it. Their checkpoints are not in pareto.json and keep_checkpoints=pareto cannot "
                "delete them; put hydra.sweep.dir on storage every node shares, or copy them (launchers/README.md, "
                "'Where results land'). The metrics came back with the results: nothing here is missing them.",
                len(elsewhere), elsewhere[0],
            )  # fmt: skip
        if self.settings.keep_checkpoints == KeepCheckpoints.pareto.value and len(observations) >= self.spec.budget:
            if front:
                removed = delete_off_front(observations, front, self.settings.checkpoint_dir)
                log.info("Deleted %d checkpoints off the Pareto front (keep_checkpoints=pareto)", removed)
            else:
                log.warning(
                    "keep_checkpoints=pareto: no completed trial meets the metric thresholds, so the Pareto front "
                    "is empty; every checkpoint was kept"
                )
        log.info(
            "Pareto front: %d of %d observations -> %s", len(front), len(observations), self.sweep_dir / PARETO_JSON
        )
        log.info("%s", front_table(front, metrics))


class FailuresAlikeError(SweepConfigError):
    """The first trials of a run all failed the same way (``first_failures_alike``)."""


def _alike(reason: str | None) -> str:
    """A failure reason with its digits masked: the same error in two trials differs in sizes, steps and paths."""
    return re.sub(r"\d+", "#", reason or "")


def _lost_to_disk(outcome: TrialOutcome) -> bool:
    """A failure ``failure_reason`` filed under ``disk:``: the machine's disk, not the trial's settings."""
    return (outcome.reason or "").startswith(f"{DISK}:")


class Prefetcher:
    """Computes the next suggestion in the background while trials run (asynchronous pools only).

    A GP suggestion takes about a second at tens of observations and several at 200 (SPE beyond
    ``spe_beyond``: a fraction of one); done after a worker frees up, that is idle worker time on
    every trial. Asked while all workers are
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

    def take(self, pending: list[dict[str, Any]]) -> Suggestion:
        if self.future is None:
            return self.driver.suggest(pending)
        future, self.future = self.future, None
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
