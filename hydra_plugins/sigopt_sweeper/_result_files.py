"""The sweep's result files: every observation (CSV + JSON lines), the Pareto front (JSON + PNG).

Written from the journal's state after every observation (atomically, so a reader or a crash
never sees half a file); the plot only at the end of a sweep, as it costs a matplotlib import.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra_plugins.sigopt_sweeper._atomic_files import write_text_atomically
from hydra_plugins.sigopt_sweeper._checkpoints import checkpoint_path
from hydra_plugins.sigopt_sweeper._metrics import Metric, meets_thresholds, pareto_front
from hydra_plugins.sigopt_sweeper._trial import Observation

log = logging.getLogger(__name__)

OBSERVATIONS_CSV = "observations.csv"
OBSERVATIONS_JSONL = "observations.jsonl"
PARETO_JSON = "pareto.json"
PARETO_PNG = "pareto.png"


def frontier(observations: Sequence[Observation], metrics: Sequence[Metric]) -> list[Observation]:
    completed = [observation for observation in observations if not observation.failed]
    return [completed[index] for index in pareto_front([o.values for o in completed], metrics)]


def write_observations(
    sweep_dir: Path, observations: Sequence[Observation], parameter_names: Sequence[str], metrics: Sequence[Metric]
) -> None:
    ordered = sorted(observations, key=lambda observation: observation.trial)
    lines = "".join(json.dumps(_record(observation), sort_keys=True) + "\n" for observation in ordered)
    write_text_atomically(sweep_dir / OBSERVATIONS_JSONL, lines)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = [metric.name for metric in metrics]
    writer.writerow(["trial", "status", "strategy", *parameter_names, *names, "duration_s", "reason", "output_dir", "node"])
    for observation in ordered:
        writer.writerow(
            [observation.trial, observation.status, observation.strategy or ""]
            + [observation.assignments.get(name, "") for name in parameter_names]
            + [observation.values.get(name, "") for name in names]
            + [_round(observation.duration_s), observation.reason or "", observation.output_dir or "", observation.node or ""]
        )
    write_text_atomically(sweep_dir / OBSERVATIONS_CSV, buffer.getvalue())


def write_pareto(
    sweep_dir: Path,
    observations: Sequence[Observation],
    metrics: Sequence[Metric],
    baseline: Mapping[str, Any] | None,
    checkpoint_dir: str | None,
) -> list[Observation]:
    x_metric = [metric for metric in metrics if metric.optimized][-1]
    front = sorted(frontier(observations, metrics), key=lambda observation: observation.values[x_metric.name])
    completed = [observation for observation in observations if not observation.failed]
    document = {
        "metrics": [metric.to_sigopt() for metric in metrics],
        "observations": len(observations),
        "completed": len(completed),
        "failed": len(observations) - len(completed),
        "meeting_thresholds": sum(meets_thresholds(o.values, metrics) for o in completed),
        "baseline": dict(baseline) if baseline else None,
        "frontier": [
            {**_record(observation), "checkpoint": checkpoint_path(observation, checkpoint_dir)}
            for observation in front
        ],
    }
    write_text_atomically(sweep_dir / PARETO_JSON, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return front


FRONT_TABLE_ROWS = 20
"""The end-of-sweep log shows at most this many front trials (pareto.json has them all)."""


def front_table(front: Sequence[Observation], metrics: Sequence[Metric]) -> str:
    """The Pareto front as a few aligned lines for the end of a sweep's log: trial, the optimized metrics,
    the stored ones, and where its run directory is."""
    if not front:
        return "Pareto front: empty (no completed trial meets the metric thresholds)."
    names = [metric.name for metric in metrics if metric.optimized] + [m.name for m in metrics if not m.optimized]
    shown = [name for name in names if any(name in o.values for o in front)]
    header = ["trial", *shown]
    rows = [[str(o.trial), *(_short(o.values.get(name)) for name in shown)] for o in front[:FRONT_TABLE_ROWS]]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"Pareto front ({len(front)} trials{'; first ' + str(FRONT_TABLE_ROWS) if len(front) > FRONT_TABLE_ROWS else ''}):"]
    lines += ["  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in [header, *rows]]
    return "\n".join(lines)


def _short(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def plot_pareto(
    sweep_dir: Path,
    observations: Sequence[Observation],
    front: Sequence[Observation],
    metrics: Sequence[Metric],
    baseline: Mapping[str, Any] | None,
) -> Path | None:
    optimized = [metric for metric in metrics if metric.optimized]
    if len(optimized) != 2:
        log.info("pareto.png needs two optimized metrics; skipped")
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y_metric, x_metric = optimized
    completed = [observation for observation in observations if not observation.failed]
    front = sorted(front, key=lambda observation: observation.values[x_metric.name])
    feasible = [o for o in completed if meets_thresholds(o.values, metrics)]
    infeasible = [o for o in completed if not meets_thresholds(o.values, metrics)]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for group, style in (
        (feasible, {"color": "tab:blue", "alpha": 0.5, "label": "trials"}),
        (infeasible, {"color": "lightgray", "label": "below threshold"}),
    ):
        if group:
            axes.scatter(
                [o.values[x_metric.name] for o in group], [o.values[y_metric.name] for o in group], s=18, **style
            )
    if front:
        xs = [o.values[x_metric.name] for o in front]
        ys = [o.values[y_metric.name] for o in front]
        axes.step(xs, ys, where="post", color="tab:red", linewidth=1)
        axes.scatter(xs, ys, color="tab:red", s=30, zorder=3, label="Pareto front")
    if y_metric.threshold is not None:
        axes.axhline(y_metric.threshold, color="gray", linestyle=":", linewidth=1, label=f"{y_metric.name} threshold")
    missing = [m.name for m in (x_metric, y_metric) if baseline and m.name not in baseline.get("values", {})]
    if missing:
        log.info("pareto.png: the baseline has no value for %s (hydra.sweeper.baseline.values); not drawn", missing)
    if baseline and not missing:
        axes.scatter(
            [baseline["values"][x_metric.name]],
            [baseline["values"][y_metric.name]],
            marker="*",
            s=160,
            color="black",
            zorder=4,
            label=baseline.get("label", "baseline"),
        )
    axes.set_xlabel(f"{x_metric.name} ({x_metric.objective})")
    axes.set_ylabel(f"{y_metric.name} ({y_metric.objective})")
    axes.set_title(f"{len(completed)} completed trials, {len(front)} on the front")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path = sweep_dir / PARETO_PNG
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _record(observation: Observation) -> dict[str, Any]:
    return {
        "trial": observation.trial,
        "status": observation.status,
        "reason": observation.reason,
        "assignments": observation.assignments,
        "values": observation.values,
        "metrics": observation.metrics,
        "duration_s": observation.duration_s,
        "started_at": observation.started_at,
        "finished_at": observation.finished_at,
        "output_dir": observation.output_dir,
        "suggestion_id": observation.suggestion_id,
        "strategy": observation.strategy,
        "node": observation.node,
    }


def _round(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
