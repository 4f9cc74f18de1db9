"""``logger=sigopt``: each run a SigOpt training run (parameters, thinned curves, final values, state),
against the fake server; never failing a run on a logging error; a clear error without a token; with
the api driver, every trial's run names its suggestion and is journaled with its observation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT
from fake_sigopt_server import FakeSigOpt
from test_sigopt_api_driver import TOKEN
from test_sigopt_sweeper import journal_events, sweep_env
from test_train import compose_config

from lightning_distill.errors import ConfigError
from lightning_distill.loggers.sigopt_logger import SigOptLogger
from lightning_distill.training.pipeline import train

SMOKE = ["experiment=smoke", "logger=csv_sigopt", "logger.sigopt.checkpoint_every_n_steps=2"]


@pytest.fixture
def server(monkeypatch):
    with FakeSigOpt(TOKEN) as fake:
        monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
        monkeypatch.setenv("SIGOPT_API_URL", fake.url)
        monkeypatch.delenv("SIGOPT_PROJECT", raising=False)  # the project's default; a real server's env sets one
        yield fake


def test_a_run_becomes_a_training_run_with_parameters_curves_values_and_state(tmp_path, server):
    metrics = train(compose_config([*SMOKE, f"paths.cache_dir={tmp_path / 'cache'}"], tmp_path / "run"))
    (run,) = server.training_runs.values()
    assert run["project"] == "lightning-distill" and "lightning-distill" in server.projects, "project created"
    assert metrics["sigopt_run_id"] == run["id"]
    assert run["assignments"]["student.n_layers"] == 2 and run["assignments"]["optimizer.learning_rate"] > 0
    assert run["state"] == "completed"
    assert run["values"]["exact"]["value"] == pytest.approx(metrics["exact"])
    names = [{value["name"] for value in checkpoint["values"]} for checkpoint in run["checkpoints"]]
    assert any("exact" in checkpoint for checkpoint in names), "every evaluation is a checkpoint"
    assert any("train_loss_step" in checkpoint for checkpoint in names), "training curves, thinned"
    assert TOKEN not in "".join(path.read_text(errors="ignore") for path in (tmp_path / "run").rglob("*") if path.is_file())


def test_curves_are_thinned_to_the_servers_checkpoint_limit(server):
    logger = SigOptLogger(name="thin", checkpoint_every_n_steps=2, max_checkpoints=5)
    for step in range(40):
        logger.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
    logger.log_metrics({"exact": 10.0, "f1": 12.0}, step=40)
    (run,) = server.training_runs.values()
    assert len(run["checkpoints"]) == 5, "4 training points, the evaluation kept"
    assert run["checkpoints"][-1]["values"][0]["name"] == "exact"
    logger.finalize("success")
    assert run["state"] == "completed" and run["values"] == {"exact": {"value": 10.0}, "f1": {"value": 12.0}}


def test_a_server_that_does_not_answer_never_fails_the_run(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SIGOPT_API_TOKEN", TOKEN)
    monkeypatch.setenv("SIGOPT_API_URL", "http://127.0.0.1:9")  # closed: nothing leaves this machine
    metrics = train(compose_config([*SMOKE, f"paths.cache_dir={tmp_path / 'cache'}"], tmp_path / "run"))
    assert "exact" in metrics and "sigopt_run_id" not in metrics
    assert "logger=sigopt: could not create the SigOpt training run" in caplog.text


def test_logger_sigopt_without_a_token_is_a_clear_error_at_start(tmp_path, monkeypatch):
    monkeypatch.delenv("SIGOPT_API_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"logger=sigopt needs a SigOpt API token in \$SIGOPT_API_TOKEN"):
        train(compose_config([*SMOKE, f"paths.cache_dir={tmp_path / 'cache'}"], tmp_path / "run"))
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_api_sweep_trials_name_their_suggestion_and_journal_their_run(tmp_path):
    sweep_dir = tmp_path / "sweep"
    with FakeSigOpt(TOKEN) as fake:
        result = subprocess.run(
            [sys.executable, "train.py", "-m", "experiment=smoke", "hparams_search=sigopt_smoke", "logger=sigopt",
             "hydra.sweeper.driver=api", "hydra.sweeper.budget=2", "hydra.sweeper.parallelism=1",
             f"hydra.sweep.dir={sweep_dir}", f"paths.cache_dir={tmp_path / 'cache'}"],
            cwd=REPO_ROOT, env=sweep_env(SIGOPT_API_TOKEN=TOKEN, SIGOPT_API_URL=fake.url),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        runs = {run["id"]: run for run in fake.training_runs.values()}
    observations = journal_events(sweep_dir, "observation")
    assert len(observations) == 2 and len(runs) == 2
    for observation in observations:
        run = runs[observation["metrics"]["sigopt_run_id"]]
        assert run["metadata"]["suggestion"] == observation["suggestion_id"]
        assert run["metadata"]["trial"] == str(observation["trial"]) and run["state"] == "completed"
    assert TOKEN not in json.dumps(observations)


def test_a_trial_started_again_closes_the_run_of_its_killed_start(tmp_path, server, monkeypatch):
    """Trial 0 was killed mid-run (its run left active, its folder `0` holding sigopt_run.json); the resumed
    start in `0.attempt2` marks that run failed: no orphan stays active on the server."""
    monkeypatch.setenv("SIGOPT_SUGGESTION_ID", "77")
    killed = SigOptLogger(name="trial", save_dir=str(tmp_path / "0"))
    killed.log_metrics({"train/loss": 2.0}, step=0)  # creates the run, then the process "dies"
    orphan = server.training_runs[killed.version]
    assert orphan["state"] == "active" and (tmp_path / "0" / "sigopt_run.json").is_file()
    other_trial = tmp_path / "1"
    other_trial.mkdir()
    (other_trial / "sigopt_run.json").write_text(json.dumps({"run_id": orphan["id"], "suggestion": "78"}))
    resumed = SigOptLogger(name="trial", save_dir=str(tmp_path / "0.attempt2"))
    resumed.log_metrics({"train/loss": 1.5}, step=0)
    assert orphan["state"] == "failed" and server.training_runs[resumed.version]["state"] == "active"
    resumed.finalize("success")
    assert server.training_runs[resumed.version]["state"] == "completed"


def test_sigopt_project_from_the_environment_names_the_project(tmp_path, server, monkeypatch):
    """$SIGOPT_PROJECT (what a server's client.env sets) is the project of the runs, as of an api sweep's experiment."""
    monkeypatch.setenv("SIGOPT_PROJECT", "team-project")
    train(compose_config([*SMOKE, f"paths.cache_dir={tmp_path / 'cache'}"], tmp_path / "run"))
    (run,) = server.training_runs.values()
    assert run["project"] == "team-project" and "team-project" in server.projects
