"""``benchmarks/gpu_check.sh --dry-run`` (issue 12): every step of the device check, on CPU at toy size.

The device run itself needs a lent GPU; this proves the script, its steps' isolation and their output
files here. The install step is checked only where the wheels are downloaded (``.whl/``), else skipped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT

STEPS = ("install", "throughput", "train_run", "cuda_oom", "ray_trials")
MAX_OUT_FILES = 8  # what the device tool brings back from $OUT
DRY_RUN_TIMEOUT_S = 1200


@pytest.mark.slow
def test_dry_run_writes_every_step(tmp_path, squad_dir, minilm_dir, monkeypatch):
    """README's `benchmarks/gpu_check.sh --dry-run --out DIR` as it stands: it copies what it reads itself."""
    monkeypatch.setenv("LIGHTNING_DISTILL_SQUAD_DIR", str(squad_dir))
    work_dir, out = tmp_path / "work", tmp_path / "out"

    result = subprocess.run([str(REPO_ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out),
                             "--work-dir", str(work_dir)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=DRY_RUN_TIMEOUT_S, check=False, env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    records = {step: json.loads((out / f"{step}.json").read_text()) for step in STEPS}
    assert records["install"]["status"] in {"ok", "skipped"}, records["install"]
    for step in ("throughput", "train_run", "cuda_oom"):
        assert records[step]["status"] == "ok", records[step]
    assert records["ray_trials"]["status"] == "skipped" and "64 MiB" in records["ray_trials"]["reason"]

    report = records["throughput"]["result"]["runs"]["8"]["report"]
    assert set(report["modes"]) == {"naive", "fast", "fast+grouped"}
    assert report["modes"]["naive"]["mean_padded_width"] == 384
    assert all(mode["flops_per_step"] > 0 for mode in report["modes"].values())
    assert report["projection"]["epoch_hours"]["naive"] > 0

    timer = records["train_run"]["result"]["step_timer"]
    assert timer["steps"] == 6 and timer["median_step_seconds"] > 0
    assert records["train_run"]["result"]["status"] == "finished"

    oom = records["cuda_oom"]["result"]
    assert oom["trial_0"]["status"] == "failed" and oom["trial_0"]["reason"].startswith("cuda_oom: ")
    assert oom["trial_1"]["status"] == "completed"
    assert oom["failed_trial_objects_alive_at_next_start"] == 0 and oom["grew_mib"] <= 64

    summary = (out / "summary.md").read_text()
    assert "DRY RUN" in summary and "## Targets" in summary and "cuda_oom" in summary
    assert len([path for path in out.rglob("*") if path.is_file()]) <= MAX_OUT_FILES


# The runner's guarantees on the device: a rerun starts clean, nothing outlives a timeout or a stop,
# and no command runs past the profile's deadline.
GROUP_COMMAND = ["bash", "-c", "sleep 60 & sleep 60; wait"]  # a parent with a child of its own, like a sweep


def _settings(tmp_path, **changes):
    from benchmarks.gpu_check.settings import make_settings

    return dataclasses.replace(make_settings("dry_run", tmp_path / "out"), **changes)


def _group_gone(pgid: int) -> bool:
    """No running process left in the group (zombies whose new parent does not reap them count as gone)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


def _pgid_of_last_command(settings) -> int:
    """The process group of the last command started: its shell wrote its pid (= pgid) to ``out/pgid``."""
    return int((settings.out_dir / "pgid").read_text())


def test_each_run_gets_its_own_scratch_folder_under_the_configured_one(tmp_path):
    from benchmarks.gpu_check.settings import load_config, make_settings

    config = load_config()
    config["profiles"]["device"] = {**config["profiles"]["device"], "scratch": str(tmp_path / "scratch")}
    first, second = (make_settings("device", tmp_path / "out", config=config) for _ in range(2))
    assert first.scratch != second.scratch
    assert first.scratch.parent == second.scratch.parent == (tmp_path / "scratch").resolve()
    assert first.deadline is not None and 0 < first.seconds_left() <= config["profiles"]["device"]["deadline_s"]


def test_a_timeout_ends_the_commands_whole_process_group(tmp_path):
    from benchmarks.gpu_check.runner import run_command

    settings = _settings(tmp_path)
    command = ["bash", "-c", f"echo $$ > {settings.out_dir / 'pgid'}; sleep 60 & sleep 60; wait"]
    result = run_command(command, settings, dict(os.environ), timeout_s=2)
    assert result.timed_out and result.seconds < 30
    assert _group_gone(_pgid_of_last_command(settings))


def test_the_deadline_cuts_a_commands_timeout_and_then_refuses_to_start(tmp_path):
    from benchmarks.gpu_check.runner import StepFailed, run_command

    settings = _settings(tmp_path, deadline=time.monotonic() + 2)
    result = run_command(["sleep", "60"], settings, dict(os.environ), timeout_s=600)
    assert result.timed_out and result.seconds < 30
    with pytest.raises(StepFailed, match="deadline_s"):
        run_command(["true"], settings, dict(os.environ), timeout_s=600)


def test_a_stopped_check_ends_the_running_group_and_records_every_step(tmp_path):
    from benchmarks.gpu_check.__main__ import _interrupt, run_all
    from benchmarks.gpu_check.runner import run_command

    settings = _settings(tmp_path)

    def long_step():
        command = ["bash", "-c", f"echo $$ > {settings.out_dir / 'pgid'}; sleep 60 & sleep 60; wait"]
        run_command(command, settings, dict(os.environ), timeout_s=600)
        return {}

    previous = signal.signal(signal.SIGALRM, _interrupt)  # stands in for the device tool's SIGTERM
    signal.alarm(2)
    try:
        records = run_all({"quick": lambda: {"n": 1}, "long": long_step, "later": dict}, settings)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert records["quick"]["status"] == "ok"
    assert records["long"]["status"] == "failed" and "stopped" in records["long"]["error"]
    assert records["later"]["status"] == "skipped"
    assert _group_gone(_pgid_of_last_command(settings))


def test_only_reruns_the_named_steps_after_install(tmp_path):
    from benchmarks.gpu_check.__main__ import selected, steps
    from benchmarks.gpu_check.settings import make_settings

    device = make_settings("device", tmp_path / "out")
    assert list(selected(steps(device), ["cuda_oom"], device)) == ["install", "cuda_oom"]
    dry = _settings(tmp_path)
    assert list(selected(steps(dry), ["cuda_oom", "throughput"], dry)) == ["throughput", "cuda_oom"]
    with pytest.raises(SystemExit, match="unknown step"):
        selected(steps(dry), ["warp_drive"], dry)
