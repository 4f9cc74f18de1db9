"""Issue 33's real confirmation, summarized: hypervolume per searcher and seed on select, paired differences, the
strategy that served each suggestion and the training time early stopping saved.

    .venv/bin/python docs/results/search-comparison-real/summarize.py [--outputs DIR]

Reads the queue's sweeps (``run_study.py``; ``--outputs``: where it ran, default ``outputs/search-comparison-real``):
lite's sweep directories as they are, the Optuna studies exported into the sweeper's format first
(``lightning_distill.search.optuna_sweep``). Writes ``summary.md``, ``hypervolume.csv`` and each sweep's
``observations.csv`` / ``pareto.json`` under ``sweeps/`` here. Works on a partial study: a missing or unfinished
sweep is listed as such.

Hypervolume is taken over each search's **new** trials (the warm start is the same for all, so it is left out of
every front) and over warm start + new trials (how far each search moved the front the user already had), both
with one reference point for all: best_f1 48.62 (the threshold: answering nothing on select, + 1) and 1.1 x the
largest student seen. Units: best_f1 points x M parameters.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_study import BUDGET, OPTUNA_PRESET, SEARCHERS, SEEDS, WARM_RANDOM

from hydra_plugins.sigopt_sweeper.api import read_sweep
from lightning_distill.search.hypervolume import hypervolume
from lightning_distill.search.report import early_stop_line, load_sweep, strategy_line

THRESHOLD = 48.62
SIZE_MARGIN = 1.1
M = 1e6


def sweep_dir(outputs: Path, name: str) -> Path | None:
    """The sweep in the sweeper's format: lite's own directory, or an Optuna study exported next to its parts."""
    searcher = name.split("-")[0]
    if searcher not in OPTUNA_PRESET:
        return outputs / name if (outputs / name / "observations.jsonl").is_file() else None
    from lightning_distill.search.optuna_sweep import export

    db, parts = outputs / f"{name}.db", sorted((outputs / name).glob("part-*"))
    if not db.is_file() or not parts:
        return None
    out = outputs / f"{name}-export"
    export(f"sqlite:///{db}", OPTUNA_PRESET[searcher][1], parts, out)
    return out


def points(directory: Path) -> list[tuple[float, float]]:
    return [(-o["values"]["best_f1"], o["values"]["num_params"] / M) for o in read_sweep(directory).observations
            if o.get("status") == "completed" and {"best_f1", "num_params"} <= set(o.get("values", {}))]  # fmt: skip


def paid_points() -> list[tuple[float, float]]:
    with open(HERE / "paid.csv", newline="") as handle:
        return [(-float(row["best_f1"]), float(row["num_params"]) / M) for row in csv.DictReader(handle)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs", type=Path, default=ROOT / "outputs" / "search-comparison-real")
    args = parser.parse_args()
    names = [f"{searcher}-seed{seed}" for seed in SEEDS for searcher in SEARCHERS]
    dirs = {"warm-random": args.outputs / "warm-random", **{name: sweep_dir(args.outputs, name) for name in names}}
    found = {name: path for name, path in dirs.items() if path is not None and path.is_dir()}
    warm = paid_points() + (points(found["warm-random"]) if "warm-random" in found else [])
    every = warm + [p for name, path in found.items() if name != "warm-random" for p in points(path)]
    reference = (-THRESHOLD, SIZE_MARGIN * max(size for _, size in every))
    rows, lines = [], []
    for name, path in found.items():
        sweep = load_sweep(path, [])
        new = points(path)
        budget = WARM_RANDOM if name == "warm-random" else BUDGET
        rows.append({"sweep": name, "observations": len(sweep.observations), "budget": budget,
                     "hv_new": round(hypervolume(new, reference), 3),
                     "hv_warm_plus_new": round(hypervolume(warm + new, reference), 3) if name != "warm-random" else "",
                     "best_f1_max": round(max((-x for x, _ in new), default=float("nan")), 2)})  # fmt: skip
        lines += [f"- `{name}`: {strategy_line(sweep)} {early_stop_line(sweep)}".rstrip()]
        target = HERE / "sweeps" / name
        target.mkdir(parents=True, exist_ok=True)
        for file in ("observations.csv", "observations.jsonl", "pareto.json"):
            if (path / file).is_file():  # published without this machine's paths
                text = (path / file).read_text().replace(str(args.outputs), "outputs/search-comparison-real")
                (target / file).write_text(text)
    with open(HERE / "hypervolume.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    by_name = {row["sweep"]: row for row in rows if row["observations"] >= row["budget"]}  # only finished searches pair
    pairs = []
    for other in ("random", "motpe"):
        differences = [by_name[f"lite-seed{s}"]["hv_new"] - by_name[f"{other}-seed{s}"]["hv_new"] for s in SEEDS
                       if f"lite-seed{s}" in by_name and f"{other}-seed{s}" in by_name]  # fmt: skip
        if differences:
            se = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else float("nan")
            pairs.append(f"| lite − {other} | {len(differences)} | {statistics.mean(differences):+.3f} | {se:.3f} |")
    missing = [name for name in ["warm-random", *names] if name not in found]
    summary = [
        "# The real confirmation: summary (generated by `summarize.py`)", "",
        (f"Reference point: best_f1 {THRESHOLD}, size {reference[1]:.2f} M. Warm start: {len(warm)} observations "
         "(paid.csv + warm-random), the same for every search."), "",
        *(["**Partial.** Not run yet: " + ", ".join(f"`{name}`" for name in missing), ""] if missing else []),
        "| sweep | observations | budget | hypervolume, new trials | hypervolume, warm start + new | best best_f1 |",
        "|---|---|---|---|---|---|",
        *[f"| `{r['sweep']}` | {r['observations']} | {r['budget']} | {r['hv_new']} | {r['hv_warm_plus_new']} | {r['best_f1_max']} |"
          for r in rows],
        "", f"Warm start alone: hypervolume {hypervolume(warm, reference):.3f}.", "",
        "Paired by seed (new trials' hypervolume):", "", "| difference | seeds | mean | se |", "|---|---|---|---|",
        *(pairs or ["| (no pair of finished searches yet) | | | |"]), "", "Per sweep:", "", *lines, "",
    ]  # fmt: skip
    (HERE / "summary.md").write_text("\n".join(summary))
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
