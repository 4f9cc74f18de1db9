"""Hopeless trials stop early (search.early_stopping; lightning_distill/callbacks/hopeless_trial.py).

Through the public entry points: a smoke search whose rule stops every trial (the smoke student learns
nothing, so it is never ``margin`` above answering nothing), a single run with the same rule (never
stopped: the rule is for search trials), the report's line, and the rule's validation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_sigopt_sweeper import journal_events, observations, run, smoke_sweep

from lightning_distill.callbacks.hopeless_trial import HopelessTrialStopping
from lightning_distill.errors import ConfigError

STOP_EVERY_TRIAL = "search.early_stopping={at_fraction: 0.5, probe_questions: 8, margin: 100}"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_a_search_stops_hopeless_trials_and_reports_their_values_at_stop(tmp_path, cache_dir):
    sweep_dir = tmp_path / "sweep"
    result = smoke_sweep(sweep_dir, cache_dir, "hydra.sweeper.budget=4", "hydra.sweeper.parallelism=1", STOP_EVERY_TRIAL)
    assert result.returncode == 0, result.stderr[-3000:]
    records = {record["trial"]: record for record in observations(sweep_dir)}
    assert records[1]["status"] == records[2]["status"] == "failed"  # the injected CUDA OOM and NaN: not stopping
    for number in (0, 3):
        record = records[number]
        assert record["status"] == "completed" and record["reason"].startswith("stopped_early: exact ")
        metrics = record["metrics"]
        assert metrics["stopped_at_step"] < metrics["planned_steps"]
        assert metrics["global_step"] == metrics["stopped_at_step"]  # training ended there ...
        assert set(record["values"]) >= {"exact", "num_params"}  # ... and the student at stop was evaluated
        run_metrics = json.loads((Path(record["output_dir"]) / "metrics.json").read_text())
        assert run_metrics["status"] == "finished"
        assert run_metrics["stopped_early"] == record["reason"]  # on disk too (what the Optuna export reads)
        assert run_metrics["final"]["stopped_at_step"] == metrics["stopped_at_step"]
    journaled = {record["trial"]: record for record in journal_events(sweep_dir, "observation")}
    assert journaled[0]["reason"] == records[0]["reason"]
    report = run(["-m", "lightning_distill.search.report", str(sweep_dir), "--out", str(tmp_path / "report")])
    assert report.returncode == 0, report.stderr[-2000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "Stopped early as hopeless: 2 of 4 trials (values at stop reported); about " in text


def test_a_single_run_or_a_grid_with_the_same_rule_trains_to_the_end(tmp_path, cache_dir):
    """The rule is for search trials: ``python train.py`` and a grid of runs (Hydra's basic sweeper) are wanted whole."""
    run_dir = tmp_path / "run"
    result = run(["train.py", "experiment=smoke", "logger=[]", f"hydra.run.dir={run_dir}", f"paths.cache_dir={cache_dir}",
                  STOP_EVERY_TRIAL])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Early-stopping probe" not in result.stdout + result.stderr
    assert "stopped_early" not in (run_dir / "metrics.json").read_text()
    grid = run(["train.py", "-m", "experiment=smoke", "logger=[]", "seed=0,1", f"hydra.sweep.dir={tmp_path / 'grid'}",
                f"paths.cache_dir={cache_dir}", STOP_EVERY_TRIAL])  # fmt: skip
    assert grid.returncode == 0, grid.stderr[-3000:]
    assert "Early-stopping probe" not in grid.stdout + grid.stderr
    assert all("stopped_early" not in path.read_text() for path in (tmp_path / "grid").glob("*/metrics.json"))


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"at_fraction": 1.0, "probe_questions": 8, "margin": 0.5}, "search.early_stopping.at_fraction=1.0"),
        ({"at_fraction": 0.5, "probe_questions": 0, "margin": 0.5}, "search.early_stopping.probe_questions=0"),
        ({"at_fraction": 0.5, "probe_questions": 8, "margin": -1}, "search.early_stopping.margin=-1"),
        ({"at_fraction": 0.5, "probe_questions": 8}, "search.early_stopping lacks ['margin']"),
        ({"at_fraction": 0.5, "probe_questions": 8, "margin": 1, "patience": 2}, "unknown keys ['patience']"),
        ("often", "search.early_stopping='often' must be null (off) or a mapping"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_key(rule, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        HopelessTrialStopping(rule, monitor="best_f1")


def test_no_rule_means_off():
    callback = HopelessTrialStopping(None, monitor="best_f1")
    assert not callback.active and callback.result() == {}
