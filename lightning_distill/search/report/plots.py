"""Every figure of the report (matplotlib): per-configuration curves and their comparison, the sweeps' Pareto
fronts, hypervolume after each observation, trial times and the searched parameters against the score.

Plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning_distill.metrics import EXACT, F1, HAS_ANS_EXACT, HEADLINE, NO_ANS_EXACT
from lightning_distill.search.report.readers import _number
from lightning_distill.search.report.runs import Group
from lightning_distill.search.report.sweeps import (
    Sweep,
    _completed,
    _objectives,
    front_panels,
    hypervolume_after_each,
    reference_point,
    trial_minutes,
)

CURVE_METRICS = tuple(m.name for m in (EXACT, F1, HAS_ANS_EXACT, NO_ANS_EXACT))
LOSSES = ("train/loss", "train/soft_loss", "train/hard_loss")
COMPARISON_METRICS = HEADLINE
LOSS_SMOOTHING_POINTS = 60
"""Training losses are per step and noisy: plotted as a moving average over ~1/60 of the run."""
LOG_SCALE_SPAN = 100.0
FRONT_LOG_SPAN = 10.0
"""Sizes on a Pareto panel spanning more than a decade (a baseline beside small students) go on a log axis."""
"""A positive parameter whose values span more than this factor is plotted on a log axis."""
PANEL_COLUMNS = 6


def plot_group_curves(group: Group, path: Path, plt: Any) -> None:
    figure, (losses, scores) = plt.subplots(1, 2, figsize=(11, 4))
    styles = ["-", "--", ":", "-."]
    for index, run in enumerate(group.runs):
        style = styles[index % len(styles)]
        for color, name in zip(("black", "tab:purple", "tab:orange"), LOSSES):
            points = [(row["step"], row[f"{name}_step"]) for row in run.steps if _number(row.get(f"{name}_step")) is not None]
            if points:
                steps, values = zip(*points)
                losses.plot(steps, _moving_average(values), style, color=color, linewidth=1,
                            label=f"{name.removeprefix('train/')} (seed {run.seed})")
        for color, name in zip(("tab:blue", "tab:green", "tab:red", "tab:gray"), CURVE_METRICS):
            points = [(row["step"], row[name]) for row in run.evaluations if _number(row.get(name)) is not None]
            if points:
                steps, values = zip(*points)
                scores.plot(steps, values, style, marker="o", markersize=3, color=color, label=f"{name} (seed {run.seed})")
    losses.set(xlabel="training step", ylabel="loss (moving average)", title="training loss")
    scores.set(xlabel="training step", ylabel="score", title="evaluations")
    for axes in (losses, scores):
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=6)
    figure.suptitle(group.label + (" (partial)" if group.partial else ""), fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_group_comparison(groups: Sequence[Group], path: Path, plt: Any) -> None:
    """Every configuration's evaluations on shared axes (mean over seeds at each evaluation step)."""
    figure, grid = plt.subplots(1, len(COMPARISON_METRICS), figsize=(4 * len(COMPARISON_METRICS), 3.6), squeeze=False)
    for axes, metric in zip(grid.flat, COMPARISON_METRICS):
        for group in groups:
            by_step: dict[float, list[float]] = {}
            for run in group.runs:
                for row in run.evaluations:
                    if _number(row.get(metric)) is not None and _number(row.get("step")) is not None:
                        by_step.setdefault(row["step"], []).append(row[metric])
            if by_step:
                steps = sorted(by_step)
                axes.plot(steps, [statistics.mean(by_step[step]) for step in steps], marker="o", markersize=3, label=group.label)
        axes.set(xlabel="training step", title=metric)
        axes.grid(alpha=0.3)
    grid.flat[0].legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _moving_average(values: Sequence[float]) -> list[float]:
    window = max(1, len(values) // LOSS_SMOOTHING_POINTS)
    sums, averaged = [0.0], []
    for value in values:
        sums.append(sums[-1] + value)
    for index in range(len(values)):
        start = max(0, index + 1 - window)
        averaged.append((sums[index + 1] - sums[start]) / (index + 1 - start))
    return averaged


def plot_fronts(sweeps: Sequence[Sweep], path: Path, plt: Any) -> None:
    panels = front_panels(sweeps)
    figure, grid = plt.subplots(1, len(panels), figsize=(8 * len(panels) if len(panels) == 1 else 6.5 * len(panels), 5),
                                squeeze=False)  # fmt: skip
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color_of = {id(sweep): colors[index % len(colors)] for index, sweep in enumerate(sweeps)}
    for axes, members in zip(grid.flat, panels.values()):
        _plot_front_panel(axes, members, color_of)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_front_panel(axes: Any, sweeps: Sequence[Sweep], color_of: dict[int, str]) -> None:
    score, size = _objectives(sweeps[0])
    xs: list[float] = []
    for sweep in sweeps:
        color = color_of[id(sweep)]
        points = [(o["values"][size["name"]], o["values"][score["name"]]) for o in _completed(sweep)
                  if size["name"] in o.get("values", {}) and score["name"] in o.get("values", {})]
        if points:
            axes.scatter(*zip(*points), s=14, alpha=0.35, color=color, label=f"{sweep.name}: {len(points)} trials")
        front = sorted((o["values"][size["name"]], o["values"][score["name"]]) for o in sweep.pareto.get("frontier", []))
        if front:
            axes.step(*zip(*front), where="post", color=color, linewidth=1.2)
            axes.scatter(*zip(*front), s=40, color=color, edgecolor="black", zorder=3, label=f"{sweep.name}: front")
        xs += [x for x, _ in points]
    threshold = score.get("threshold")
    if threshold is not None:
        axes.axhline(threshold, color="gray", linestyle=":", linewidth=1, label=f"{score['name']} threshold {threshold:g}")
    baseline = sweeps[0].pareto.get("baseline") or {}
    values = baseline.get("values", {})
    if size["name"] in values and score["name"] in values:
        axes.scatter([values[size["name"]]], [values[score["name"]]], marker="*", s=180, color="black", zorder=4,
                     label=baseline.get("label", "baseline"))  # fmt: skip
        xs.append(values[size["name"]])
    positive = [x for x in xs if x > 0]
    if positive and max(positive) / min(positive) > FRONT_LOG_SPAN:
        axes.set_xscale("log")
    axes.set(xlabel=f"{size['name']} (minimize)", ylabel=f"{score['name']} (maximize)",
             title="Pareto fronts" + (f" ({baseline['label']})" if baseline.get("label") else ""))  # fmt: skip
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)


def plot_hypervolume(panels: dict[tuple[Any, ...], list[Sweep]], path: Path, plt: Any, out: Path) -> list[str]:
    figure, grid = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4), squeeze=False)
    lines = ["| sweep | observations | hypervolume at the end | reference point |", "|---|---|---|---|"]
    rows = [["sweep", "observation", "hypervolume", "reference_score", "reference_size"]]
    for axes, members in zip(grid.flat, panels.values()):
        score, size = _objectives(members[0])
        reference = reference_point(members)
        if reference is None:
            continue
        for sweep in members:
            curve = hypervolume_after_each(sweep, reference)
            axes.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=sweep.name)
            rows += [[sweep.name, index + 1, value, reference[0], reference[1]] for index, value in enumerate(curve)]
            stated = f"{score['name']} {reference[0]:g}, {size['name']} {reference[1]:,.0f}"
            lines.append(f"| `{sweep.name}` | {len(curve)} | {curve[-1] if curve else 0:,.4g} | {stated} |")
        axes.set(xlabel="observations (in the order they finished)", ylabel=f"hypervolume ({score['name']} x {size['name']})",
                 title=f"reference: {score['name']} {reference[0]:g}, {size['name']} {reference[1]:.4g}")  # fmt: skip
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    with (out / "hypervolume.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return lines


def plot_trial_times(sweeps: Sequence[Sweep], path: Path, plt: Any) -> list[str]:
    """Each sweep's trial durations (the trial's own wall time: start of its run to its result)."""
    figure, axes = plt.subplots(figsize=(1.6 * len(sweeps) + 3, 3.6))
    data = [trial_minutes(sweep) for sweep in sweeps]
    axes.boxplot([minutes or [math.nan] for minutes in data], showfliers=False)
    for index, minutes in enumerate(data, start=1):
        axes.scatter([index] * len(minutes), minutes, s=10, alpha=0.5)
    axes.set_xticks(range(1, len(sweeps) + 1), [sweep.name for sweep in sweeps], fontsize=8)
    axes.set(ylabel="minutes per trial", title="trial times")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    lines = ["| sweep | trials timed | median min | p90 min | max min | total trial-hours |", "|---|---|---|---|---|---|"]
    for sweep, minutes in zip(sweeps, data):
        if minutes:
            ordered = sorted(minutes)
            p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
            lines.append(f"| `{sweep.name}` | {len(minutes)} | {statistics.median(minutes):.1f} | {p90:.1f} | {max(minutes):.1f} | {sum(minutes) / 60:.2f} |")
    return lines


def plot_parameters(sweeps: Sequence[Sweep], path: Path, plt: Any, skipped: list[str]) -> int:
    score_name = _objectives(sweeps[0])[0]["name"]
    names = sorted({name for sweep in sweeps for o in _completed(sweep) for name in o.get("assignments", {})})
    if not names:
        return 0
    rows = math.ceil(len(names) / PANEL_COLUMNS)
    columns = min(len(names), PANEL_COLUMNS)
    figure, grid = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.2 * rows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axes, name in zip(grid.flat, names):
        every = [o["assignments"][name] for sweep in sweeps for o in _completed(sweep) if name in o.get("assignments", {})]
        numeric = all(_number(value) is not None for value in every)
        categories = sorted({str(value) for value in every}) if not numeric else []
        for index, sweep in enumerate(sweeps):
            points = [(o["assignments"][name], o["values"][score_name]) for o in _completed(sweep)
                      if name in o.get("assignments", {}) and score_name in o.get("values", {})]
            if points:
                xs = [float(x) if numeric else categories.index(str(x)) for x, _ in points]
                axes.scatter(xs, [y for _, y in points], s=8, alpha=0.6, color=colors[index % len(colors)])
        positive = numeric and every and min(float(v) for v in every) > 0
        if positive and max(float(v) for v in every) / min(float(v) for v in every) > LOG_SCALE_SPAN:
            axes.set_xscale("log")
        if categories:
            axes.set_xticks(range(len(categories)), categories, fontsize=6, rotation=30)
            skipped.append(f"parameter `{name}` is categorical: plotted at category positions")
        axes.set_title(name, fontsize=8)
        axes.tick_params(labelsize=6)
    for axes in list(grid.flat)[len(names):]:
        axes.set_visible(False)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colors[index % len(colors)], label=sweep.name)
               for index, sweep in enumerate(sweeps)]  # fmt: skip
    figure.legend(handles=handles, loc="upper right", fontsize=7, title="sweep", title_fontsize=7)
    figure.supylabel(score_name, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return len(names)
