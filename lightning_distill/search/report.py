"""``python -m lightning_distill.search.report DIR [DIR ...] --out OUT``: runs and sweeps to ``report.md`` + PNGs.

Every DIR may be a run directory (``metrics.json``/``metrics.csv``), a sweep directory
(``observations.jsonl``/``journal.jsonl`` of ``hydra/sweeper=sigopt``), or any directory above
them (searched recursively; the trials inside a sweep are reported through the sweep). Partial
and in-progress runs and sweeps are reported as far as they got, marked as such, and everything
that could not be used is listed under "Skipped" with the reason.

- Runs are grouped by configuration: runs whose composed configs (``.hydra/config.yaml``) differ
  only in ``seed`` form one group, reported as mean ± sd over seeds (``groups.csv``), each run
  in ``runs.csv``; a group is labelled by the command-line overrides that tell it apart from the
  other groups. Curves per group: total/soft/hard training loss per step (Lightning's CSV log) and
  exact/f1/HasAns_exact/NoAns_exact per evaluation (``metrics.csv``), one line per seed.
- Sweeps: the Pareto front of the two optimized metrics (exact vs trainable parameters) with
  every sweep overlaid, the threshold line and the baseline point (the sweep's own, or a run given
  with ``--baseline``); hypervolume after each observation (reference point stated); the trial
  times; one panel per searched parameter against the score; the frontier students and the failed
  trials as tables. Optuna searches are read after ``lightning_distill.search.optuna_sweep``
  has written them as sweep directories.

Plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hydra_plugins.sigopt_sweeper.api import STOPPED_EARLY, SWEEP_FILE_NAMES, read_sweep
from lightning_distill.search.hypervolume import hypervolume_curve

RUN_FILES = ("metrics.json", "metrics.csv")
CURVE_METRICS = ("exact", "f1", "HasAns_exact", "NoAns_exact")
LOSSES = ("train/loss", "train/soft_loss", "train/hard_loss")
COMPARISON_METRICS = ("exact", "f1", "HasAns_f1", "NoAns_exact")
MINUTES = "minutes"
TABLE_METRICS = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "best_f1", "num_params", "inference_time", MINUTES)
SEED_KEY = "seed"
HIDDEN_OVERRIDES = ("hydra.", "seed=", "ckpt_path=")
"""Overrides that never tell groups apart (seeds vary within a group; hydra.* only moves outputs; ckpt_path
resumes the same run)."""
NOT_SETTINGS = (SEED_KEY, "ckpt_path")
"""Config keys that do not make a configuration: a resumed run is the run it continues."""
LOSS_SMOOTHING_POINTS = 60
"""Training losses are per step and noisy: plotted as a moving average over ~1/60 of the run."""
LOG_SCALE_SPAN = 100.0
FRONT_LOG_SPAN = 10.0
"""Sizes on a Pareto panel spanning more than a decade (a baseline beside small students) go on a log axis."""
"""A positive parameter whose values span more than this factor is plotted on a log axis."""
PANEL_COLUMNS = 6
REFERENCE_SIZE_MARGIN = 1.05
"""Hypervolume's reference size: 5 % above the largest student on the panel (trials and baseline), so
the largest one still adds area when it is good enough (and the issue's "+5 % of the baseline's size")."""
UNREADABLE = (OSError, ValueError, TypeError, AttributeError, KeyError, OmegaConfBaseException)
"""What a malformed or foreign metrics.json / pareto.json / config.yaml raises while being read."""


@dataclass
class Run:
    path: Path
    status: str = "unknown"
    final: dict[str, float] = field(default_factory=dict)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    steps: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] | None = None
    overrides: list[str] = field(default_factory=list)
    minutes: float | None = None
    """Wall time from the run's start (Hydra writes its config) to its last metrics write."""
    teacher: dict[str, Any] | None = None
    """The teacher's own scores on the run's evaluation data (metrics.json ``teacher``; training/teacher_score.py)."""

    @property
    def seed(self) -> Any:
        return None if self.config is None else self.config.get(SEED_KEY)

    def group_key(self) -> str:
        if self.config is None:
            return f"run:{self.path}"
        return json.dumps({k: v for k, v in self.config.items() if k not in NOT_SETTINGS}, sort_keys=True, default=str)


@dataclass
class Sweep:
    path: Path
    observations: list[dict[str, Any]]
    pareto: dict[str, Any] | None
    suggested: int
    budget: int | None
    inferred_strategies: dict[int, str] = field(default_factory=dict)
    """Per trial, lite's phase read off the journal where the sweep predates recorded strategies."""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def in_flight(self) -> int:
        return max(self.suggested - len(self.observations), 0)

    @property
    def lost(self) -> list[Any]:
        """Trials a stopped start left unfinished and the searcher never re-ran (exported Optuna studies)."""
        return list((self.pareto or {}).get("lost_trials", []))

    def in_order(self) -> list[dict[str, Any]]:
        """Observations in the order they finished (trial number where a finish time is missing)."""
        return sorted(self.observations, key=lambda o: (o.get("finished_at") is None, o.get("finished_at") or 0, o.get("trial", 0)))


@dataclass
class Discovery:
    runs: list[Run] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


# -- reading ---------------------------------------------------------------------------------


def discover(paths: Iterable[Path]) -> Discovery:
    found = Discovery()
    for root in paths:
        if not root.exists():
            found.skipped.append(f"`{root}`: does not exist")
            continue
        before = len(found.runs) + len(found.sweeps)
        for directory in _candidate_dirs(root):
            if any((directory / name).is_file() for name in SWEEP_FILE_NAMES):
                _add_sweep(found, directory)
            else:
                _add_run(found, directory)
        if len(found.runs) + len(found.sweeps) == before:
            found.skipped.append(f"`{root}`: no run (metrics.json, metrics.csv) or sweep (observations.jsonl) found in it")
    return found


def _candidate_dirs(root: Path) -> Iterable[Path]:
    """Run and sweep directories at or below ``root``, not descending into either."""
    if not root.is_dir():
        return
    if any((root / name).is_file() for name in SWEEP_FILE_NAMES + RUN_FILES) or (root / ".hydra").is_dir():
        yield root
        return
    for child in sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")):
        yield from _candidate_dirs(child)


def _add_run(found: Discovery, directory: Path) -> None:
    try:
        run = load_run(directory)
    except UNREADABLE as error:
        found.skipped.append(f"`{directory}`: unreadable run files ({type(error).__name__}: {error})")
        return
    if not run.evaluations and not run.final:
        found.skipped.append(f"`{directory}`: run without any evaluation yet (status {run.status})")
        return
    found.runs.append(run)


def _add_sweep(found: Discovery, directory: Path) -> None:
    try:
        sweep = load_sweep(directory, found.skipped)
    except UNREADABLE as error:
        found.skipped.append(f"`{directory}`: unreadable sweep files ({type(error).__name__}: {error})")
        return
    if not sweep.observations:
        found.skipped.append(f"`{directory}`: sweep without observations yet ({sweep.in_flight} trial(s) in flight)")
        return
    found.sweeps.append(sweep)


def load_run(directory: Path) -> Run:
    run = Run(path=directory)
    metrics_json = directory / "metrics.json"
    if metrics_json.is_file():
        document = json.loads(metrics_json.read_text())
        run.final = document.get("final", {})
        # metrics.json written before it had a status: a saved student means training ran to its end
        run.status = document.get("status", "finished" if (directory / "student" / "config.json").is_file() else "unknown")
        run.evaluations = document.get("history", [])
        run.teacher = document.get("teacher")
    if (directory / "metrics.csv").is_file():
        run.evaluations = _read_csv(directory / "metrics.csv")
    elif not metrics_json.is_file():
        run.status = "started"
    logged = sorted((directory / "csv").glob("**/metrics.csv")) if (directory / "csv").is_dir() else []
    if logged:
        run.steps = [row for row in _read_csv(logged[0]) if _number(row.get("train/loss_step")) is not None]
    hydra_dir = directory / ".hydra"
    if (hydra_dir / "config.yaml").is_file():
        run.config = _flatten(OmegaConf.to_container(OmegaConf.load(hydra_dir / "config.yaml"), resolve=False))
    if (hydra_dir / "overrides.yaml").is_file():
        run.overrides = [str(item) for item in OmegaConf.to_container(OmegaConf.load(hydra_dir / "overrides.yaml"))]
    if metrics_json.is_file() and (hydra_dir / "config.yaml").is_file():
        run.minutes = (metrics_json.stat().st_mtime - (hydra_dir / "config.yaml").stat().st_mtime) / 60
    return run


def load_sweep(directory: Path, skipped: list[str]) -> Sweep:
    """Through the sweeper's own reader (``api.read_sweep``): the report never parses the journal itself."""
    files = read_sweep(directory)
    skipped += files.unreadable
    return Sweep(directory, files.observations, files.pareto, len(files.suggested), files.budget, files.inferred_strategies)


def strategy_counts(sweep: Sweep) -> tuple[Counter[str], bool]:
    """Observations per strategy that served them, and whether any count was inferred from the journal."""
    counts: Counter[str] = Counter()
    inferred = False
    for o in sweep.observations:
        strategy = o.get("strategy")
        if strategy is None and o.get("trial") in sweep.inferred_strategies:
            strategy, inferred = sweep.inferred_strategies[o["trial"]], True
        counts[strategy or "not recorded"] += 1
    return counts, inferred


def early_stop_line(sweep: Sweep) -> str:
    """How many trials stopped early as hopeless and the training time that saved (estimated from each
    stopped trial's own pace: its training seconds at stop x the steps it skipped / the steps it ran)."""
    stopped = [o for o in sweep.observations if str(o.get("reason") or "").startswith(STOPPED_EARLY)]
    if not stopped:
        return ""
    saved = 0.0
    for o in stopped:
        metrics = o.get("metrics", {})
        step, planned, seconds = (_number(metrics.get(k)) for k in ("stopped_at_step", "planned_steps", "train_seconds_at_stop"))
        if step and planned and seconds is not None:
            saved += seconds * (planned - step) / step
    spent = sum(d for o in sweep.observations if (d := _number(o.get("duration_s"))) is not None)
    share = f" ({100 * saved / (spent + saved):.0f} % of what the trials would have taken)" if spent + saved > 0 else ""
    return (f"Stopped early as hopeless: {len(stopped)} of {len(sweep.observations)} trials (values at stop reported); "
            f"about {saved / 60:.1f} min of training not run{share}.")  # fmt: skip


TEACHER_METRICS = ("best_f1", "exact", "f1", "HasAns_f1", "NoAns_exact")


def teacher_line(score: dict[str, Any] | None) -> str:
    """The teacher's own scores on the same questions, so a weak or mis-fed teacher shows beside its students."""
    if not score:
        return ""
    values = ", ".join(f"{name} {score['metrics'][name]:.2f}" for name in TEACHER_METRICS if name in score.get("metrics", {}))
    return (f"Teacher on the same evaluation data ({score.get('questions')} questions, fed segment ids: "
            f"{score.get('segment_ids')}): {values}.")  # fmt: skip


def sweep_teacher(sweep: Sweep) -> dict[str, Any] | None:
    """The teacher's score from the first trial that recorded it (every trial of a sweep shares the teacher)."""
    for observation in sweep.observations:
        path = Path(observation.get("output_dir") or "") / "metrics.json"
        if observation.get("output_dir") and path.is_file():
            score = json.loads(path.read_text()).get("teacher")
            if score:
                return score
    return None


def strategy_line(sweep: Sweep) -> str:
    """Which strategies served the sweep, and plainly whether it ever left a random phase."""
    counts, inferred = strategy_counts(sweep)
    if not counts:
        return ""
    listed = ", ".join(f"{name} {count}" for name, count in counts.most_common())
    note = " (inferred from the journal: lite's rule, valid observations <= max(2 x dimensions, 4))" if inferred else ""
    line = f"Suggestions by strategy: {listed}{note}."
    if set(counts) == {"random"}:
        line += (" **This search never left a random phase**: every trial was a random draw, so it says nothing about"
                 " the optimizer's model.")  # fmt: skip
    return line


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="") as handle:
        return [{key: value if (number := _number(value)) is None else number for key, value in row.items()} for row in csv.DictReader(handle)]


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        if not node and prefix:
            return {prefix: {}}
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: node}


# -- runs ------------------------------------------------------------------------------------


@dataclass
class Group:
    label: str
    runs: list[Run]

    @property
    def partial(self) -> bool:
        return any(run.status != "finished" for run in self.runs)

    def stats(self, metric: str) -> tuple[float | None, float | None, int]:
        values = [value for run in self.runs if (value := _value(run, metric)) is not None and math.isfinite(value)]
        if not values:
            return None, None, 0
        return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None, len(values)


def _value(run: Run, metric: str) -> float | None:
    return run.minutes if metric == MINUTES else _number(run.final.get(metric))


def group_runs(runs: Sequence[Run]) -> list[Group]:
    """Runs that differ only in seed, labelled by the overrides that set them apart from the rest."""
    by_key: dict[str, list[Run]] = {}
    for run in runs:
        by_key.setdefault(run.group_key(), []).append(run)
    shown = [[o for o in group[0].overrides if not o.startswith(HIDDEN_OVERRIDES)] for group in by_key.values()]
    common = set.intersection(*(set(overrides) for overrides in shown)) if len(shown) > 1 else set()
    groups = []
    for members, overrides in zip(by_key.values(), shown):
        members.sort(key=lambda run: (str(run.seed), str(run.path)))
        label = " ".join(o for o in overrides if o not in common) or _directory_label(members)
        groups.append(Group(label, members))
    return sorted(groups, key=lambda group: group.label)


def _directory_label(members: Sequence[Run]) -> str:
    """Without a telling override: the seeds' common directory, or a lone run's parent/name."""
    if len(members) > 1:
        return Path(os.path.commonpath([run.path for run in members])).name
    return f"{members[0].path.parent.name}/{members[0].path.name}"


def _format(value: float | None, metric: str) -> str:
    if value is None:
        return ""
    if metric == "num_params":
        return f"{value / 1e6:.2f} M"
    return f"{value:.2f}"


def group_table(groups: Sequence[Group]) -> list[str]:
    header = ["configuration", "seeds", *TABLE_METRICS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in groups:
        cells = [f"`{group.label}`" + (" (partial)" if group.partial else ""), ", ".join(str(run.seed) for run in group.runs)]
        for metric in TABLE_METRICS:
            mean, sd, _ = group.stats(metric)
            cells.append(_format(mean, metric) + ("" if sd is None else f" ± {_format(sd, metric).removesuffix(' M')}"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_run_csvs(groups: Sequence[Group], out: Path) -> None:
    with (out / "runs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "seed", "status", *TABLE_METRICS, "global_step", "run"])
        for group in groups:
            for run in group.runs:
                writer.writerow([group.label, run.seed, run.status, *("" if _value(run, m) is None else _value(run, m) for m in TABLE_METRICS),
                                 run.final.get("global_step", ""), _short_path(run.path)])
    with (out / "groups.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["configuration", "runs", "partial", *(f"{m}_{s}" for m in TABLE_METRICS for s in ("mean", "sd"))])
        for group in groups:
            row = [group.label, len(group.runs), group.partial]
            for metric in TABLE_METRICS:
                mean, sd, _ = group.stats(metric)
                row += ["" if mean is None else round(mean, 6), "" if sd is None else round(sd, 6)]
            writer.writerow(row)


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


# -- sweeps ----------------------------------------------------------------------------------


def _objectives(sweep: Sweep) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(score metric, size metric): the maximized and the minimized optimized metric of pareto.json."""
    if sweep.pareto is None:
        return None
    optimized = [m for m in sweep.pareto.get("metrics", []) if m.get("strategy", "optimize") == "optimize"]
    score = next((m for m in optimized if m.get("objective") == "maximize"), None)
    size = next((m for m in optimized if m.get("objective") == "minimize"), None)
    return (score, size) if score and size else None


def _completed(sweep: Sweep) -> list[dict[str, Any]]:
    return [o for o in sweep.observations if o.get("status") == "completed"]


def front_panels(sweeps: Sequence[Sweep]) -> dict[tuple[Any, ...], list[Sweep]]:
    """Sweeps that can share axes: the same objectives, threshold and baseline (e.g. lite, random and
    NSGA-II over one search). Sweeps of other presets get panels of their own: a 66 M baseline on
    the axes of a smoke search's 1 M students would squash them into one column."""
    panels: dict[tuple[Any, ...], list[Sweep]] = {}
    for sweep in sweeps:
        score, size = _objectives(sweep)
        baseline = (sweep.pareto.get("baseline") or {}).get("label")
        panels.setdefault((score["name"], size["name"], score.get("threshold"), baseline), []).append(sweep)
    return panels


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


def reference_point(sweeps: Sequence[Sweep]) -> tuple[float, float] | None:
    """(score, size) bounding a panel's hypervolume: the score's threshold (else the lowest score seen)
    and ``REFERENCE_SIZE_MARGIN`` x the largest size on the panel (trials and baseline)."""
    score, size = _objectives(sweeps[0])
    points = [o["values"] for sweep in sweeps for o in _completed(sweep) if score["name"] in o.get("values", {}) and size["name"] in o["values"]]
    baseline = (sweeps[0].pareto.get("baseline") or {}).get("values", {})
    sizes = [p[size["name"]] for p in points] + ([baseline[size["name"]]] if size["name"] in baseline else [])
    if not sizes:
        return None
    floor = score.get("threshold")
    if floor is None:
        floor = min(p[score["name"]] for p in points) if points else baseline[score["name"]]
    return float(floor), REFERENCE_SIZE_MARGIN * max(sizes)


def hypervolume_after_each(sweep: Sweep, reference: tuple[float, float]) -> list[float]:
    """Hypervolume (score points x size units) after each observation, failed ones adding nothing."""
    score, size = _objectives(sweep)
    costs = [(-o["values"][score["name"]], o["values"][size["name"]]) if o.get("status") == "completed"
             and score["name"] in o.get("values", {}) and size["name"] in o["values"] else None for o in sweep.in_order()]  # fmt: skip
    return hypervolume_curve(costs, (-reference[0], reference[1]))


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


def trial_minutes(sweep: Sweep) -> list[float]:
    return [o["duration_s"] / 60 for o in sweep.observations if _number(o.get("duration_s")) is not None]


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


def _settings(assignments: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_compact(value)}" for name, value in sorted(assignments.items()))


def _compact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def sweep_tables(sweep: Sweep, report_dir: Path) -> list[str]:
    score, size = _objectives(sweep)
    lines = [f"### Sweep `{sweep.name}`", ""]
    failed = [o for o in sweep.observations if o.get("status") == "failed"]
    budget = f" of a budget of {sweep.budget}" if sweep.budget else ""
    progress = (f"{len(sweep.observations)} observations{budget}: {len(_completed(sweep))} completed, {len(failed)} failed"
                f"{f', {sweep.in_flight} in flight' if sweep.in_flight else ''}"
                f"{f', {len(sweep.lost)} lost (trials {sweep.lost}: started, never finished, not re-run)' if sweep.lost else ''}.")
    partial = sweep.in_flight or (sweep.budget and len(sweep.observations) < sweep.budget)
    lines += [("**In progress / partial.** " if partial else "") + progress, ""]
    for line in (teacher_line(sweep_teacher(sweep)), strategy_line(sweep), early_stop_line(sweep)):
        if line:
            lines += [line, ""]
    frontier = sorted(sweep.pareto.get("frontier", []), key=lambda o: o["values"].get(size["name"], 0))
    threshold = score.get("threshold")
    meets = f"{score['name']} >= {threshold:g} (its threshold)" if threshold is not None else f"{score['name']} (no threshold)"
    lines += [f"Frontier ({len(frontier)} students, {meets}, not dominated):", ""]
    if not frontier:
        lines += [_no_frontier_line(sweep, score), "", f"Failed trials ({len(failed)}):", ""]
        lines += _failed_rows(failed)
        return lines
    header = ["trial", size["name"], score["name"], "f1", "inference_time", "settings", "checkpoint"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for o in frontier:
        metrics = {**o.get("metrics", {}), **o.get("values", {})}
        checkpoint = _relative(o.get("checkpoint"), report_dir) if o.get("checkpoint") else "(deleted or not saved)"
        lines.append("| " + " | ".join([str(o["trial"]), _format(_number(metrics.get(size["name"])), "num_params" if size["name"] == "num_params" else ""),
                                         _format(_number(metrics.get(score["name"])), ""), _format(_number(metrics.get("f1")), ""),
                                         _format(_number(metrics.get("inference_time")), ""), _settings(o.get("assignments", {})),
                                         f"`{checkpoint}`"]) + " |")
    lines += ["", f"Failed trials ({len(failed)}):", ""]
    return lines + _failed_rows(failed)


def _no_frontier_line(sweep: Sweep, score: dict[str, Any]) -> str:
    """An empty front is a result: say so, and how close the best trial came, instead of an empty table."""
    scored = [(v, o) for o in _completed(sweep) if (v := _number(o.get("values", {}).get(score["name"]))) is not None]
    if not scored:
        return "None: no trial completed."
    value, best = max(scored, key=lambda pair: pair[0])
    value = _format(value, "")
    return f"None: no completed trial reached the threshold (best: trial {best['trial']}, {score['name']} {value})."


def _failed_rows(failed: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    if failed:
        lines += ["| trial | reason | settings |", "|---|---|---|"]
        for o in failed:
            reason = (o.get("reason") or "unknown").replace("|", "/").replace("\n", " ")[:200]
            lines.append(f"| {o['trial']} | {reason} | {_settings(o.get('assignments', {}))} |")
    lines.append("")
    return lines


# -- the report --------------------------------------------------------------------------------


def _baseline_line(sweep: Sweep) -> str:
    score, size = _objectives(sweep)
    baseline = sweep.pareto["baseline"]
    values = baseline.get("values", {})
    shown = ", ".join(f"{m['name']} {_format(_number(values.get(m['name'])), m['name'])}" for m in (score, size) if m["name"] in values)
    return f"Baseline point (`{baseline.get('label', 'baseline')}`): {shown or 'no value of the optimized metrics'}.\n"


def load_baseline(spec: str) -> dict[str, Any]:
    """``RUN_DIR[=LABEL]`` (or a run's metrics.json): a run's final metrics as the sweeps' baseline point.

    A metrics.json alone is accepted because run directories (with their checkpoints) are rarely kept
    where results are published."""
    source, _, label = spec.partition("=")
    path = Path(source)
    metrics = path if path.suffix == ".json" else path / "metrics.json"
    if not metrics.is_file():
        raise ValueError(f"--baseline {spec}: {metrics} does not exist (give a finished run's directory or its metrics.json)")
    final = json.loads(metrics.read_text()).get("final", {})
    name = path.parent.name if path.suffix == ".json" else path.name
    return {"label": label or name, "values": {k: v for k, v in final.items() if _number(v) is not None}}


def write_report(paths: Sequence[Path], out: Path, title: str = "lightning-distill report", command: str | None = None,
                 baseline: dict[str, Any] | None = None) -> Path:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("curves-*.png"):  # curve names follow the labels, which change as runs are added
        stale.unlink()
    found = discover(paths)
    lines = [f"# {title}", ""]
    if command:
        lines += [f"Generated by `{command}`.", ""]
    if found.runs:
        groups = group_runs(found.runs)
        write_run_csvs(groups, out)
        summary = (
            f"{len(found.runs)} runs in {len(groups)} configurations (runs that differ only in `seed` are one "
            "configuration: mean ± sd over seeds; sd needs two). Final values of each run; per-run values in "
            "[runs.csv](runs.csv), per configuration in [groups.csv](groups.csv). `num_params` is trainable "
            "parameters, `inference_time` ms per example (README's protocol), `minutes` the wall time of a run "
            "(from its start to its last metrics write)."
        )
        lines += ["## Runs", "", summary, ""]
        lines += group_table(groups) + [""]
        teachers = {run.teacher.get("key"): run.teacher for run in found.runs if run.teacher}
        lines += [line for score in teachers.values() for line in (teacher_line(score), "")]
        partial = [run for run in found.runs if run.status != "finished"]
        if partial:
            lines += [f"Partial: {len(partial)} run(s) not finished (values are from their last evaluation): "
                      + ", ".join(f"`{_short_path(run.path)}` ({run.status})" for run in partial), ""]
        lines += ["### Curves", ""]
        if len(groups) > 1:
            plot_group_comparison(groups, out / "evaluations.png", plt)
            lines += ["Every configuration's evaluations (mean over its seeds):", "", "![evaluations](evaluations.png)", ""]
        for index, group in enumerate(groups):
            name = f"curves-{index + 1:02d}-{_slug(group.label)}.png"
            plot_group_curves(group, out / name, plt)
            missing = [f"seed {run.seed}" for run in group.runs if not run.steps]
            lines += [f"`{group.label}`" + (f" (no per-step training log for {', '.join(missing)})" if missing else ""), "",
                      f"![curves of {group.label}]({name})", ""]
            found.skipped += [f"`{_short_path(run.path)}`: no per-step loss log (csv/metrics.csv); loss curve left out"
                              for run in group.runs if not run.steps]
    usable = [sweep for sweep in found.sweeps if _objectives(sweep) is not None]
    found.skipped += [f"`{sweep.path}`: no pareto.json with a maximized and a minimized optimized metric; sweep left out"
                      for sweep in found.sweeps if sweep not in usable]
    if usable:
        for sweep in usable:
            if baseline and not sweep.pareto.get("baseline"):
                sweep.pareto["baseline"] = baseline
        plot_fronts(usable, out / "pareto.png", plt)
        panels = plot_parameters(usable, out / "parameters.png", plt, found.skipped)
        lines += ["## Sweeps", "", "![Pareto fronts](pareto.png)", ""]
        lines += [_baseline_line(sweep) for sweep in usable[:1] if sweep.pareto.get("baseline")]
        hypervolume = plot_hypervolume(front_panels(usable), out / "hypervolume.png", plt, out)
        explained = (f"The area each sweep's completed trials dominate, bounded by the reference point (the score's threshold; "
                     f"the size {REFERENCE_SIZE_MARGIN:g} x the largest student on the panel), after each observation in the "
                     "order they finished ([hypervolume.csv](hypervolume.csv)):")  # fmt: skip
        lines += ["### Hypervolume", "", explained, "", "![hypervolume](hypervolume.png)", "", *hypervolume, ""]
        times = plot_trial_times(usable, out / "trial_times.png", plt)
        lines += ["### Trial times", "", "![trial times](trial_times.png)", "", *times, ""]
        if panels:
            lines += [f"Each searched parameter ({panels}) against {_objectives(usable[0])[0]['name']}, completed trials:", "",
                      "![parameters](parameters.png)", ""]
        for sweep in usable:
            lines += sweep_tables(sweep, out)
    if not found.runs and not usable:
        lines += ["Nothing to report: no run with an evaluation and no sweep with observations.", ""]
    lines += ["## Skipped", ""] + ([f"- {reason}" for reason in found.skipped] or ["Nothing."]) + [""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_")[:80] or "run"


def _short_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _relative(path: str, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:
        return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lightning_distill.search.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="run directories, sweep directories, or directories above them")
    parser.add_argument("--out", type=Path, required=True, help="directory for report.md, PNGs and CSVs")
    parser.add_argument("--title", default="lightning-distill report")
    parser.add_argument("--baseline", metavar="RUN_DIR_OR_METRICS_JSON[=LABEL]",
                        help="a finished run drawn as the baseline point on sweeps that have none of their own")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        baseline = load_baseline(args.baseline) if args.baseline else None
    except ValueError as error:
        parser.error(str(error))
    command = "python -m lightning_distill.search.report " + " ".join(str(p) for p in args.dirs) + f" --out {args.out}"
    command += f" --baseline {args.baseline}" if args.baseline else ""
    report = write_report(args.dirs, args.out, args.title, command, baseline)
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
