"""Issue 36, faults round three: each fault a script found, as a test of what happens now."""

from __future__ import annotations

import csv
import json
import math
import os
import socket
from dataclasses import asdict

import numpy as np
import pytest

from hydra_plugins.sigopt_sweeper._metrics import Metric
from hydra_plugins.sigopt_sweeper._trial import NON_FINITE_LOSS, Trial, TrialOutcome, failure_category, to_observation

METRICS = (Metric("exact", "maximize", "optimize"), Metric("num_params", "minimize", "optimize"),
           Metric("inference_time", "minimize", "store"))  # fmt: skip


def outcome(**returned: float) -> TrialOutcome:
    return TrialOutcome(Trial(3, "s3", {"lr": 1e-4}), ok=True, value=returned, started_at=1.0, finished_at=2.0)


def journal_line(observation) -> str:
    return json.dumps(asdict(observation), allow_nan=False)  # what the journal writes: strict JSON


def test_a_non_finite_unused_value_is_journaled_as_its_name_and_the_trial_completes():
    observation, error = to_observation(outcome(exact=50.0, num_params=1e6, inference_time=3.0, val_loss=math.nan), METRICS)
    assert error is None and observation.status == "completed"
    assert observation.metrics["val_loss"] == "nan"
    assert '"val_loss": "nan"' in journal_line(observation)


@pytest.mark.parametrize("name", ["exact", "inference_time"])
def test_a_non_finite_optimized_or_stored_metric_fails_the_trial_as_non_finite_and_is_journaled(name):
    values = {"exact": 50.0, "num_params": 1e6, "inference_time": 3.0, name: math.inf}
    observation, error = to_observation(outcome(**values), METRICS)
    assert error is None and observation.status == "failed"
    assert observation.reason.startswith(f"{NON_FINITE_LOSS}: non-finite ['{name}']")
    assert journal_line(observation)


def test_diverged_logits_are_a_non_finite_loss_not_a_file_write_error():
    from lightning_distill.errors import NonFiniteLossError
    from lightning_distill.squad.postprocess import score_logits

    start = [np.array([0.0, np.nan, 1.0])]
    with pytest.raises(NonFiniteLossError, match="1 of 2 logit rows are not finite") as raised:
        score_logits([], [], start, [np.zeros(3)])
    assert failure_category(raised.value) == NON_FINITE_LOSS


@pytest.mark.parametrize("directory", ["/tmp/sweeps/plain-1.0", "/tmp/my sweeps/a", "/tmp/a,b/c", "/tmp/it's (v2)/x=1", "/tmp/back\\slash", "/tmp/q\\'x\\"])
def test_the_printed_resume_override_survives_the_shell_and_hydra(directory):
    import shlex

    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hydra_plugins.sigopt_sweeper.api import shell_override

    words = shlex.split(f"python train.py -m hydra.sweeper.resume=true {shell_override('hydra.sweep.dir', directory)}")
    assert len(words) == 5
    override = OverridesParser.create().parse_override(words[-1])
    assert (override.key_or_group, override.value()) == ("hydra.sweep.dir", directory)


# --- 3. resume checks what the trials read ---------------------------------------------------------------------------

def test_the_data_fingerprint_follows_content_not_paths(tmp_path, squad_dir):
    import shutil

    from lightning_distill.training.sweep_inputs import data_fingerprint

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(squad_dir / "train-v2.0.first10.json", tmp_path / name / "train.json")
    same = [data_fingerprint({"train_files": [str(tmp_path / name / "train.json")], "eval_files": None,
                              "hub_dataset": "squad_v2", "hub_eval_split": "validation"}) for name in ("a", "b")]  # fmt: skip
    assert same[0] == same[1] and "eval:hub:squad_v2:validation" in same[0]
    edited = tmp_path / "b" / "train.json"
    edited.write_text(edited.read_text().replace("Beyonc", "Beyonx", 1))
    assert data_fingerprint({"train_files": [str(edited)]}) != same[0]


def test_a_resume_with_other_inputs_is_refused_naming_them_and_an_old_journal_is_resumed(tmp_path, caplog):
    from hydra_plugins.sigopt_sweeper._journal import Journal, sweep_header
    from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
    from hydra_plugins.sigopt_sweeper.api import ExperimentSpec, parse_metrics, parse_search_space

    spec = ExperimentSpec("t", parse_search_space({"lr": "interval(0.1, 1.0)"}, []),
                          parse_metrics([{"name": "exact", "objective": "maximize", "strategy": "optimize"}]), 4, 1)  # fmt: skip
    journal = Journal(tmp_path)
    journal.write_header(sweep_header("lite", "1", spec, {"data": "d1", "teacher": "t1"}))
    assert journal.state_to_resume(spec, "lite", resume=True, inputs={"data": "d1", "teacher": "t1"}).header
    with pytest.raises(SweepConfigError, match=r"hydra.sweeper.inputs.data: journaled 'd1', now 'd2'") as refused:
        journal.state_to_resume(spec, "lite", resume=True, inputs={"data": "d2", "teacher": "t1"})
    assert "inputs.teacher" not in str(refused.value)
    old = Journal(tmp_path / "old")
    old.path.parent.mkdir()
    header = sweep_header("lite", "1", spec)
    header.pop("inputs")
    old.write_header(header)
    assert old.state_to_resume(spec, "lite", resume=True, inputs={"data": "d1"}).header
    assert "predates hydra.sweeper.inputs" in caplog.text


def test_a_resume_with_another_space_names_the_parameter(tmp_path):
    from hydra_plugins.sigopt_sweeper._journal import Journal, sweep_header
    from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
    from hydra_plugins.sigopt_sweeper.api import ExperimentSpec, parse_metrics, parse_search_space

    metrics = parse_metrics([{"name": "exact", "objective": "maximize", "strategy": "optimize"}])
    first = ExperimentSpec("t", parse_search_space({"lr": "interval(0.1, 1.0)", "wd": "interval(0, 1)"}, []), metrics, 4, 1)
    other = ExperimentSpec("t", parse_search_space({"lr": "interval(0.1, 2.0)", "bs": "choice(8, 16)"}, []), metrics, 4, 1)
    journal = Journal(tmp_path)
    journal.write_header(sweep_header("lite", "1", first))
    with pytest.raises(SweepConfigError, match=r"hydra.sweeper.params differ .*bs: added; lr: .* -> .*; wd: removed"):
        journal.state_to_resume(other, "lite", resume=True)


def test_a_smoke_sweep_resumed_on_other_data_is_refused_naming_the_data(tmp_path, squad_dir):
    import shutil

    from test_sigopt_sweeper import smoke_sweep

    sweep_dir, cache = tmp_path / "sweep", tmp_path / "cache"
    first = smoke_sweep(sweep_dir, cache, "hydra.sweeper.budget=1", "hydra.sweeper.parallelism=1")
    assert first.returncode == 0, first.stderr[-2000:]
    other = tmp_path / "other-data"
    shutil.copytree(squad_dir, other)
    edited = other / "dev-v2.0.splitB.json"
    edited.write_text(edited.read_text().replace('"question": "', '"question": "So, ', 1))
    resumed = smoke_sweep(sweep_dir, cache, "hydra.sweeper.budget=2", "hydra.sweeper.parallelism=1",
                          "hydra.sweeper.resume=true", f"paths.squad_dir={other}")  # fmt: skip
    assert resumed.returncode == 2, resumed.stderr[-2000:]
    said = resumed.stdout + resumed.stderr
    assert "hydra.sweeper.inputs.data: journaled" in said and "eval:" in said, said[-2000:]
    assert len(observations_of(sweep_dir)) == 1  # nothing ran on the other data


def observations_of(sweep_dir):
    return [json.loads(line) for line in (sweep_dir / "observations.jsonl").read_text().splitlines()]


# --- 1. basic-launcher batches are journaled trial by trial ------------------------------------------------------------

def test_a_sweep_killed_during_a_batchs_second_trial_keeps_the_first(tmp_path):
    import signal

    from test_fault_matrix import FAULTY_APP, check_sweep, observed_before, sweep

    sweep_dir = tmp_path / "sweep"
    killed = sweep(sweep_dir, app=FAULTY_APP, SWEEP_KILL_AT="running:2")  # parallelism 2: trials 0 and 1 one batch
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert observed_before(sweep_dir) == {0}, "the batch's first trial is journaled as soon as it ends"
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    check_sweep(sweep_dir, {0})  # trial 0 ran once
    assert {row["node"] for row in csv.DictReader((sweep_dir / "observations.csv").open())} == {socket.gethostname()}


def test_a_batch_mate_that_never_started_is_not_counted_as_started(tmp_path):
    import signal

    from test_fault_matrix import FAULTY_APP, check_sweep, journal_events, sweep

    sweep_dir = tmp_path / "sweep"
    for attempt in range(2):  # the batch's first trial kills the sweep twice
        resume = ["hydra.sweeper.resume=true"] if attempt else []
        killed = sweep(sweep_dir, *resume, app=FAULTY_APP, SWEEP_KILL_AT="running:1")
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    started = [record["trial"] for record in journal_events(sweep_dir, "started")]
    assert started == [0, 0], "trial 1 never started"
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    records = check_sweep(sweep_dir)
    assert records[0]["status"] == "failed" and "started 2 times" in records[0]["reason"]
    assert records[1]["status"] == "completed"


# --- 7. the budget changed on resume is said -----------------------------------------------------------------------

def test_a_budget_changed_on_resume_is_said_and_one_below_the_journal_names_the_trials_left_out(tmp_path):
    import signal

    from test_fault_matrix import FAULTY_APP, journal_events
    from test_sigopt_sweeper import SWEEP_APP, run

    sweep_dir = tmp_path / "sweep"

    def sweep(budget, *extra, app=SWEEP_APP, **env):
        return run([app, "-m", f"hydra.sweeper.budget={budget}", "hydra.sweeper.parallelism=2", "duration=0.1", *extra],
                   timeout=300, SWEEP_DIR=str(sweep_dir), **env)  # fmt: skip

    killed = sweep(4, app=FAULTY_APP, SWEEP_KILL_AT="running:3")  # trials 0, 1 observed; 2 killed, 3 never started
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    lower = sweep(3, "hydra.sweeper.resume=true")
    said = lower.stdout + lower.stderr
    assert lower.returncode == 0, said[-3000:]
    assert "hydra.sweeper.budget=3 on resume is below the 2 observations and 2 pending trials journaled (budget 4): " \
           "1 pending trial(s) will not run. Resume with hydra.sweeper.budget=4 or more" in said
    assert sorted(record["trial"] for record in journal_events(sweep_dir, "observation")) == [0, 1, 2]
    higher = sweep(6, "hydra.sweeper.resume=true")
    said = higher.stdout + higher.stderr
    assert higher.returncode == 0, said[-3000:]
    assert "hydra.sweeper.budget changed on resume: journaled 4, now 6; the sweep runs to 6 observations" in said
    assert sorted(record["trial"] for record in journal_events(sweep_dir, "observation")) == list(range(6))


# --- 6. a completely full disk, first felt by Hydra's own writes ------------------------------------------------------

def test_a_full_disk_first_felt_by_hydras_config_save_is_one_line_naming_a_path(tmp_path):
    from test_fault_matrix import FAULTY_APP, check_sweep, sweep

    sweep_dir = tmp_path / "sweep"
    full = sweep(sweep_dir, app=FAULTY_APP, SWEEP_DISK_FULL_EVERYWHERE_AT="5")
    output = full.stdout + full.stderr
    assert full.returncode == 1, output[-3000:]
    assert "Traceback" not in output and "--- Logging error ---" not in output, output[-3000:]
    assert "cannot log to" in output and output.count("cannot log to") <= 3  # once per log file, not per line
    stopped = [line for line in output.splitlines() if "sigopt sweeper stopped" in line]
    assert stopped and f"cannot write {sweep_dir}" in stopped[-1] and "No space left on device" in stopped[-1]
    resumed = sweep(sweep_dir, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    records = check_sweep(sweep_dir)
    assert all(record["status"] == "completed" for record in records.values()), "the disk's fault is no trial's"


# --- 4. a hung child process -------------------------------------------------------------------------------------------

def test_a_forked_child_does_not_keep_the_sweep_lock_after_its_parent_dies(tmp_path):
    """An orphaned DataLoader worker of a killed sweep shared the lock's file (flock is per open file), so the resume
    was refused naming a dead pid. A forked child now drops its copy at once."""
    import signal
    import subprocess
    import sys
    import time

    from hydra_plugins.sigopt_sweeper._lock import SweepLock

    script = ("import os, signal, sys, time\n"
              "from hydra_plugins.sigopt_sweeper._lock import SweepLock\n"
              "lock = SweepLock(sys.argv[1]); lock.acquire()\n"
              "child = os.fork()\n"
              "if child == 0:\n"
              "    null = os.open(os.devnull, os.O_RDWR); os.dup2(null, 1); os.dup2(null, 2)\n"
              "    time.sleep(60); os._exit(0)\n"  # the orphan, alive after its parent
              "print(child, flush=True); os.kill(os.getpid(), signal.SIGKILL)\n")  # fmt: skip
    killed = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=False)
    orphan = int(killed.stdout.split()[0])
    try:
        time.sleep(0.2)
        lock = SweepLock(tmp_path)
        lock.acquire()  # was: SweepLockedError naming the dead parent
        lock.release()
    finally:
        os.kill(orphan, signal.SIGKILL)


@pytest.mark.parametrize("stop", ["timeout", "SIGINT"])
def test_a_trial_with_a_stopped_child_process_ends_and_so_does_the_sweep(tmp_path, stop):
    """A hung DataLoader worker (SIGSTOP): the trial past trial_timeout_s, or the sweep on Ctrl-C, ends, its stopped
    child is killed, and the process exits (it hung forever in multiprocessing's exit join)."""
    import signal
    import subprocess
    import sys
    import time

    from test_fault_matrix import journal_events
    from test_sigopt_sweeper import SWEEP_APP, sweep_env

    sweep_dir = tmp_path / "sweep"
    args = [sys.executable, str(SWEEP_APP), "-m", "hydra.sweeper.budget=2", "hydra.sweeper.parallelism=1",
            "duration=0.1", "stopped_child_jobs=[0]", f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    if stop == "timeout":
        args.append("hydra.sweeper.trial_timeout_s=3")
    process = subprocess.Popen(args, env=sweep_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if stop == "SIGINT":
        deadline = time.time() + 120
        while not list(sweep_dir.glob("0/runs.log")) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the sweep process did not exit: a stopped child held it")
    assert "stopped 1 child process(es) the trial left behind" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    if stop == "timeout":
        assert process.returncode == 0, output[-3000:]
        reasons = {record["trial"]: record.get("reason") for record in journal_events(sweep_dir, "observation")}
        assert reasons[0].startswith("timeout") and reasons[1] is None
    else:
        assert process.returncode == 128 + signal.SIGINT, output[-3000:]
        assert "hydra.sweeper.resume=true" in output


def test_a_ray_sweep_waiting_on_a_hung_trial_says_so_periodically(tmp_path):
    """With default settings a hung Ray trial waited forever in silence; now the wait logs the trials in flight."""
    from test_sigopt_sweeper import LOCAL_RAY, SWEEP_APP, run

    sweep_dir = tmp_path / "sweep"
    result = run([SWEEP_APP, "-m", *LOCAL_RAY, "hydra.sweeper.budget=2", "hydra.sweeper.parallelism=2", "duration=0.1",
                  "hang_jobs=[1]", "hydra.sweeper.waiting_log_s=2", "hydra.sweeper.trial_timeout_s=12"],
                 timeout=300, SWEEP_DIR=str(sweep_dir))  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert output.count("waiting on trials 1 (") >= 2, output[-3000:]
    rows = list(csv.DictReader((sweep_dir / "observations.csv").open()))
    completed = [row for row in rows if row["status"] == "completed"]
    assert completed and all(row["node"].count("/") == 1 for row in completed), rows  # <ip>/<Ray node id> (issue 36)
