"""The sweeper's fault matrix (issue 9): real subprocess sweeps of the stand-in app, a fault
injected, at most one resume, then the same four checks every time:

- every trial observed exactly once (journal and result files);
- the budget respected (no more suggestions than the budget);
- no trial that finished before the fault ran again;
- the result files agree with the journal.

Faults inside the sweep process come from ``tests/sweep_app/faulty_app.py`` (SIGKILL at a chosen
point); SigOpt outages from the fake server; Ray worker deaths and hangs from the app itself.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from fake_sigopt_server import FakeSigOpt
from test_sigopt_api_driver import TOKEN
from test_sigopt_sweeper import LOCAL_RAY, SWEEP_APP, observations, run, runs_per_trial, sweep_env

FAULTY_APP = SWEEP_APP.parent / "faulty_app.py"
BUDGET = 8
SWEEP = [f"hydra.sweeper.budget={BUDGET}", "hydra.sweeper.parallelism=2", "duration=0.1"]


def sweep(sweep_dir, *overrides, app=SWEEP_APP, **env):
    return run([app, "-m", *SWEEP, *overrides], timeout=300, SWEEP_DIR=str(sweep_dir), **env)


def journal_events(sweep_dir, event):
    """The journal's records of ``event``, skipping a line torn by a crash (as the sweeper does)."""
    records = []
    for line in (Path(sweep_dir) / "journal.jsonl").read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record["event"] == event:
            records.append(record)
    return records


def observed_before(sweep_dir) -> set[int]:
    if not (Path(sweep_dir) / "journal.jsonl").is_file():
        return set()
    return {record["trial"] for record in journal_events(sweep_dir, "observation")}


def check_sweep(sweep_dir, finished_before=frozenset(), budget=BUDGET):
    """The matrix's four checks; returns the observation records by trial."""
    observed = [record["trial"] for record in journal_events(sweep_dir, "observation")]
    assert sorted(observed) == list(range(budget)), "every trial observed exactly once"
    assert len(journal_events(sweep_dir, "suggestion")) == budget, "the budget respected"
    runs = runs_per_trial(sweep_dir)
    assert all(runs.get(trial) == 1 for trial in finished_before), f"finished trials ran again: {runs}"
    records = observations(sweep_dir)
    journaled = {record["trial"]: record for record in journal_events(sweep_dir, "observation")}
    assert [record["trial"] for record in records] == sorted(journaled)
    for record in records:
        expected = journaled[record["trial"]]
        assert (record["status"], record["values"], record["suggestion_id"]) == (
            expected["status"],
            expected["values"],
            expected["suggestion_id"],
        )
    pareto = json.loads((Path(sweep_dir) / "pareto.json").read_text())
    assert pareto["observations"] == budget
    assert pareto["failed"] == sum(record["status"] == "failed" for record in records)
    return {record["trial"]: record for record in records}


# -- defect 2: trial timeout, impossible resource requests -----------------------------------------


def test_a_hung_trial_is_cancelled_after_trial_timeout_and_the_sweep_ends(tmp_path):
    result = sweep(tmp_path / "sweep", "hang_jobs=[1]", "hydra.sweeper.trial_timeout_s=1")
    assert result.returncode == 0, result.stderr[-3000:]
    records = check_sweep(tmp_path / "sweep")
    assert records[1]["status"] == "failed" and records[1]["reason"].startswith("timeout: ")
    assert "trial_timeout_s=1" in records[1]["reason"]
    assert all(records[trial]["status"] == "completed" for trial in records if trial != 1)


def test_a_resource_request_no_ray_node_can_meet_is_a_clear_error_before_any_trial(tmp_path):
    result = sweep(tmp_path / "sweep", *LOCAL_RAY, "+hydra.launcher.ray.remote.num_gpus=4")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "hydra.launcher.ray.remote asks each trial for" in output and "'GPU': 4" in output
    assert "Traceback" not in output
    assert not list((tmp_path / "sweep").glob("*/runs.log")), "no trial ran"


# -- the matrix -----------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["suggestion:3", "running:4", "observation:3", "results:5"])
def test_sigkill_of_the_sweep_process_then_one_resume(tmp_path, point):
    sweep_dir = tmp_path / "sweep"
    killed = sweep(sweep_dir, app=FAULTY_APP, SWEEP_KILL_AT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    finished = observed_before(sweep_dir)
    assert len(finished) < BUDGET
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    check_sweep(sweep_dir, finished)
    assert len(journal_events(sweep_dir, "reported")) == BUDGET, "the optimizer learnt every observation"
    folders = list(sweep_dir.glob("*/runs.log"))
    assert all(len(path.read_text().splitlines()) == 1 for path in folders), "a re-start shares no trial folder"


def test_a_torn_last_journal_line_costs_nothing(tmp_path):
    sweep_dir = tmp_path / "sweep"
    assert sweep(sweep_dir, app=FAULTY_APP, SWEEP_KILL_AT="observation:3").returncode == -signal.SIGKILL
    finished = observed_before(sweep_dir)
    with (sweep_dir / "journal.jsonl").open("a") as journal:
        journal.write('{"event": "observation", "trial": 3, "status": "compl')  # the crash tore it
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "skipping unreadable journal line" in resumed.stdout + resumed.stderr
    check_sweep(sweep_dir, finished)


def test_sigopt_503_bursts_and_dropped_connections(tmp_path):
    sweep_dir = tmp_path / "sweep"
    with FakeSigOpt(TOKEN) as server:
        server.fail("503", times=5)  # longer than the retries: that report waits for the next round
        server.fail("drop")  # SigOpt records an observation, the answer is lost
        server.fail("503", times=2, resource="suggestions")
        server.fail("drop", times=1)
        result = sweep(
            sweep_dir,
            "hydra.sweeper.driver=api",
            "hydra.sweeper.report_retries=3",
            "hydra.sweeper.retry_backoff_s=0.01",
            SIGOPT_API_TOKEN=TOKEN,
            SIGOPT_API_URL=server.url,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert not server.faults, "every planned fault happened"
        assert sorted(o["suggestion"] for o in server.observations) == sorted(
            record["suggestion_id"] for record in journal_events(sweep_dir, "observation")
        ), "SigOpt has each observation exactly once"
        assert not server.open_suggestions
    check_sweep(sweep_dir)
    assert len(journal_events(sweep_dir, "reported")) == BUDGET


def test_ray_worker_killed_mid_trial_is_rerun_and_a_hung_trial_times_out(tmp_path):
    sweep_dir = tmp_path / "sweep"
    # the timeout counts from submission, so Ray's worker start-up is in it: slow on a loaded 2-core machine
    result = sweep(sweep_dir, *LOCAL_RAY, "exit_jobs=[3]", "hang_jobs=[5]", "hydra.sweeper.trial_timeout_s=40")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = check_sweep(sweep_dir)
    assert records[3]["status"] == "completed" and runs_per_trial(sweep_dir)[3] == 2, "requeued, not observed"
    assert [record["trial"] for record in journal_events(sweep_dir, "requeued")] == [3]
    assert "WorkerCrashedError" in journal_events(sweep_dir, "requeued")[0]["reason"]
    assert records[5]["status"] == "failed" and records[5]["reason"].startswith("timeout: ")
    assert [trial for trial, record in records.items() if record["status"] == "failed"] == [5]


def test_repeated_infrastructure_failures_trip_the_breaker_then_resume_finishes(tmp_path):
    sweep_dir = tmp_path / "sweep"
    broken = sweep(
        sweep_dir,
        *LOCAL_RAY,
        "hydra.sweeper.max_infrastructure_failures=3",
        SWEEP_APP_BROKEN_WORKER="1",  # every trial's worker dies: a broken worker image
    )
    output = broken.stdout + broken.stderr
    assert broken.returncode == 1, output[-3000:]
    assert "trials in a row were lost to infrastructure failures" in output and "WorkerCrashedError" in output
    assert "hydra.sweeper.resume=true" in output and "Traceback" not in output
    assert not observed_before(sweep_dir), "no budget spent on a broken worker"
    resumed = sweep(sweep_dir, *LOCAL_RAY, "hydra.sweeper.max_infrastructure_failures=3", "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    records = check_sweep(sweep_dir)
    assert all(record["status"] == "completed" for record in records.values())


# -- round two (issue 22): a second process, the disk, Ctrl-C, hand-edited journals, attempt folders --


def start_sweep(sweep_dir, *overrides, **env):
    """A sweep of the stand-in app in the background (its output in sweep_dir/../NAME.log)."""
    log_path = Path(sweep_dir).parent / f"sweep-{time.monotonic_ns()}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(SWEEP_APP), "-m", *SWEEP, *overrides],
            cwd=REPO_ROOT, env=sweep_env(SWEEP_DIR=str(sweep_dir), **env), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    process.log_path = log_path
    return process


def output_of(process):
    return process.log_path.read_text()


def wait_for_event(sweep_dir, event, count=1, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (Path(sweep_dir) / "journal.jsonl").is_file() and len(journal_events(sweep_dir, event)) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {count} {event!r} record(s) in {timeout} s")


def test_a_second_process_on_a_running_sweep_is_refused_naming_the_holder(tmp_path):
    sweep_dir = tmp_path / "sweep"
    first = start_sweep(sweep_dir, "duration=1.0")
    try:
        wait_for_event(sweep_dir, "started")
        second = sweep(sweep_dir, "duration=1.0", "hydra.sweeper.resume=true")
    finally:
        first.wait(timeout=300)
    output = second.stdout + second.stderr
    assert second.returncode == 2, output[-3000:]
    assert f"another sweep (pid {first.pid} on " in output and "Traceback" not in output
    assert first.returncode == 0, output_of(first)[-3000:]
    check_sweep(sweep_dir)
    assert set(runs_per_trial(sweep_dir).values()) == {1}, "no trial trained twice"


def test_a_trial_failing_on_a_full_disk_runs_again_and_is_not_reported_as_failed(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = sweep(sweep_dir, "disk_jobs=[2]")
    assert result.returncode == 0, result.stderr[-3000:]
    records = check_sweep(sweep_dir)
    assert all(record["status"] == "completed" for record in records.values())
    (requeued,) = journal_events(sweep_dir, "requeued")
    assert requeued["trial"] == 2 and requeued["reason"].startswith("disk: OSError: [Errno 28] No space left")
    assert str(sweep_dir / "2" / "model.safetensors") in requeued["reason"], "the failing path is named"


def test_a_disk_that_stays_full_stops_the_sweep_with_no_budget_spent(tmp_path):
    sweep_dir = tmp_path / "sweep"
    full = sweep(sweep_dir, SWEEP_APP_DISK_FULL="1")
    output = full.stdout + full.stderr
    assert full.returncode == 1, output[-3000:]
    assert "the disk failed trial" in output and "No space left on device" in output and "Traceback" not in output
    assert not observed_before(sweep_dir), "nothing reported to the optimizer as the trials' fault"
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert all(record["status"] == "completed" for record in check_sweep(sweep_dir).values())


@pytest.mark.parametrize("launcher", ["basic", pytest.param("ray", marks=pytest.mark.slow)])
def test_ctrl_c_twice_in_one_trial_leaves_it_pending_not_failed(tmp_path, launcher):
    """Each Ctrl-C: exit 130 with one line and the resume hint; the trials in flight are no attempts."""
    sweep_dir = tmp_path / "sweep"
    extra = ["duration=2.0", *(LOCAL_RAY if launcher == "ray" else [])]
    for resume in [[], ["hydra.sweeper.resume=true"]]:
        started_before = len(journal_events(sweep_dir, "started")) if resume else 0
        process = start_sweep(sweep_dir, *extra, *resume)
        try:
            wait_for_event(sweep_dir, "started", count=started_before + 1)
            time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)
        output = output_of(process)
        assert process.returncode == 130, output[-3000:]
        assert "interrupted (SIGINT)" in output and "hydra.sweeper.resume=true" in output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output
        assert journal_events(sweep_dir, "interrupted"), "the trials in flight were journaled as interrupted"
    finished = sweep(sweep_dir, *extra, "hydra.sweeper.resume=true")
    assert finished.returncode == 0, finished.stderr[-3000:]
    records = check_sweep(sweep_dir)
    assert all(record["status"] == "completed" for record in records.values()), "no trial failed 'crashed'"


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """One finished 8-trial sweep of the stand-in app; tests edit copies of it."""
    sweep_dir = tmp_path_factory.mktemp("finished") / "sweep"
    assert sweep(sweep_dir).returncode == 0
    return sweep_dir


def copy_of(finished, tmp_path):
    import shutil

    return Path(shutil.copytree(finished, tmp_path / "sweep"))


@pytest.mark.parametrize(
    ("event", "old", "new", "message"),
    [
        ("suggestion", '"number": 3', '"number": "3"', "suggestion field number='3' must be an integer trial number"),
        ("observation", '"values": {"exact": ', '"values": {"exact": "3.125", "was": ', "observation field values.exact='3.125' must be a number"),
        ("observation", '"status": "completed"', '"status": "done"', "observation status='done' must be"),
    ],
)  # fmt: skip
def test_a_hand_edited_journal_is_one_clear_error_naming_its_line(tmp_path, finished_sweep, event, old, new, message):
    sweep_dir = copy_of(finished_sweep, tmp_path)
    journal = sweep_dir / "journal.jsonl"
    lines = journal.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if f'"event": "{event}"' in line and old in line)
    lines[index] = lines[index].replace(old, new, 1)
    journal.write_text("\n".join(lines) + "\n")
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 2, output[-3000:]
    assert f"journal.jsonl:{index + 1}: {message}" in output and "Traceback" not in output


def test_a_duplicated_observation_is_skipped_with_a_warning(tmp_path, finished_sweep):
    sweep_dir = copy_of(finished_sweep, tmp_path)
    journal = sweep_dir / "journal.jsonl"
    lines = journal.read_text().splitlines()
    observation = next(line for line in lines if '"event": "observation"' in line and '"trial": 3' in line)

    journal.write_text("\n".join([*lines, observation]) + "\n")
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "a second observation of trial 3; keeping the first" in resumed.stdout + resumed.stderr
    assert [record["trial"] for record in observations(sweep_dir)] == list(range(BUDGET)), "the result files hold it once"


def test_a_completely_full_disk_is_one_line_naming_the_first_failing_path(tmp_path):
    """The journal append that fails first is what the user reads; the failing result rewrite after it is not."""
    sweep_dir = tmp_path / "sweep"
    full = sweep(sweep_dir, app=FAULTY_APP, SWEEP_DISK_FULL_AT="6")
    output = full.stdout + full.stderr
    assert full.returncode == 1, output[-3000:]
    assert f"cannot write {sweep_dir / 'journal.jsonl'}: No space left on device" in output
    assert "Traceback" not in output
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    check_sweep(sweep_dir)
