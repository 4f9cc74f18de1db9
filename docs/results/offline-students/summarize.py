"""Tables of the students study from its run directories (and the first study's runs.csv).

    python docs/results/offline-students/summarize.py [--runs outputs/offline-students]

Writes, beside this file: ``evaluations/`` (each run's per-evaluation ``metrics.csv``), ``pilots.csv``
(one row per pilot run), ``runs.csv`` (one row per cell run,
including the first study's pretrained-MiniLM runs with the same recipe, marked by ``source``) and
``summary.md`` (cells grouped: mean +- sample sd over seeds). Regenerating needs only these CSVs'
sources: the run directories' ``metrics.json`` files, not the weights. A run whose directory is gone (a
new checkout: ``outputs/`` is not committed) keeps its row from the published CSV, so that running the
study's later cells in another checkout adds to the tables instead of replacing them.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
FIRST_STUDY = ROOT / "docs" / "results" / "offline-distillation" / "runs.csv"
METRICS = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "best_f1", "num_params", "inference_time")
FIRST_STUDY_CELLS = {  # its configuration -> this study's cell name (same recipe: offline preset, pretrained MiniLM)
    "student.n_layers=3 student.n_heads=12 teacher=none": "L3H12-pretrained-hard",
    "student.n_layers=3 student.n_heads=12 teacher=minilm_squad2_reference": "L3H12-pretrained-T1",
    "student.n_layers=2 student.n_heads=12 teacher=none": "L2H12-pretrained-hard",
    "student.n_layers=2 student.n_heads=12 teacher=minilm_squad2_reference": "L2H12-pretrained-T1",
}
TRIVIAL_SPLIT_B = 47.92
"""best_f1 (= exact = f1) of answering "no answer" to every split-B question (2,777 of 5,795)."""


def finished_runs(root: Path) -> list[tuple[Path, dict]]:
    runs = []
    for done in sorted(root.glob("**/.done")):
        metrics = json.loads((done.parent / "metrics.json").read_text())
        runs.append((done.parent, metrics.get("final", metrics)))
    return runs


def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def copy_evaluations(root: Path) -> None:
    """Each finished run's per-evaluation metrics.csv (a few KB: one row per evaluation) into evaluations/,
    so the curves can be redrawn without the run directories."""
    target = HERE / "evaluations"
    target.mkdir(exist_ok=True)
    for run_dir, _ in finished_runs(root):
        if (run_dir / "metrics.csv").is_file():
            name = "-".join(run_dir.relative_to(root).parts) + ".csv"
            (target / name).write_bytes((run_dir / "metrics.csv").read_bytes())


def published_rows(path: Path, present: set[tuple], key: tuple[str, ...], source: str | None = None) -> list[dict]:
    """Rows of the published CSV whose runs are not among this checkout's finished runs (``present``)."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle)
                if (source is None or row.get("source") == source) and tuple(row[k] for k in key) not in present]


def cell_rows(root: Path) -> list[dict]:
    rows = []
    for run_dir, final in finished_runs(root / "cells"):
        cell, seed = run_dir.parent.name, int(run_dir.name.removeprefix("seed"))
        rows.append({"cell": cell, "seed": seed, "source": "this study", **{m: final.get(m) for m in METRICS}})
    present = {(row["cell"], str(row["seed"])) for row in rows}
    for row in published_rows(HERE / "runs.csv", present, ("cell", "seed"), source="this study"):
        rows.append({**row, "seed": int(row["seed"])})
    with FIRST_STUDY.open() as handle:
        for record in csv.DictReader(handle):
            cell = FIRST_STUDY_CELLS.get(record["configuration"])
            if cell is not None:
                rows.append({"cell": cell, "seed": int(record["seed"]), "source": "offline-distillation study",
                             **{m: float(record[m]) for m in METRICS}})
    return sorted(rows, key=lambda row: (row["cell"], row["seed"]))


def summary_table(rows: list[dict]) -> str:
    cells: dict[str, list[dict]] = {}
    for row in rows:
        cells.setdefault(row["cell"], []).append(row)
    lines = [
        "| cell | runs | exact | f1 | HasAns_f1 | NoAns_exact | best_f1 | best_f1 - trivial | params |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cell, group in sorted(cells.items()):
        def stat(metric: str, group: list[dict] = group) -> str:
            values = [float(row[metric]) for row in group]
            sd = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
            return f"{statistics.mean(values):.2f}{sd}"

        gain = statistics.mean(float(row["best_f1"]) for row in group) - TRIVIAL_SPLIT_B
        params = float(group[0]["num_params"]) / 1e6
        lines.append(f"| {cell} | {len(group)} | {stat('exact')} | {stat('f1')} | {stat('HasAns_f1')} | "
                     f"{stat('NoAns_exact')} | {stat('best_f1')} | {gain:+.2f} | {params:.2f} M |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "outputs" / "offline-students")
    args = parser.parse_args()
    pilots = [
        {"pilot": run_dir.parent.name, "variant": run_dir.name, **{m: final.get(m) for m in METRICS}}
        for stage in ("pilot-layers", "pilot-temperature")
        for run_dir, final in finished_runs(args.runs / stage)
    ]
    pilots += published_rows(HERE / "pilots.csv", {(p["pilot"], p["variant"]) for p in pilots}, ("pilot", "variant"))
    write_csv(HERE / "pilots.csv", pilots)
    rows = cell_rows(args.runs)
    write_csv(HERE / "runs.csv", rows)
    copy_evaluations(args.runs)
    (HERE / "summary.md").write_text(
        "# Students study: cells on all of split B (mean ± sample sd over seeds)\n\n"
        f"Trivial (all no-answer) best_f1 on split B: {TRIVIAL_SPLIT_B}. Generated by summarize.py.\n\n"
        + summary_table(rows) + "\n"
    )
    print((HERE / "summary.md").read_text())


if __name__ == "__main__":
    main()
