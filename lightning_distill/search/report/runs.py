"""Single runs: a run directory read into a ``Run``, runs grouped by configuration, their table and CSVs.

- Runs are grouped by configuration: runs whose composed configs (``.hydra/config.yaml``) differ
  only in ``seed`` form one group, reported as mean ± sd over seeds (``groups.csv``), each run
  in ``runs.csv``; a group is labelled by the command-line overrides that tell it apart from the
  other groups. Curves per group: total/soft/hard training loss per step (Lightning's CSV log) and
  exact/f1/HasAns_exact/NoAns_exact per evaluation (``metrics.csv``), one line per seed.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lightning_distill.metrics import (
    BEST_F1,
    EXACT,
    F1,
    HAS_ANS_EXACT,
    HAS_ANS_F1,
    INFERENCE_TIME,
    NO_ANS_EXACT,
    NUM_PARAMS,
)
from lightning_distill.search.report.readers import _flatten, _number, _read_csv

RUN_FILES = ("metrics.json", "metrics.csv")
MINUTES = "minutes"
TABLE_METRICS = (*(m.name for m in (EXACT, F1, HAS_ANS_EXACT, HAS_ANS_F1, NO_ANS_EXACT, BEST_F1, NUM_PARAMS, INFERENCE_TIME)), MINUTES)
SEED_KEY = "seed"
HIDDEN_OVERRIDES = ("hydra.", "seed=", "ckpt_path=")
"""Overrides that never tell groups apart (seeds vary within a group; hydra.* only moves outputs; ckpt_path
resumes the same run)."""
NOT_SETTINGS = (SEED_KEY, "ckpt_path")
"""Config keys that do not make a configuration: a resumed run is the run it continues."""


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
    if metric == NUM_PARAMS.name:
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


def _short_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
