"""Steps ``throughput``, ``train_run`` and ``cuda_oom``: each runs the project's own entry point in a
subprocess (``benchmarks.throughput``, ``train.py``, ``train.py`` as a sweep) and turns what it wrote
into the step's result, checking what issue 12 asks of it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from benchmarks.gpu_check.runner import StepFailed, StepSkipped, run_command
from benchmarks.gpu_check.settings import Settings, step_env

BYTES_PER_MIB = 2**20
CUDA_OOM_PREFIX = "cuda_oom:"
OOM_CONFIG_DIR = "benchmarks/conf/train"


def throughput(settings: Settings) -> dict[str, Any]:
    """``benchmarks.throughput`` once per batch size of the profile (naive vs fast, FLOPs, projections)."""
    step = settings.profile["throughput"]
    overrides = [*step["config_overrides"], f"tokenizer.name_or_path={settings.tokenizer_dir}"]
    runs: dict[str, Any] = {}
    for batch_size in step["batch_sizes"]:
        report_path = settings.scratch / f"throughput_b{batch_size}.json"
        command = [sys.executable, "-m", "benchmarks.throughput", *map(str, step["args"]), "--batch-size",
                   str(batch_size), "--config-overrides", *overrides, "--json", str(report_path)]
        result = run_command(command, settings, step_env(settings), step["timeout_s"])
        try:
            result.check(f"benchmarks.throughput at batch {batch_size}")
            runs[str(batch_size)] = {"report": json.loads(report_path.read_text()), "printed": result.output[-6000:]}
        except StepFailed as error:  # the other batch sizes still run
            runs[str(batch_size)] = {"error": str(error)}
    if all("error" in run for run in runs.values()):
        raise StepFailed("; ".join(run["error"] for run in runs.values()))
    return {"runs": runs}


def train_run(settings: Settings) -> dict[str, Any]:
    """A real ``train.py`` run: the Lightning / precision path on the device, and its steady-state step time."""
    step = settings.profile["train_run"]
    run_dir = settings.scratch / "train_run"
    timer_path = settings.scratch / "step_timer.json"
    command = [sys.executable, "train.py", *step["overrides"], f"tokenizer.name_or_path={settings.tokenizer_dir}",
               "logger=[]", f"hydra.run.dir={run_dir}",
               "+callbacks.step_timer._target_=benchmarks.step_timer.StepTimer",
               f"+callbacks.step_timer.path={timer_path}", f"+callbacks.step_timer.warmup_steps={step['warmup_steps']}"]
    result = run_command(command, settings, step_env(settings), step["timeout_s"])
    result.check("train.py")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if metrics.get("status") != "finished":
        raise StepFailed(f"train.py ended with status {metrics.get('status')!r} in {run_dir / 'metrics.json'}")
    return {"step_timer": json.loads(timer_path.read_text()), "status": metrics["status"],
            "final_metrics": metrics.get("final"), "wall_seconds": round(result.seconds, 1)}


def cuda_oom(settings: Settings) -> dict[str, Any]:
    """Two sweep trials on one device: trial 0 must fail ``cuda_oom: ...``, trial 1 must run, on freed memory."""
    step = settings.profile["cuda_oom"]
    sweep_dir = settings.scratch / "oom_sweep"
    probe_path = settings.scratch / "trial_memory.jsonl"
    probe = ["+callbacks.trial_memory._target_=benchmarks.trial_memory.TrialMemoryProbe",
             f"+callbacks.trial_memory.path={probe_path}", "+callbacks.trial_memory.trial=${hydra:job.num}"]
    if step.get("simulated_oom_min_batch_size") is not None:
        probe.append(f"+callbacks.trial_memory.simulated_oom_min_batch_size={step['simulated_oom_min_batch_size']}")
    command = [sys.executable, "train.py", "--config-dir", OOM_CONFIG_DIR, "hparams_search=gpu_oom_check",
               *step["overrides"], f"tokenizer.name_or_path={settings.tokenizer_dir}", "logger=[]",
               f"hydra.sweep.dir={sweep_dir}", *probe]
    result = run_command(command, settings, step_env(settings), step["timeout_s"])
    result.check("the OOM-check sweep")
    observations = [json.loads(line) for line in (sweep_dir / "observations.jsonl").read_text().splitlines()]
    events = [json.loads(line) for line in probe_path.read_text().splitlines()] if probe_path.is_file() else []
    verdict = judge_oom(observations, events, step["freed_tolerance_mib"], simulated=bool(step.get("simulated_oom_min_batch_size")))
    if verdict["problems"]:
        raise StepFailed("; ".join(verdict["problems"]) + "\n" + json.dumps(verdict, indent=1, default=str))
    return verdict


def judge_oom(observations: list[dict], events: list[dict], tolerance_mib: float, simulated: bool) -> dict[str, Any]:
    """Issue 12's three checks on the sweep's observations and the memory probe's events."""
    by_trial = {record["trial"]: record for record in observations}
    first, second = by_trial.get(0, {}), by_trial.get(1, {})
    starts = {event["trial"]: event for event in events if event["event"] == "start"}
    failed = next((event for event in events if event["event"] == "failed"), {})
    memory_key = "live_tensor_bytes" if simulated else "cuda_allocated_bytes"
    before, after = starts.get(0, {}).get(memory_key), starts.get(1, {}).get(memory_key)
    grew_mib = (after - before) / BYTES_PER_MIB if before is not None and after is not None else None
    problems = []
    if first.get("status") != "failed" or not str(first.get("reason", "")).startswith(CUDA_OOM_PREFIX):
        problems.append(f"trial 0 should fail with '{CUDA_OOM_PREFIX} ...', got {first.get('status')!r}: {first.get('reason')!r}")
    if second.get("status") != "completed":
        problems.append(f"trial 1 should complete after the OOM, got {second.get('status')!r}: {second.get('reason')!r}")
    if grew_mib is None or grew_mib > tolerance_mib:
        problems.append(f"memory not freed: trial 1 started with {grew_mib} MiB more {memory_key} than trial 0 "
                        f"(freed_tolerance_mib={tolerance_mib})")
    if starts.get(1, {}).get("previous_failed_trial_objects_alive"):
        problems.append("trial 0's LightningModule/Trainer were still alive when trial 1 started")
    return {
        "oom_simulated": simulated,
        "trial_0": {"status": first.get("status"), "reason": first.get("reason"), "duration_s": first.get("duration_s")},
        "trial_1": {"status": second.get("status"), "values": second.get("values"), "duration_s": second.get("duration_s")},
        "memory_measure": memory_key,
        "trial_0_start_mib": _mib(before),
        "at_oom_mib": _mib(failed.get(memory_key)),
        "at_oom_cuda_reserved_mib": _mib(failed.get("cuda_reserved_bytes")),
        "trial_1_start_mib": _mib(after),
        "trial_1_start_cuda_reserved_mib": _mib(starts.get(1, {}).get("cuda_reserved_bytes")),
        "grew_mib": None if grew_mib is None else round(grew_mib, 1),
        "failed_trial_objects_alive_at_next_start": starts.get(1, {}).get("previous_failed_trial_objects_alive"),
        "problems": problems,
    }


def _mib(value: float | None) -> float | None:
    return None if value is None else round(value / BYTES_PER_MIB, 1)


def skipped_step(reason: str) -> Callable[[], dict[str, Any]]:
    """A step the configuration marks as not runnable (``skipped_steps``), with its reason."""

    def step() -> dict[str, Any]:
        raise StepSkipped(reason)

    return step
