"""The sweep loop under faults, in process: a scripted trial pool and optimizer stand in for Ray
and SigOpt, so each defect of issue 9 is one fast, exact scenario (the subprocess sweeps of the
fault matrix are in test_fault_matrix.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import numpy as np
import pytest
from omegaconf import OmegaConf

from hydra_plugins.sigopt_sweeper._experiment import ExperimentSpec, OptimizerError, Suggestion
from hydra_plugins.sigopt_sweeper._journal import Journal, sweep_header
from hydra_plugins.sigopt_sweeper._settings import read_settings
from hydra_plugins.sigopt_sweeper._sweep import RunningSweep
from hydra_plugins.sigopt_sweeper._trial import Trial, TrialOutcome
from hydra_plugins.sigopt_sweeper.api import parse_metrics, parse_search_space
from hydra_plugins.sigopt_sweeper.config import SigOptSweeperConf

SPACE = parse_search_space({"width": "int(interval(1, 8))", "quality": "interval(0.0, 1.0)"})
METRICS = parse_metrics(
    [
        {"name": "exact", "objective": "maximize", "threshold": 50.0},
        {"name": "num_params", "objective": "minimize"},
    ]
)


def settings(**overrides):
    conf = OmegaConf.structured(SigOptSweeperConf)
    conf.params = None
    metrics = [metric.to_sigopt() for metric in METRICS]
    conf.merge_with({"metrics": metrics, "budget": 6, "parallelism": 2, "seed": 0, **overrides})
    return read_settings(conf)


def metrics_of(trial: Trial) -> dict[str, float]:
    return {"exact": 100.0 * trial.assignments["quality"], "num_params": 1000.0 * trial.assignments["width"]}


class ScriptedPool:
    """Trials finish in submission order, ``per_wait`` at a time; ``result(trial, attempt)`` says how."""

    asynchronous = True

    def __init__(self, result: Callable[[Trial, int], TrialOutcome] | None = None, per_wait: int = 2) -> None:
        self.result = result or (lambda trial, attempt: TrialOutcome(trial, True, metrics_of(trial)))
        self.per_wait = per_wait
        self.running: list[Trial] = []
        self.starts: dict[int, int] = {}
        self.closed_with: list[int] | None = None
        self.on_start: Callable[[Trial], None] = lambda trial: None  # the sweep sets it (journals the start)

    def has_room(self, in_flight: int) -> bool:
        return in_flight < 2

    def submit(self, trial: Trial) -> None:  # asynchronous, as Ray: a submitted trial has started
        self.starts[trial.number] = self.starts.get(trial.number, 0) + 1
        self.on_start(trial)
        self.running.append(trial)

    def wait(self) -> list[TrialOutcome]:
        done, self.running = self.running[: self.per_wait], self.running[self.per_wait :]
        return [self.result(trial, self.starts[trial.number]) for trial in done]

    def close(self) -> None:
        self.closed_with = [trial.number for trial in self.running]


class ScriptedDriver:
    """Suggests grid points in order; ``observe`` raises the errors queued in ``report_errors``."""

    name = "lite"
    prefetch = False

    def __init__(self) -> None:
        self.count = 0
        self.reported: list[int] = []
        self.report_errors: list[Exception] = []

    def suggest(self, pending):
        self.count += 1
        return Suggestion(f"s-{self.count}", {"width": 1 + self.count % 8, "quality": (self.count % 10) / 10})

    def observe(self, observation):
        if self.report_errors:
            raise self.report_errors.pop(0)
        self.reported.append(observation.trial)


def running_sweep(tmp_path, pool=None, driver=None, **overrides) -> RunningSweep:
    conf = settings(**overrides)
    spec = ExperimentSpec("test", SPACE, METRICS, conf.budget, conf.parallelism)
    journal = Journal(tmp_path)
    driver = driver or ScriptedDriver()
    state = journal.state_to_resume(spec, driver.name, resume=conf.resume)
    if state.header is None:
        journal.write_header(sweep_header(driver.name, "lite", spec))
    return RunningSweep.resumed(conf, spec, driver, pool or ScriptedPool(), journal, state)


def events(tmp_path, event):
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["event"] == event]


# -- defect 1: one error while reporting ----------------------------------------------------------


def test_a_failed_report_does_not_end_the_sweep_nor_lose_the_other_outcomes(tmp_path, caplog):
    driver = ScriptedDriver()
    driver.report_errors = [ConnectionError("SigOpt answered 503 five times")]
    pool = ScriptedPool()
    with caplog.at_level(logging.WARNING):
        observations = running_sweep(tmp_path, pool, driver).run()
    assert [observation.trial for observation in observations] == list(range(6))
    assert sorted(record["trial"] for record in events(tmp_path, "observation")) == list(range(6))
    assert sorted(driver.reported) == list(range(6)), "the failed report was retried later"
    assert sorted(record["trial"] for record in events(tmp_path, "reported")) == list(range(6))
    assert pool.closed_with == [], "no running trial was cancelled"
    assert "reporting its observation failed" in caplog.text


def test_a_report_still_failing_at_the_end_stays_unreported_for_resume(tmp_path):
    driver = ScriptedDriver()
    driver.report_errors = [ConnectionError("down")] * 100
    running_sweep(tmp_path, driver=driver).run()
    assert len(events(tmp_path, "observation")) == 6 and not events(tmp_path, "reported")
    driver = ScriptedDriver()
    resumed = running_sweep(tmp_path, driver=driver, resume=True)
    assert resumed.unreported == set(range(6))
    resumed.run()
    assert sorted(driver.reported) == list(range(6))


class Refused(Exception):
    status_code = 400  # what the SigOpt client carries for a definite refusal


class RefusingDriver(ScriptedDriver):
    """Refuses trial 0's observation every time, as SigOpt would a malformed one."""

    def observe(self, observation):
        if observation.trial == 0:
            raise Refused("HTTP 400: the suggestion is closed")
        super().observe(observation)


def test_a_refused_report_does_not_hold_back_the_others(tmp_path, caplog):
    driver = RefusingDriver()
    with caplog.at_level(logging.WARNING):
        running_sweep(tmp_path, driver=driver).run()
    assert sorted(driver.reported) == list(range(1, 6)), "the later observations were reported"
    assert sorted(record["trial"] for record in events(tmp_path, "reported")) == list(range(1, 6))
    assert "refused: retried on resume" in caplog.text
    driver = ScriptedDriver()
    resumed = running_sweep(tmp_path, driver=driver, resume=True)
    assert resumed.unreported == {0}
    resumed.run()
    assert driver.reported == [0]


class FailingSuggestions(ScriptedDriver):
    """The optimizer's computation fails from the ``fail_at``-th suggestion on."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def suggest(self, pending):
        if self.count + 1 >= self.fail_at:
            raise np.linalg.LinAlgError("Matrix is not positive definite")
        return super().suggest(pending)


def test_an_optimizer_failure_stops_the_sweep_after_journaling_the_trials_in_flight(tmp_path):
    pool = ScriptedPool(per_wait=1)
    with pytest.raises(OptimizerError, match="could not suggest trial .*: Matrix is not positive definite"):
        running_sweep(tmp_path, pool, FailingSuggestions(fail_at=4)).run()
    assert pool.closed_with == [], "no running trial was cancelled"
    assert sorted(record["trial"] for record in events(tmp_path, "observation")) == [0, 1, 2]
    pool = ScriptedPool()
    resumed = running_sweep(tmp_path, pool, ScriptedDriver(), resume=True)
    assert len(resumed.run()) == 6
    assert 0 not in pool.starts and 2 not in pool.starts, "no finished trial ran again"


def test_a_non_numeric_metric_is_a_failed_trial_not_a_crash(tmp_path):
    def result(trial, attempt):
        values = metrics_of(trial)
        if trial.number == 0:
            values["exact"] = "n/a"
        return TrialOutcome(trial, True, values)

    observations = running_sweep(tmp_path, ScriptedPool(result)).run()
    assert len(observations) == 6
    assert observations[0].failed and observations[0].reason.startswith("bad_metrics: trial 0: exact='n/a'")
    assert not observations[1].failed


@pytest.mark.parametrize("status", [503, None])
def test_api_driver_retries_5xx_and_lost_connections(status, monkeypatch):
    from sigopt.exception import ApiException, ConnectionException

    from hydra_plugins.sigopt_sweeper._api_driver import ApiDriver

    driver = ApiDriver(ExperimentSpec("t", SPACE, METRICS, 6, 2), "token", token_env="T", api_url=None, project=None)
    driver.backoff_s = 0.0
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ApiException({"message": "down"}, status) if status else ConnectionException("reset")
        return "ok"

    assert driver._retrying("test", flaky) == "ok" and len(calls) == 3
    calls.clear()

    def refused():
        calls.append(1)
        raise ApiException({"message": "bad"}, 400)

    with pytest.raises(ApiException):
        driver._retrying("test", refused)
    assert len(calls) == 1, "a 4xx is a definite answer: not retried"


# -- defect 3: a trial that crashes the sweep process blocks every resume -------------------------


class SweepCrash(BaseException):
    """The sweep process dying (SIGKILL, segfault in the launcher) while this trial runs."""


def crashing_pool(crash_trial: int) -> ScriptedPool:
    def result(trial, attempt):
        if trial.number == crash_trial:
            raise SweepCrash
        return TrialOutcome(trial, True, metrics_of(trial))

    return ScriptedPool(result)


def test_a_trial_that_crashes_the_sweep_is_failed_after_max_attempts(tmp_path):
    for resume in (False, True):
        with pytest.raises(SweepCrash):
            running_sweep(tmp_path, crashing_pool(crash_trial=1), resume=resume).run()
    assert [record["trial"] for record in events(tmp_path, "started")].count(1) == 2
    observations = running_sweep(tmp_path, crashing_pool(crash_trial=1), resume=True).run()
    assert [observation.trial for observation in observations] == list(range(6))
    assert observations[1].failed and observations[1].reason.startswith("crashed: started 2 times")
    assert "hydra.sweeper.max_attempts=2" in observations[1].reason
    assert len(events(tmp_path, "suggestion")) == 6


# -- defect 4: infrastructure failures are not properties of the suggestion -----------------------


def ray_error(name: str, module: str = "ray.exceptions") -> BaseException:
    return type(name, (RuntimeError,), {"__module__": module})("the worker died")


ISSUE_9_RAY_ERRORS = (
    "WorkerCrashedError NodeDiedError ObjectLostError OutOfDiskError RuntimeEnvSetupError OutOfMemoryError"
)


@pytest.mark.parametrize("name", ISSUE_9_RAY_ERRORS.split())
def test_ray_infrastructure_errors_are_recognised_through_the_exception_chain(name):
    from hydra_plugins.sigopt_sweeper._trial import failure_category, is_infrastructure_failure

    try:
        try:
            raise ray_error(name)
        except RuntimeError as inner:
            raise ValueError("task failed") from inner
    except ValueError as error:
        assert is_infrastructure_failure(error)
        assert failure_category(error) == "worker_died"
    owner_died = type("OwnerDiedError", (type(ray_error("ObjectLostError")),), {})("owner died")
    assert is_infrastructure_failure(owner_died), "subclasses count"


def test_cuda_oom_and_non_finite_loss_stay_real_failures():
    import torch

    from hydra_plugins.sigopt_sweeper._trial import failure_category, is_infrastructure_failure

    cuda_oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
    assert not is_infrastructure_failure(cuda_oom) and failure_category(cuda_oom) == "cuda_oom"
    assert not is_infrastructure_failure(ray_error("OutOfMemoryError", module="mylib"))
    assert not is_infrastructure_failure(FloatingPointError("nan loss"))


def infrastructure_failure(trial, attempt):
    return TrialOutcome(trial, False, reason="worker_died: WorkerCrashedError: exit 3", infrastructure=True)


def test_a_trial_lost_to_the_infrastructure_is_requeued_not_observed(tmp_path):
    def result(trial, attempt):
        if trial.number == 2 and attempt == 1:
            return infrastructure_failure(trial, attempt)
        return TrialOutcome(trial, True, metrics_of(trial))

    pool = ScriptedPool(result)
    observations = running_sweep(tmp_path, pool).run()
    assert [observation.trial for observation in observations] == list(range(6))
    assert not any(observation.failed for observation in observations), "the budget went to real trials"
    assert pool.starts[2] == 2 and len(events(tmp_path, "suggestion")) == 6
    assert [record["trial"] for record in events(tmp_path, "requeued")] == [2]


def test_a_trial_lost_to_the_infrastructure_max_attempts_times_is_failed(tmp_path):
    def result(trial, attempt):
        return (
            infrastructure_failure(trial, attempt)
            if trial.number == 0
            else TrialOutcome(trial, True, metrics_of(trial))
        )

    observations = running_sweep(tmp_path, ScriptedPool(result)).run()
    assert [observation.failed for observation in observations] == [True] + [False] * 5
    assert observations[0].reason.startswith("worker_died")


def test_repeated_infrastructure_failures_trip_the_breaker_and_keep_trials_for_resume(tmp_path):
    from hydra_plugins.sigopt_sweeper._trial_pool import InfrastructureError

    with pytest.raises(InfrastructureError, match=r"\d trials in a row .*max_infrastructure_failures=3") as stopped:
        running_sweep(tmp_path, ScriptedPool(infrastructure_failure), max_infrastructure_failures=3).run()
    assert "WorkerCrashedError" in str(stopped.value) and "resume=true" in str(stopped.value)
    assert not events(tmp_path, "observation"), "nothing observed, no budget spent"
    observations = running_sweep(tmp_path, ScriptedPool(), resume=True).run()
    assert [observation.trial for observation in observations] == list(range(6))
    assert not any(observation.failed for observation in observations)
    assert len(events(tmp_path, "suggestion")) == 6


# -- defect 7: api resume re-reports observations and closes stray suggestions --------------------


def test_api_resume_counts_only_definite_answers_and_closes_unjournaled_suggestions():
    from fake_sigopt_server import FakeSigOpt

    from hydra_plugins.sigopt_sweeper._api_driver import ApiDriver
    from hydra_plugins.sigopt_sweeper._trial import COMPLETED, Observation

    spec = ExperimentSpec("t", SPACE, METRICS, 6, 2)
    with FakeSigOpt("token") as server:

        def driver():
            return ApiDriver(spec, "token", token_env="T", api_url=server.url, project=None, retries=1, backoff_s=0.0)

        first = driver()
        experiment = first.start(None)
        journaled = [first.suggest([]) for _ in range(2)]
        first.suggest([])  # created on SigOpt, then the sweep died before journaling it
        observed = [
            Observation(n, s.id, s.assignments, COMPLETED, metrics_of(Trial(n, s.id, s.assignments)))
            for n, s in enumerate(journaled)
        ]
        ids = [s.id for s in journaled]
        first.observe(observed[0])  # trial 0 reported, but the journal's "reported" line was lost

        resumed = driver()
        resumed.start(experiment)
        server.fail("503", times=2)  # SigOpt is down for trial 1's re-report (both tries)
        assert resumed.restore(observed, set(), ids) == [0], "an outage is not taken for 'SigOpt has it'"
        assert len(server.observations) == 1
        assert set(server.open_suggestions) == {ids[1]}, "the unjournaled suggestion was closed"

        again = driver()
        again.start(experiment)
        assert again.restore(observed, {0}, ids) == [1]
        assert [o["suggestion"] for o in server.observations] == ids and not server.open_suggestions


def test_api_report_whose_answer_was_lost_is_found_not_repeated():
    from fake_sigopt_server import FakeSigOpt

    from hydra_plugins.sigopt_sweeper._api_driver import ApiDriver
    from hydra_plugins.sigopt_sweeper._trial import COMPLETED, Observation

    with FakeSigOpt("token") as server:
        driver = ApiDriver(
            ExperimentSpec("t", SPACE, METRICS, 6, 2), "token", token_env="T", api_url=server.url, project=None
        )
        driver.backoff_s = 0.0
        driver.start(None)
        suggestion = driver.suggest([])
        server.fail("drop")  # SigOpt records it, the answer never arrives; the retry is refused
        observation = Observation(
            0, suggestion.id, suggestion.assignments, COMPLETED, {"exact": 1.0, "num_params": 1.0}
        )
        assert driver.observe(observation) == server.observations[0]["id"]
        assert len(server.observations) == 1


# -- defect 6: the resume check -------------------------------------------------------------------


def spec_with(*fixed: str) -> ExperimentSpec:
    space = parse_search_space({"width": "int(interval(1, 8))", "quality": "interval(0.0, 1.0)"}, list(fixed))
    return ExperimentSpec("test", space, METRICS, 6, 2)


def test_resume_refuses_other_fixed_overrides_naming_them(tmp_path):
    from hydra_plugins.sigopt_sweeper._settings import SweepConfigError

    journal = Journal(tmp_path)
    journal.write_header(sweep_header("lite", "lite", spec_with("trainer.max_epochs=3")))
    journal.state_to_resume(spec_with("trainer.max_epochs=3"), "lite", resume=True)
    with pytest.raises(SweepConfigError, match=r"trainer.max_epochs: journaled '3', now '5'"):
        journal.state_to_resume(spec_with("trainer.max_epochs=5"), "lite", resume=True)
    with pytest.raises(SweepConfigError, match=r"trainer.max_epochs: journaled '3', now None"):
        journal.state_to_resume(spec_with(), "lite", resume=True)


def test_resume_refuses_an_unreadable_header(tmp_path):
    from hydra_plugins.sigopt_sweeper._settings import SweepConfigError

    journal = Journal(tmp_path)
    journal.path.write_text('{"event": "sweep", "driver": "api", "experi\n')
    journal.record_suggestion(Trial(0, "s0", {"width": 1, "quality": 0.5}))
    for resume in (True, False):  # the same answer either way: no circle between "pass resume=true" and this
        with pytest.raises(SweepConfigError, match=r"no readable sweep header .* cannot be resumed.*warm_start=\["):
            journal.state_to_resume(spec_with(), "api", resume=resume)


def test_resume_without_a_journal_is_refused_not_a_new_sweep(tmp_path):
    from hydra_plugins.sigopt_sweeper._settings import SweepConfigError

    with pytest.raises(
        SweepConfigError, match=r"hydra.sweeper.resume=true, but .* holds no sweep journal.*hydra.sweep.dir"
    ):
        Journal(tmp_path / "2026-11-28_05-00-00").state_to_resume(spec_with(), "lite", resume=True)


# -- defect 9: keep_checkpoints=pareto with no trial meeting the thresholds ------------------------


def test_keep_checkpoints_pareto_keeps_all_when_no_trial_meets_the_thresholds(tmp_path, caplog):
    def result(trial, attempt):
        output_dir = tmp_path / str(trial.number)
        (output_dir / "student").mkdir(parents=True)
        return TrialOutcome(trial, True, {"exact": 10.0, "num_params": 1.0 + trial.number}, output_dir=str(output_dir))

    with caplog.at_level(logging.WARNING):
        running_sweep(tmp_path, ScriptedPool(result), keep_checkpoints="pareto", checkpoint_dir="student").run()
    assert len(list(tmp_path.glob("*/student"))) == 6
    assert (
        "no completed trial meets the metric thresholds" in caplog.text and "every checkpoint was kept" in caplog.text
    )
