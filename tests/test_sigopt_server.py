"""``driver=api`` sweeps against a real SigOpt server (the open-source sigopt-server on localhost).

Run by ``.ci/run`` when ``../shared/vendor/sigopt-server/sigopt_nodocker.sh`` sets the server up and
starts it (its ``client.env``: ``$LIGHTNING_DISTILL_SIGOPT_ENV``, else ``${TMPDIR:-/tmp}/sigopt-server/
client.env``); skipped, with the reason, where it cannot. ``python -m pytest -m sigopt_server`` runs
only these. The 503 bursts and dropped connections stay with the fake server
(``test_fault_matrix.py``): a real server does not fail on request.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import tempfile
import urllib.request
from pathlib import Path

import pytest
from test_fault_matrix import FAULTY_APP, check_sweep, journal_events
from test_sigopt_sweeper import LOCAL_RAY, SWEEP_APP, run

pytestmark = pytest.mark.sigopt_server

PROBE_TIMEOUT_S = 10
BUDGET = 8


def client_env_path() -> Path:
    default = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "sigopt-server" / "client.env"
    return Path(os.environ.get("LIGHTNING_DISTILL_SIGOPT_ENV", default))


def read_client_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


@pytest.fixture(scope="module")
def server() -> dict[str, str]:
    path = client_env_path()
    if not path.is_file():
        pytest.skip(f"no real SigOpt server: {path} is missing (sigopt_nodocker.sh setup + start write it)")
    env = read_client_env(path)
    token = base64.b64encode(f"{env.get('SIGOPT_API_TOKEN', '')}:".encode()).decode()
    request = urllib.request.Request(f"{env.get('SIGOPT_API_URL')}/v1/tokens/self", headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as answer:
            answer.read()
    except OSError as error:
        pytest.skip(f"no real SigOpt server at {env.get('SIGOPT_API_URL')}: {error}")
    return env


def connection(server):
    from sigopt import Connection

    conn = Connection(client_token=server["SIGOPT_API_TOKEN"])
    conn.set_api_url(server["SIGOPT_API_URL"])
    return conn


def real_sweep(sweep_dir, server, *overrides, app=SWEEP_APP, **env):
    overrides = ["hydra.sweeper.driver=api", f"hydra.sweeper.budget={BUDGET}", "hydra.sweeper.parallelism=2",
                 "duration=0.3", *overrides]  # fmt: skip
    if server.get("SIGOPT_PROJECT"):
        overrides.append(f"hydra.sweeper.project={server['SIGOPT_PROJECT']}")
    return run([app, "-m", *overrides], timeout=600, SWEEP_DIR=str(sweep_dir),
               SIGOPT_API_TOKEN=server["SIGOPT_API_TOKEN"], SIGOPT_API_URL=server["SIGOPT_API_URL"], **env)  # fmt: skip


def server_state(server, sweep_dir):
    """The experiment the sweep journaled, its observations and its open suggestions, as the server has them."""
    (header,) = journal_events(sweep_dir, "sweep")
    experiment = connection(server).experiments(header["experiment_id"])
    observations = list(experiment.observations().fetch().iterate_pages())
    open_suggestions = list(experiment.suggestions().fetch(state="open").iterate_pages())
    return experiment.fetch(), observations, open_suggestions


def test_ray_sweep_with_a_threshold_and_a_failure(tmp_path, server):
    sweep_dir = tmp_path / "sweep"
    result = real_sweep(sweep_dir, server, *LOCAL_RAY, "oom_jobs=[2]", "hydra.sweeper.metrics.0.threshold=20.0")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = check_sweep(sweep_dir)
    experiment, observations, open_suggestions = server_state(server, sweep_dir)
    assert experiment.observation_budget == BUDGET and experiment.parallel_bandwidth == 2
    metrics = {metric.name: metric for metric in experiment.metrics}
    assert metrics["exact"].threshold == 20.0 and metrics["f1"].strategy == "store"
    assert len(observations) == BUDGET and sum(bool(o.failed) for o in observations) == 1
    assert records[2]["status"] == "failed" and records[2]["reason"].startswith("cuda_oom")
    assert sorted(o.suggestion for o in observations) == sorted(r["suggestion_id"] for r in records.values())
    assert not open_suggestions, "every suggestion was observed"
    assert server["SIGOPT_API_TOKEN"] not in result.stdout + result.stderr


def test_sigkill_mid_trial_then_resume_reports_nothing_twice(tmp_path, server):
    sweep_dir = tmp_path / "sweep"
    killed = real_sweep(sweep_dir, server, app=FAULTY_APP, SWEEP_KILL_AT="running:4")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    resumed = real_sweep(sweep_dir, server, "hydra.sweeper.resume=true")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    records = check_sweep(sweep_dir)
    _, observations, open_suggestions = server_state(server, sweep_dir)
    suggestions = [o.suggestion for o in observations]
    assert len(observations) == BUDGET and len(set(suggestions)) == BUDGET, "each suggestion observed once"
    assert sorted(suggestions) == sorted(r["suggestion_id"] for r in records.values())
    assert not open_suggestions, "no orphan open suggestion"
    assert len(json.loads((sweep_dir / "pareto.json").read_text())["frontier"]) >= 1


def test_logger_sigopt_records_a_training_run_on_the_real_server(tmp_path, server, monkeypatch):
    from test_train import compose_config

    from lightning_distill.training.pipeline import train

    monkeypatch.setenv("SIGOPT_API_TOKEN", server["SIGOPT_API_TOKEN"])
    monkeypatch.setenv("SIGOPT_API_URL", server["SIGOPT_API_URL"])
    metrics = train(compose_config(["experiment=smoke", "logger=sigopt", "logger.sigopt.checkpoint_every_n_steps=2",
                                    f"paths.cache_dir={tmp_path / 'cache'}"], tmp_path / "run"))  # fmt: skip
    run = connection(server).training_runs(metrics["sigopt_run_id"])
    fetched = run.fetch()
    assert fetched.state == "completed"
    assert fetched.assignments["student.n_layers"] == 2
    assert fetched.values["exact"].value == pytest.approx(metrics["exact"])
    checkpoints = list(run.checkpoints().fetch().iterate_pages())
    assert any(value.name == "exact" for checkpoint in checkpoints for value in checkpoint.values)


def test_warm_start_observations_land_on_the_real_server_once(tmp_path, server):
    """hydra.sweeper.warm_start with the api driver: earlier observations become observations with assignments
    and no suggestion (tagged metadata.warm_start), before the first suggestion; a resume posts none again."""
    earlier = tmp_path / "earlier"
    assert run([SWEEP_APP, "-m", "hydra.sweeper.budget=3", "hydra.sweeper.parallelism=1", "oom_jobs=[1]"],
               SWEEP_DIR=str(earlier)).returncode == 0  # fmt: skip
    sweep_dir = tmp_path / "sweep"
    result = real_sweep(sweep_dir, server, f"hydra.sweeper.warm_start=[{earlier}]", "hydra.sweeper.budget=2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    _, observations, open_suggestions = server_state(server, sweep_dir)
    warm = sorted((o for o in observations if o.suggestion is None), key=lambda o: o.metadata["warm_start"])
    assert [o.metadata["warm_start"] for o in warm] == [0, 1, 2] and [bool(o.failed) for o in warm] == [False, True, False]
    assert len(observations) == 5 and not open_suggestions
    resumed = real_sweep(sweep_dir, server, f"hydra.sweeper.warm_start=[{earlier}]", "hydra.sweeper.budget=3",
                         "hydra.sweeper.resume=true")  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    _, observations, _ = server_state(server, sweep_dir)
    assert sum(o.suggestion is None for o in observations) == 3 and len(observations) == 6


def test_logger_sigopt_inside_an_api_sweep_one_project_every_run_closed(tmp_path, server):
    """The README's command: `-m hydra/sweeper=sigopt hydra.sweeper.driver=api logger=csv_sigopt`. Every trial's
    training run is on the server, completed, with the trial's values, in the project the experiment is in."""
    from test_sigopt_sweeper import REPO_ROOT

    sweep_dir = tmp_path / "sweep"
    env = {**os.environ, "SIGOPT_API_TOKEN": server["SIGOPT_API_TOKEN"], "SIGOPT_API_URL": server["SIGOPT_API_URL"],
           "SIGOPT_PROJECT": server.get("SIGOPT_PROJECT", "lightning-distill")}  # fmt: skip
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "train.py", "-m", "hydra/sweeper=sigopt", "experiment=smoke",
                             "hydra.sweeper.driver=api", "logger=csv_sigopt", "hydra.sweeper.budget=2",
                             "hydra.sweeper.parallelism=1", f"paths.cache_dir={tmp_path / 'cache'}",
                             f"hydra.sweep.dir={sweep_dir}"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=600, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    experiment, observations, open_suggestions = server_state(server, sweep_dir)
    assert len(observations) == 2 and not open_suggestions
    records = [json.loads(line) for line in (sweep_dir / "observations.jsonl").read_text().splitlines()]
    for record in records:
        run = connection(server).training_runs(record["metrics"]["sigopt_run_id"]).fetch()
        assert run.state == "completed"
        assert run.values["exact"].value == pytest.approx(record["values"]["exact"])
        assert str(run.project) == str(experiment.project) == env["SIGOPT_PROJECT"]
