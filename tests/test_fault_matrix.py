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
from pathlib import Path

import pytest
from fake_sigopt_server import FakeSigOpt
from test_sigopt_api_driver import TOKEN
from test_sigopt_sweeper import LOCAL_RAY, SWEEP_APP, journal_events, observations, run, runs_per_trial

FAULTY_APP = SWEEP_APP.parent / "faulty_app.py"
BUDGET = 8
SWEEP = [f"hydra.sweeper.budget={BUDGET}", "hydra.sweeper.parallelism=2", "duration=0.1"]


def sweep(sweep_dir, *overrides, app=SWEEP_APP, **env):
    return run([app, "-m", *SWEEP, *overrides], timeout=300, SWEEP_DIR=str(sweep_dir), **env)


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
