"""The benchmark's CSV files, appended cell by cell so an interrupted run resumes.

A cell is one search: (problem, contender, budget, parallelism, seed). ``curves.csv`` gets its
hypervolume curve first, ``cells.csv`` its summary row last: a cell counts as finished only once
its row is in ``cells.csv``, and curve rows of unfinished cells are ignored when reading. Each
cell's rows go out in one append, so two runs with disjoint selections may share the files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

CELLS = "cells.csv"
CURVES = "curves.csv"


@dataclass(frozen=True)
class CellKey:
    problem: str
    contender: str
    budget: int
    parallelism: int
    seed: int


@dataclass(frozen=True)
class CellResult:
    key: CellKey
    hypervolume: float
    failed_share: float
    optimizer_wall_s: float
    optimizer_cpu_s: float
    simulated_hours: float
    curve: list[tuple[int, float]]
    """(finished trials, hypervolume) points."""


KEY_FIELDS = [field.name for field in fields(CellKey)]
CELL_FIELDS = [*KEY_FIELDS, "hypervolume", "failed_share", "optimizer_wall_s", "optimizer_cpu_s", "simulated_hours"]
CURVE_FIELDS = [*KEY_FIELDS, "trials", "hypervolume"]


def finished(out: Path) -> set[CellKey]:
    return {_key(row) for row in _rows(out / CELLS)}


def append(out: Path, result: CellResult) -> None:
    out.mkdir(parents=True, exist_ok=True)
    key = asdict(result.key)
    curve = [{**key, "trials": trials, "hypervolume": value} for trials, value in result.curve]
    _append_rows(out / CURVES, CURVE_FIELDS, curve)
    cell = {
        **key,
        "hypervolume": result.hypervolume,
        "failed_share": result.failed_share,
        "optimizer_wall_s": result.optimizer_wall_s,
        "optimizer_cpu_s": result.optimizer_cpu_s,
        "simulated_hours": result.simulated_hours,
    }
    _append_rows(out / CELLS, CELL_FIELDS, [cell])


def read_cells(out: Path) -> list[dict[str, object]]:
    return [_typed(row) for row in _rows(out / CELLS)]


def read_curves(out: Path) -> list[dict[str, object]]:
    done = finished(out)
    return [_typed(row) for row in _rows(out / CURVES) if _key(row) in done]


def _append_rows(path: Path, names: list[str], rows: Iterable[dict[str, object]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    if not path.exists():
        writer.writeheader()
    writer.writerows(rows)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(buffer.getvalue())  # one write: rows of concurrent runs do not interleave


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as stream:
        return [row for row in csv.DictReader(stream) if row.get("seed") not in (None, "", "seed")]


def _key(row: dict[str, str]) -> CellKey:
    return CellKey(row["problem"], row["contender"], int(row["budget"]), int(row["parallelism"]), int(row["seed"]))


def _typed(row: dict[str, str]) -> dict[str, object]:
    typed: dict[str, object] = dict(row)
    for name in ("budget", "parallelism", "seed", "trials"):
        if name in row:
            typed[name] = int(row[name])
    for name in ("hypervolume", "failed_share", "optimizer_wall_s", "optimizer_cpu_s", "simulated_hours"):
        if name in row:
            typed[name] = float(row[name])
    return typed
