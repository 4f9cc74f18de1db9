"""Warm start: observations of earlier sweeps that a new experiment starts from (``hydra.sweeper.warm_start``).

A user who already paid for trials should not pay again for the optimizer's random phase: lite serves random
points while its valid observations are <= max(2 x dimensions, 4), and SigOpt's service has an initial phase
of its own. The earlier observations enter the experiment before its first suggestion (lite: as assignment
observations; the api driver: as observations on the server, with no suggestion), never as trials of this
sweep: they count towards no budget and are not re-run.

An observation enters only if it is an observation of *this* problem:
- its assignments name exactly this space's parameters, each inside its bounds or among its values
  (``outside the space``); a parameter searched then but fixed now, or the reverse, is a different problem;
- a completed one has a value for every metric of this sweep (``other metrics``); a failed one needs none,
  and enters as a failure (lite and SigOpt learn where trials fail).
Anything else is skipped and counted per reason, so a user sees what their earlier sweep was worth.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra_plugins.sigopt_sweeper._experiment import ExperimentSpec
from hydra_plugins.sigopt_sweeper._search_space import Parameter
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
from hydra_plugins.sigopt_sweeper._trial import COMPLETED, FAILED, Observation

OBSERVATIONS_JSONL = "observations.jsonl"
OBSERVATIONS_CSV = "observations.csv"
CSV_FIELDS = frozenset({"trial", "status", "strategy", "duration_s", "reason", "output_dir"})
"""observations.csv columns that are neither parameters nor metrics."""
OUTSIDE = "outside the space"
OTHER_METRICS = "other metrics"
UNREADABLE = "unreadable"
KEY = "hydra.sweeper.warm_start"


@dataclass
class WarmStart:
    sources: list[str] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items())) or "none"
        failed = sum(observation.failed for observation in self.observations)
        return (f"warm start from {len(self.sources)} source(s): {len(self.observations)} observations enter the "
                f"experiment ({failed} failed); skipped: {skipped}")  # fmt: skip

    def to_record(self) -> dict[str, Any]:
        return {"sources": self.sources, "observations": [asdict(o) for o in self.observations],
                "skipped": dict(self.skipped)}  # fmt: skip

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> WarmStart:
        return cls(list(record["sources"]), [Observation(**item) for item in record["observations"]],
                   Counter(record.get("skipped", {})))  # fmt: skip


def read_warm_start(sources: Sequence[str], spec: ExperimentSpec) -> WarmStart:
    """The observations of ``sources`` that belong to ``spec``'s problem, and what was skipped and why."""
    warm = WarmStart(sources=[str(source) for source in sources])
    for source in sources:
        for record in _records(Path(str(source)), spec):
            observation, reason = _accepted(record, spec)
            if observation is None:
                warm.skipped[reason] += 1
            else:
                warm.observations.append(observation)
    return warm


def _records(path: Path, spec: ExperimentSpec) -> Iterable[dict[str, Any]]:
    if path.is_dir():
        path = path / OBSERVATIONS_JSONL
    if not path.is_file():
        raise SweepConfigError(f"{KEY}: {path} does not exist; give earlier sweep directories (holding "
                               f"{OBSERVATIONS_JSONL}) or their {OBSERVATIONS_JSONL} / {OBSERVATIONS_CSV} files.")  # fmt: skip
    if path.suffix == ".csv":
        return _csv_records(path, spec)
    if path.suffix == ".jsonl":
        return _jsonl_records(path)
    raise SweepConfigError(f"{KEY}: {path} is neither a sweep directory nor an {OBSERVATIONS_JSONL} / .csv file.")


def _jsonl_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = {}
        records.append(record if isinstance(record, dict) else {})
    return records


def _csv_records(path: Path, spec: ExperimentSpec) -> list[dict[str, Any]]:
    """observations.csv rows as observation records. A column is a parameter if this space searches it or its
    name is a dotted config key (``student.n_layers``: so a parameter searched then but not now still reads as
    one, and the row is refused); the other columns are metrics (the earlier sweep's, which may be more)."""
    metric_names = {metric.name for metric in spec.metrics}
    searched = {parameter.name for parameter in spec.space.parameters}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    records = []
    for row in rows:
        assignments = {k: _cell(v) for k, v in row.items()
                       if k not in CSV_FIELDS and k not in metric_names and (k in searched or "." in k)}  # fmt: skip
        values = {k: _cell(v) for k, v in row.items() if k in metric_names and v not in ("", None)}
        records.append({"trial": _cell(row.get("trial", "")), "status": row.get("status"), "assignments": assignments,
                        "values": values, "reason": row.get("reason") or None})  # fmt: skip
    return records


def _cell(text: str | None) -> Any:
    if text is None or text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _accepted(record: Mapping[str, Any], spec: ExperimentSpec) -> tuple[Observation | None, str]:
    status, assignments = record.get("status"), record.get("assignments")
    if status not in (COMPLETED, FAILED) or not isinstance(assignments, dict):
        return None, UNREADABLE
    parameters = {parameter.name: parameter for parameter in spec.space.parameters}
    if set(assignments) != set(parameters) or not all(_inside(parameters[k], v) for k, v in assignments.items()):
        return None, OUTSIDE
    trial = record.get("trial") if isinstance(record.get("trial"), int) else -1
    typed = {name: _typed(parameters[name], value) for name, value in assignments.items()}
    base = {"trial": trial, "suggestion_id": f"warm-{trial}", "assignments": typed, "status": status}
    if status == FAILED:
        return Observation(reason=record.get("reason"), **base), ""
    values = record.get("values") or {}
    names = [metric.name for metric in spec.metrics]
    if not all(_number(values.get(name)) for name in names):
        return None, OTHER_METRICS
    return Observation(values={name: float(values[name]) for name in names}, **base), ""


def _typed(parameter: Parameter, value: Any) -> Any:
    """The value as the optimizer wants this parameter's (an int as int, a categorical as its own text)."""
    if parameter.categorical_values is not None:
        return next(choice for choice in parameter.categorical_values if choice == str(value))
    return int(value) if parameter.type == "int" else float(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _inside(parameter: Parameter, value: Any) -> bool:
    if parameter.categorical_values is not None:
        return str(value) in parameter.categorical_values
    if not _number(value):
        return False
    if parameter.grid is not None:
        return any(math.isclose(float(value), point) for point in parameter.grid)
    if parameter.type == "int" and float(value) != int(value):
        return False
    low, high = parameter.bounds  # type: ignore[misc]
    return low <= float(value) <= high
