"""Sweeps: a sweep directory read into a ``Sweep`` (through the sweeper's own reader), what served and stopped
its trials, its frontier and failed trials as tables, the baseline point, and the hypervolume after each trial.

- Sweeps: the Pareto front of the two optimized metrics (exact vs trainable parameters) with
  every sweep overlaid, the threshold line and the baseline point (the sweep's own, or a run given
  with ``--baseline``); hypervolume after each observation (reference point stated); the trial
  times; one panel per searched parameter against the score; the frontier students and the failed
  trials as tables. Optuna searches are read after ``lightning_distill.search.optuna_sweep``
  has written them as sweep directories.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra_plugins.sigopt_sweeper.api import STOPPED_EARLY, read_sweep
from lightning_distill.metrics import BEST_F1, F1, HEADLINE, INFERENCE_TIME, NUM_PARAMS
from lightning_distill.search.hypervolume import hypervolume_curve
from lightning_distill.search.report.readers import _number
from lightning_distill.search.report.runs import _format

REFERENCE_SIZE_MARGIN = 1.05
"""Hypervolume's reference size: 5 % above the largest student on the panel (trials and baseline), so
the largest one still adds area when it is good enough (and the issue's "+5 % of the baseline's size")."""


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


def early_stop_savings(sweep: Sweep) -> tuple[int, float, float]:
    """Trials stopped early as hopeless, the training seconds that saved (estimated from each stopped trial's own
    pace: its training seconds at stop x the steps it skipped / the steps it ran) and the seconds the trials took."""
    stopped = [o for o in sweep.observations if str(o.get("reason") or "").startswith(STOPPED_EARLY)]
    saved = 0.0
    for o in stopped:
        metrics = o.get("metrics", {})
        step, planned, seconds = (_number(metrics.get(k)) for k in ("stopped_at_step", "planned_steps", "train_seconds_at_stop"))
        if step and planned and seconds is not None:
            saved += seconds * (planned - step) / step
    spent = sum(d for o in sweep.observations if (d := _number(o.get("duration_s"))) is not None)
    return len(stopped), saved, spent


def early_stop_line(sweep: Sweep) -> str:
    """How many trials stopped early as hopeless and the training time that saved (``early_stop_savings``)."""
    stopped, saved, spent = early_stop_savings(sweep)
    if not stopped:
        return ""
    share = f" ({100 * saved / (spent + saved):.0f} % of what the trials would have taken)" if spent + saved > 0 else ""
    return (f"Stopped early as hopeless: {stopped} of {len(sweep.observations)} trials (values at stop reported); "
            f"about {saved / 60:.1f} min of training not run{share}.")  # fmt: skip


TEACHER_METRICS = (BEST_F1.name, *HEADLINE)


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


def trial_minutes(sweep: Sweep) -> list[float]:
    return [o["duration_s"] / 60 for o in sweep.observations if _number(o.get("duration_s")) is not None]


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
    header = ["trial", size["name"], score["name"], F1.name, INFERENCE_TIME.name, "settings", "checkpoint"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for o in frontier:
        metrics = {**o.get("metrics", {}), **o.get("values", {})}
        checkpoint = _relative(o.get("checkpoint"), report_dir) if o.get("checkpoint") else "(deleted or not saved)"
        lines.append("| " + " | ".join([str(o["trial"]), _format(_number(metrics.get(size["name"])), NUM_PARAMS.name if size["name"] == NUM_PARAMS.name else ""),
                                         _format(_number(metrics.get(score["name"])), ""), _format(_number(metrics.get(F1.name)), ""),
                                         _format(_number(metrics.get(INFERENCE_TIME.name)), ""), _settings(o.get("assignments", {})),
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


def _relative(path: str, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:
        return path
