"""``$OUT/summary.md``: every step's outcome, the headline numbers, and issue 12's targets, in the
markdown that goes to ``docs/results/gpu/`` (the JSON files beside it hold everything else)."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.gpu_check.settings import Settings

SECONDS_PER_HOUR = 3600.0
MODES = ("naive", "fast", "fast+grouped")


def _fmt(value: Any, pattern: str = "{:,.2f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def throughput_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for batch_size, run in result["runs"].items():
        if "error" in run:
            lines += [f"### batch {batch_size}: failed", "", "```", run["error"][-2000:], "```", ""]
            continue
        report = run["report"]
        epoch = report.get("projection", {}).get("epoch_hours", {})
        lines += [f"### batch {batch_size} ({report['models']}; fast precision {report['precision']})", "",
                  "| mode | ex/s | × naive | mean width | step peak MiB | model+AdamW MiB | TFLOP/s | % of bf16 peak | epoch h |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for mode in MODES:
            values = report["modes"][mode]
            fraction = values.get("fraction_of_peak")
            lines.append(
                f"| {mode} | {values['examples_per_second']:,.1f} | {values['ratio_to_naive']:.2f} | "
                f"{values['mean_padded_width']:.0f} | {values['peak_step_bytes'] / 2**20:,.0f} | "
                f"{values['model_and_optimizer_bytes'] / 2**20:,.0f} | {_fmt(values.get('achieved_tflops'))} | "
                f"{_fmt(None if fraction is None else 100 * fraction, '{:.1f}')} | {_fmt(epoch.get(mode), '{:,.3f}')} |")
        peak = report.get("cuda_max_memory_allocated_bytes")
        lines += ["", (f"CUDA max_memory_allocated over the run (all modes resident): {_fmt(peak and peak / 2**20, '{:,.0f}')} MiB; "
                  f"teacher-logit cache build {report['cache_build_seconds']:.1f} s for {report['n_features']} features."), ""]
        lines += ["```", *[line for line in run["printed"].splitlines() if line.startswith("  search on this device")], "```", ""]
    return lines


def targets(records: dict[str, dict], settings: Settings) -> list[str]:
    goal = settings.config["targets"]
    runs = records.get("throughput", {}).get("result", {}).get("runs", {})
    run = next(iter(runs.values()), {})
    modes = run.get("report", {}).get("modes", {})
    grouped = modes.get("fast+grouped", {})
    ratio = grouped.get("ratio_to_naive")
    # the peak fraction at any measured batch: at the paper's batch 8 a step is launch-bound
    fractions = {batch: max((run.get("report", {}).get("modes", {}).get(mode, {}).get("fraction_of_peak") or 0.0
                             for mode in ("fast", "fast+grouped")), default=0.0) for batch, run in runs.items()}
    best_batch = max(fractions, key=fractions.get, default=None)
    fraction = fractions.get(best_batch) or None
    epoch = run.get("report", {}).get("projection", {}).get("epoch_hours", {}).get("fast+grouped")
    limit = goal["source_v100_epoch_hours"] * goal["epoch_fraction_of_source"]

    def verdict(value: float | None, ok: bool) -> str:
        return "not measured" if value is None else ("met" if ok else "NOT met")

    return [
        "| target | measured (paper batch) | verdict |", "|---|---|---|",
        f"| fast+grouped ≥ {goal['fast_vs_naive']}× naive | {_fmt(ratio, '{:.2f}×')} | {verdict(ratio, (ratio or 0) >= goal['fast_vs_naive'])} |",
        (f"| fast training step ≥ {100 * goal['fraction_of_peak']:.0f}% of dense bf16 peak | "
        f"{_fmt(fraction and 100 * fraction, '{:.1f}%')}{f' (batch {best_batch})' if fraction else ''} | "
        f"{verdict(fraction, (fraction or 0) >= goal['fraction_of_peak'])} |"),
        (f"| baseline epoch ≤ {limit:.2f} h ({goal['epoch_fraction_of_source']:.0%} of the source's {goal['source_v100_epoch_hours']} h V100) | "
        f"{_fmt(epoch, '{:.3f} h')} | {verdict(epoch, epoch is not None and epoch <= limit)} |"),
    ]


def step_table(records: dict[str, dict]) -> list[str]:
    lines = ["| step | status | seconds | note |", "|---|---|---|---|"]
    for name, record in records.items():
        note = (record.get("error") or record.get("reason") or "").strip().splitlines()
        lines.append(f"| {name} | {record['status']} | {record['seconds']} | {note[0][:160] if note else ''} |")
    return lines


def device_name(records: dict[str, dict]) -> str:
    torch_info = records.get("install", {}).get("result", {}).get("imports", {}).get("torch", {})
    runs = records.get("throughput", {}).get("result", {}).get("runs", {}).values()
    gpu = next((run["report"].get("gpu") for run in runs if "report" in run and run["report"].get("gpu")), None)
    return torch_info.get("device") or gpu or "CPU (no CUDA device)"


def write_summary(records: dict[str, dict], settings: Settings, seconds: float) -> str:
    kind = ("DRY RUN on CPU at toy size: checks the script end to end; the numbers measure nothing of interest"
            if settings.dry_run else "device run at paper shape, random weights")
    lines = [f"# GPU check: {device_name(records)}", "",
             f"{kind}. {time.strftime('%Y-%m-%d %H:%M %Z')}, {seconds:.0f} s in all (`benchmarks/gpu_check.sh`, issue 12).", "",
             "## Steps", "", *step_table(records), "", "## Targets", "", *targets(records, settings), ""]
    if records.get("throughput", {}).get("status") == "ok":
        lines += ["## Throughput: naive (fp32, live teacher, pad 384) vs fast (logit cache, dynamic padding, mixed precision)", "",
                  *throughput_lines(records["throughput"]["result"])]
    if records.get("train_run", {}).get("status") == "ok":
        timer = records["train_run"]["result"]["step_timer"]
        lines += ["## train.py through Lightning", "",
                  (f"{timer['steps']} steps on {timer['device']}, precision {timer['precision']}: steady-state step "
                  f"{_fmt(timer['median_step_seconds'] and 1e3 * timer['median_step_seconds'], '{:.1f}')} ms median "
                  f"(p90 {_fmt(timer['p90_step_seconds'] and 1e3 * timer['p90_step_seconds'], '{:.1f}')} ms) over {timer['timed_steps']} steps, "
                  f"{_fmt(timer['examples_per_second'], '{:,.1f}')} ex/s, mean padded width {_fmt(timer['mean_padded_width'], '{:.0f}')}, "
                  f"CUDA max allocated {_fmt(timer['cuda_max_memory_allocated_bytes'] and timer['cuda_max_memory_allocated_bytes'] / 2**20, '{:,.0f}')} MiB."), ""]
    if records.get("cuda_oom", {}).get("status") == "ok":
        oom = records["cuda_oom"]["result"]
        lines += ["## CUDA OOM as a failed observation", "",
                  (f"trial 0: {oom['trial_0']['status']}, `{oom['trial_0']['reason']}`; trial 1: {oom['trial_1']['status']}. "
                  f"{oom['memory_measure']}: {oom['trial_0_start_mib']} MiB at trial 0's start, {oom['at_oom_mib']} MiB at the OOM, "
                  f"{oom['trial_1_start_mib']} MiB at trial 1's start (failed trial's module/trainer alive then: "
                  f"{oom['failed_trial_objects_alive_at_next_start']})."), ""]
    text = "\n".join(lines)
    (settings.out_dir / "summary.md").write_text(text)
    return text
