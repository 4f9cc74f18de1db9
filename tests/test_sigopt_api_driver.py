"""The ``api`` driver against a local fake of the SigOpt REST API: the real client code path,
offline. Covers experiment creation from config, parallel suggestions, failed observations,
token hygiene, a refused token, and reattaching on resume."""

from __future__ import annotations

from fake_sigopt_server import FakeSigOpt
from test_sigopt_sweeper import app_sweep, journal_events, observations

TOKEN = "fake-token-5f3a9c1e77d2"


def api_sweep(sweep_dir, server, *overrides, token=TOKEN):
    return app_sweep(
        sweep_dir, "hydra.sweeper.driver=api", *overrides, SIGOPT_API_TOKEN=token, SIGOPT_API_URL=server.url
    )


def test_api_sweep_creates_experiment_from_config_and_reports_everything(tmp_path):
    sweep_dir = tmp_path / "sweep"
    with FakeSigOpt(TOKEN) as server:
        result = api_sweep(
            sweep_dir,
            server,
            "hydra.sweeper.budget=6",
            "hydra.sweeper.parallelism=2",
            "duration=0.2",
            "oom_jobs=[2]",
            "hydra/launcher=ray",
            "+hydra.launcher.ray.init.num_cpus=2",
            "+hydra.launcher.ray.init.include_dashboard=false",
        )
        assert result.returncode == 0, result.stderr[-3000:]
        (experiment,) = server.experiments.values()
        assert experiment["observation_budget"] == 6 and experiment["parallel_bandwidth"] == 2
        assert {p["name"]: p["type"] for p in experiment["parameters"]} == {"width": "int", "quality": "double"}
        assert [m["name"] for m in experiment["metrics"]] == ["exact", "num_params", "f1", "inference_time"]
        assert [m["strategy"] for m in experiment["metrics"]] == ["optimize", "optimize", "store", "store"]
        assert len(server.observations) == 6
        assert [o["failed"] for o in server.observations].count(True) == 1
        assert not server.open_suggestions, "every suggestion was observed"
        assert server.max_open == 2, "two trials were in flight at once, never more"
    records = observations(sweep_dir)
    assert [r["status"] for r in records].count("failed") == 1
    assert records[2]["reason"].startswith("cuda_oom")
    assert {r["suggestion_id"] for r in records} == {o["suggestion"] for o in server.observations}
    # the token never reaches saved configs, logs or outputs
    for path in sweep_dir.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(errors="ignore"), path
    assert TOKEN not in result.stdout + result.stderr


def test_invalid_token_is_a_clear_error_before_any_trial(tmp_path):
    with FakeSigOpt(TOKEN) as server:
        result = api_sweep(tmp_path / "sweep", server, token="expired-token")
        assert not server.experiments and not server.open_suggestions
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "SigOpt refused the token in $SIGOPT_API_TOKEN (HTTP 401)" in output
    assert "expired-token" not in output and "Traceback" not in output
    assert not list((tmp_path / "sweep").glob("*/runs.log"))


def test_resume_reattaches_to_the_same_experiment(tmp_path):
    sweep_dir = tmp_path / "sweep"
    with FakeSigOpt(TOKEN) as server:
        first = api_sweep(sweep_dir, server, "hydra.sweeper.budget=2")
        assert first.returncode == 0, first.stderr[-3000:]
        more = api_sweep(sweep_dir, server, "hydra.sweeper.budget=4", "hydra.sweeper.resume=true")
        assert more.returncode == 0, more.stderr[-3000:]
        assert len(server.experiments) == 1
        assert len(server.observations) == 4
        assert [r["trial"] for r in observations(sweep_dir)] == [0, 1, 2, 3]
    assert len(journal_events(sweep_dir, "sweep")) == 1


def test_unknown_experiment_id_is_a_clear_error(tmp_path):
    with FakeSigOpt(TOKEN) as server:
        result = api_sweep(tmp_path / "sweep", server, "hydra.sweeper.experiment_id=404404")
    assert result.returncode == 2
    assert (
        "has no such experiment to attach to (HTTP 404): check hydra.sweeper.experiment_id"
        in result.stdout + result.stderr
    )


def test_a_named_project_is_created_once_then_reused(tmp_path):
    """As on a real server: an experiment can only join an existing project, so the driver creates it."""
    with FakeSigOpt(TOKEN) as server:
        for name in ("first", "second"):
            result = api_sweep(tmp_path / name, server, "hydra.sweeper.budget=1", "hydra.sweeper.project=demo")
            assert result.returncode == 0, result.stderr[-3000:]
        assert list(server.projects) == ["demo"]
        assert [experiment["project"] for experiment in server.experiments.values()] == ["demo", "demo"]


def test_warm_start_posts_earlier_observations_once_as_observations_without_a_suggestion(tmp_path):
    first = tmp_path / "first"
    assert app_sweep(first, "hydra.sweeper.budget=3", "hydra.sweeper.parallelism=1", "oom_jobs=[1]").returncode == 0
    sweep_dir = tmp_path / "sweep"
    with FakeSigOpt(TOKEN) as server:
        result = api_sweep(sweep_dir, server, "hydra.sweeper.budget=2", "hydra.sweeper.parallelism=1",
                           f"hydra.sweeper.warm_start=[{first}]")  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        warm = [o for o in server.observations if o["suggestion"] is None]
        assert [o["metadata"] for o in warm] == [{"warm_start": 0}, {"warm_start": 1}, {"warm_start": 2}]
        assert [o["failed"] for o in warm] == [False, True, False]
        assert warm[0]["assignments"] == observations(first)[0]["assignments"]
        assert len(server.observations) == 5, "3 earlier observations, then the sweep's own 2"
        resumed = api_sweep(sweep_dir, server, "hydra.sweeper.budget=3", "hydra.sweeper.parallelism=1",
                            "hydra.sweeper.resume=true", f"hydra.sweeper.warm_start=[{first}]")  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert len([o for o in server.observations if o["suggestion"] is None]) == 3, "not posted twice on resume"
    assert len(journal_events(sweep_dir, "observation")) == 3


def test_a_url_that_is_not_a_sigopt_api_root_is_named(tmp_path):
    """$SIGOPT_API_URL with a /v1 suffix (or any server that is not SigOpt's API) answers 404 to creating an
    experiment: the error names the URL and the fix, not an experiment id nobody gave."""
    with FakeSigOpt(TOKEN) as server:
        result = app_sweep(tmp_path / "sweep", "hydra.sweeper.driver=api", SIGOPT_API_TOKEN=TOKEN,
                           SIGOPT_API_URL=server.url + "/v1")  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert f"{server.url}/v1 answered HTTP 404 when asked to check the token for the experiment: it is not a SigOpt " \
           "API root" in output
    assert "experiment_id" not in output


def test_a_server_that_never_answers_fails_within_check_timeout_before_the_data_is_built(tmp_path):
    """A server that accepts connections and never answers: the multirun stops within check_timeout_s, before the
    project's shared-data build (Hydra's multirun callbacks run before the sweeper is even made), with one line."""
    import socket
    import subprocess
    import sys
    import time

    from test_sigopt_sweeper import REPO_ROOT

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # connections complete in the backlog; nothing ever reads or answers them
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "train.py", "-m", "hydra/sweeper=sigopt", "experiment=smoke", "hydra.sweeper.driver=api",
             "hydra.sweeper.check_timeout_s=2", f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
            env={**__import__("os").environ, "SIGOPT_API_TOKEN": TOKEN, "SIGOPT_API_URL": url},
        )  # fmt: skip
        elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert f"cannot reach SigOpt at {url}" in output and "Traceback" not in output
    assert not (tmp_path / "cache" / "features").exists()  # stopped before the shared data build
    assert elapsed < 90  # the check's 2 s plus start-up, not the client's 150 s


def test_reporting_an_observation_closes_its_training_run_left_active(tmp_path):
    """A trial whose run could not be closed (the server was down when it finished) has the run closed by
    the report of its observation, with the observation's values; a closed run is left as it is."""
    from sigopt import Connection

    from hydra_plugins.sigopt_sweeper._api_driver import ApiDriver
    from hydra_plugins.sigopt_sweeper.api import (
        COMPLETED,
        ExperimentSpec,
        Observation,
        parse_metrics,
        parse_search_space,
    )

    spec = ExperimentSpec("t", parse_search_space({"width": "int(interval(1, 8))"}),
                          parse_metrics([{"name": "exact", "objective": "maximize", "strategy": "optimize"}]), 2, 1)  # fmt: skip
    with FakeSigOpt(TOKEN) as server:
        client = Connection(client_token=TOKEN)
        client.set_api_url(server.url)
        client.clients("1").projects().create(id="p", name="p")
        run = client.clients("1").projects("p").training_runs().create(name="trial 0")
        driver = ApiDriver(spec, TOKEN, token_env="T", api_url=server.url, project=None)
        driver.start(None)
        for number in (0, 1):
            suggestion = driver.suggest([])
            driver.observe(Observation(number, suggestion.id, suggestion.assignments, COMPLETED, {"exact": 40.0 + number},
                                       metrics={"sigopt_run_id": run.id}))  # fmt: skip
            if number == 0:
                assert server.training_runs[run.id]["state"] == "completed"
                assert server.training_runs[run.id]["values"] == {"exact": {"value": 40.0}}
        assert server.training_runs[run.id]["values"] == {"exact": {"value": 40.0}}, "a closed run is left alone"
