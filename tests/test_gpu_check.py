"""``benchmarks/gpu_check.sh --dry-run`` (issue 12): every step of the device check, on CPU at toy size.

The device run itself needs a lent GPU; this proves the script, its steps' isolation and their output
files here. The install step is checked only where the wheels are downloaded (``.whl/``), else skipped.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import REPO_ROOT

STEPS = ("install", "throughput", "train_run", "cuda_oom", "ray_trials")
MAX_OUT_FILES = 8  # what the device tool brings back from $OUT
DRY_RUN_TIMEOUT_S = 1200


@pytest.mark.slow
def test_dry_run_writes_every_step(tmp_path, squad_dir, minilm_dir, monkeypatch):
    from benchmarks.gpu_check.carry import copy_squad_files, copy_tokenizer
    from benchmarks.gpu_check.settings import make_settings

    monkeypatch.setenv("LIGHTNING_DISTILL_SQUAD_DIR", str(squad_dir))
    work_dir, out = tmp_path / "work", tmp_path / "out"
    settings = make_settings("dry_run", out, work_dir=work_dir)
    copy_squad_files(settings)
    copy_tokenizer(settings)

    result = subprocess.run([str(REPO_ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out),
                             "--work-dir", str(work_dir)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=DRY_RUN_TIMEOUT_S, check=False)
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
