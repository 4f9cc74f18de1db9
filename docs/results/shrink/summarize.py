"""Publish the shrink study: copy each finished cell's small files and write the tables, targets and plot.

    .venv/bin/python docs/results/shrink/summarize.py            # from outputs/shrink/ (run_study.py's cells)
    .venv/bin/python docs/results/shrink/summarize.py --recompute  # from the published files alone

Per cell, ``cells/<cell>/`` keeps what every number is computed from: ``best_non_null.json.gz`` and
``null_odds.json.gz`` (the evaluation on all of split B), ``heldout.json`` (select/test scores),
``metrics.json`` (the run's own final record, incl. num_params and the int8 ONNX size),
``seeding_report.json.gz`` (seeding, FFN neurons kept, vocabulary) and ``command.txt``. ``--recompute`` re-scores every published cell from those files with
``lightning_distill.squad.heldout_scores`` and checks the committed ``heldout.json`` against it.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = ROOT / "outputs" / "shrink"
CELLS = HERE / "cells"
SPLIT_B = ROOT.parent / "shared" / "data" / "squad_v2" / "dev-v2.0.splitB.json"
COPIED = ("heldout.json", "metrics.json", "command.txt")
GZIPPED = ("best_non_null.json", "null_odds.json", "seeding_report.json")
BASELINE = "L6H12-base"
SMALLER = 0.70  # target 1: at least 30 % fewer parameters than the baseline ...
WITHIN = 1.0  # ... within 1 point of its calibrated test f1
BETTER = 1.0  # target 2: at most the baseline's size, at least +1 calibrated test f1
COLUMNS = ("num_params", "onnx_int8_size_mb", "select_best_f1", "calibrated_threshold", "test_exact", "test_f1",
           "test_exact_calibrated", "test_f1_calibrated", "test_HasAns_f1_calibrated", "test_NoAns_exact_calibrated")  # fmt: skip


def relative_paths(text: str) -> str:
    """This machine's checkout and its shared/ folder as the repository-relative paths they are."""
    return text.replace(f"{ROOT}/", "").replace(f"{ROOT.parent}/", "../")


def publish() -> None:
    for run in sorted(OUT.glob("*/heldout.json")):
        source, target = run.parent, CELLS / run.parent.name
        target.mkdir(parents=True, exist_ok=True)
        for name in COPIED:
            if (source / name).is_file():
                (target / name).write_text(relative_paths((source / name).read_text()))
        for name in GZIPPED:
            with open(source / name, "rb") as plain, gzip.GzipFile(target / f"{name}.gz", "wb", mtime=0) as packed:
                packed.write(plain.read())
        metrics = json.loads((target / "metrics.json").read_text())
        (target / "metrics.json").write_text(json.dumps({"status": metrics["status"], "final": metrics["final"]}, indent=1) + "\n")


def recompute() -> int:
    from lightning_distill.squad.heldout_scores import score_directory

    mismatches = 0
    for cell in sorted(CELLS.iterdir()):
        fresh = score_directory(cell, [SPLIT_B])["headline"]
        committed = json.loads((cell / "heldout.json").read_text())["headline"]
        bad = [key for key in fresh if abs(fresh[key] - committed[key]) > 1e-9]
        mismatches += bool(bad)
        print(f"{cell.name}: {'recomputed, equal' if not bad else f'DIFFERS in {bad}'}")
    return mismatches


def cell_and_seed(name: str) -> tuple[str, str]:
    for seed in ("-seed1", "-seed2"):
        if name.endswith(seed):
            return name[: -len(seed)], seed[1:]
    return name, "seed42" if name.startswith("front-") and not name.endswith("-untrained") else "-"


def rows() -> list[dict]:
    table = []
    for cell in sorted(CELLS.iterdir()):
        headline = json.loads((cell / "heldout.json").read_text())["headline"]
        run = json.loads((cell / "metrics.json").read_text())["final"]  # the run's own evaluation: all of split B
        name, seed = cell_and_seed(cell.name)
        table.append({"cell": name, "seed": seed, **{key: headline.get(key) for key in COLUMNS}, "all_b_best_f1": run["best_f1"]})
    return table


def groups(table: list[dict]) -> dict[str, dict]:
    grouped: dict[str, list[dict]] = {}
    for row in table:
        grouped.setdefault(row["cell"], []).append(row)
    summary = {}
    for name, members in grouped.items():
        summary[name] = {"cell": name, "runs": len(members)}
        for key in (*COLUMNS, "all_b_best_f1"):
            values = [row[key] for row in members if row[key] is not None]
            summary[name][key] = statistics.fmean(values) if values else None
            summary[name][f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else None
    return summary


def targets(summary: dict[str, dict]) -> list[str]:
    base = summary[BASELINE]
    limit, f1 = base["num_params"] * SMALLER, base["test_f1_calibrated"]
    opening = (
        f"Baseline {BASELINE}: {base['num_params'] / 1e6:.2f} M, calibrated test f1 {f1:.2f} "
        f"(threshold 0: {base['test_f1']:.2f}), mean of {base['runs']} seed(s)."
    )
    lines = [opening]
    trained = [row for name, row in summary.items() if not name.endswith("-untrained") and name != BASELINE]
    small = [row for row in trained if row["num_params"] <= limit]
    met = [row for row in small if row["test_f1_calibrated"] >= f1 - WITHIN]
    lines.append(f"Target 1 (<= {limit / 1e6:.2f} M, calibrated test f1 >= {f1 - WITHIN:.2f}): "
                 + ("MET by " + ", ".join(f"{r['cell']} ({r['num_params'] / 1e6:.2f} M, {r['test_f1_calibrated']:.2f})" for r in met)
                    if met else "MISSED; smallest tried: " + ", ".join(f"{r['cell']} ({r['num_params'] / 1e6:.2f} M, "
                    f"{r['test_f1_calibrated']:.2f}, {r['test_f1_calibrated'] - f1:+.2f})" for r in small)))  # fmt: skip
    at_most = [row for row in trained if row["num_params"] <= base["num_params"]]
    better = [row for row in at_most if row["test_f1_calibrated"] >= f1 + BETTER]
    best = max(at_most, key=lambda row: row["test_f1_calibrated"], default=None)
    lines.append(f"Target 2 (<= {base['num_params'] / 1e6:.2f} M, calibrated test f1 >= {f1 + BETTER:.2f}): "
                 + ("MET by " + ", ".join(f"{r['cell']} ({r['test_f1_calibrated']:.2f})" for r in better) if better
                    else f"MISSED; best at that size {best['cell']} {best['test_f1_calibrated']:.2f} "
                    f"({best['test_f1_calibrated'] - f1:+.2f})"))  # fmt: skip
    references = [row for name, row in summary.items() if name.endswith("-untrained")]
    for label, rule in (("Target 1", lambda r: r["num_params"] <= limit and r["test_f1_calibrated"] >= f1 - WITHIN),
                        ("Target 2", lambda r: r["num_params"] <= base["num_params"] and r["test_f1_calibrated"] >= f1 + BETTER)):
        hits = [f"{r['cell']} ({r['num_params'] / 1e6:.2f} M, {r['test_f1_calibrated']:.2f})" for r in references if rule(r)]
        lines.append(f"{label} among the untrained references (a teacher pruned/trimmed, not trained; one evaluation, "
                     f"no seed spread): {', '.join(hits) if hits else 'none'}.")  # fmt: skip
    return lines


FRONTS = {  # cell -> (published frontier table, sweep, trial, shape)
    "front-narrow-random-9": ("offline-search-narrow", "random", "9", "6L/11H"),
    "front-full-random-9": ("offline-search", "random", "9", "5L/11H"),
    "front-full-lite-23": ("offline-search", "lite", "23", "5L/5H"),
    "front-narrow-lite-11": ("offline-search-narrow", "lite", "11", "5L/11H"),
    "front-narrow-random-2": ("offline-search-narrow", "random", "2", "4L/10H"),
}


def restatement(summary: dict[str, dict]) -> str:
    """The published front students next to their re-training, the pruned teacher untrained and the default recipe."""
    header = ("| front student | shape | params (M) | published best_f1 slice / all B | retrained: all-B best_f1 | test f1 @0 "
              "| **test f1 @cal** | pruned teacher untrained @cal | default recipe @cal |")  # fmt: skip
    lines = [header, "|" + "---|" * 9]
    base = summary[BASELINE]
    lines.append(f"| baseline 6L/12H | 6L/12H | {fmt(base['num_params'], 2, 1e6)} | 55.48 / 56.41 | {fmt(base['all_b_best_f1'])} "
                 f"| {fmt(base['test_f1'])} | **{fmt(base['test_f1_calibrated'])}** | {fmt(summary['teacher-untrained']['test_f1_calibrated'])} "
                 f"| (this row) |")  # fmt: skip
    for cell, (study, sweep, trial, shape) in FRONTS.items():
        with open(HERE.parent / study / "frontier_split_b.csv", newline="") as handle:
            published = next((row for row in csv.DictReader(handle) if (row["sweep"], row["trial"]) == (sweep, trial)), None)
        if published is None:  # on the search's front but not re-scored on all of split B then
            with open(HERE.parent / study / "sweeps" / sweep / "observations.csv", newline="") as handle:
                row = next(row for row in csv.DictReader(handle) if row["trial"] == trial)
            published = {"best_f1_slice": f"{float(row['best_f1']):.2f}", "best_f1_full": "-", "num_params": row["num_params"]}
        own, untrained = summary.get(cell), summary.get(f"{cell}-untrained")
        default = summary.get(f"{cell}-default-recipe")
        lines.append(
            f"| {study} {sweep} {trial} | {shape} | {float(published['num_params']) / 1e6:.2f} | {published['best_f1_slice']} / "
            f"{published['best_f1_full']} | {fmt(own and own['all_b_best_f1'])} | {fmt(own and own['test_f1'])} "
            f"| **{fmt(own and own['test_f1_calibrated'])}** | {fmt(untrained and untrained['test_f1_calibrated'])} "
            f"| {fmt(default and default['test_f1_calibrated'])} |"
        )
    return "\n".join(lines)


def fmt(value, digits=2, scale=1.0) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def markdown(summary: dict[str, dict], table: list[dict]) -> str:
    base = summary[BASELINE]
    header = ("| cell | runs | params (M) | vs base | int8 ONNX (MB) | select best_f1 | threshold | test exact @0 | test f1 @0 "
              "| test exact @cal | **test f1 @cal** | ± sd | HasAns_f1 @cal |\n|" + "---|" * 13)  # fmt: skip
    lines = [header]
    for name, row in sorted(summary.items(), key=lambda item: (item[0].endswith("-untrained"), -item[1]["num_params"])):
        lines.append(
            f"| {name} | {row['runs']} | {fmt(row['num_params'], 2, 1e6)} | {100 * (row['num_params'] / base['num_params'] - 1):+.1f} % "
            f"| {fmt(row['onnx_int8_size_mb'], 1)} | {fmt(row['select_best_f1'])} | {fmt(row['calibrated_threshold'])} "
            f"| {fmt(row['test_exact'])} | {fmt(row['test_f1'])} | {fmt(row['test_exact_calibrated'])} "
            f"| **{fmt(row['test_f1_calibrated'])}** | {fmt(row['test_f1_calibrated_sd'])} | {fmt(row['test_HasAns_f1_calibrated'])} |"
        )
    return "\n".join(["## Cells (mean over seeds; every run in cells.csv)", "", *lines, "", "## Targets", "",
                      *(f"- {line}" for line in targets(summary)), "", "## The published fronts re-stated", "",
                      restatement(summary), ""])  # fmt: skip


def plot(summary: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    for name, row in summary.items():
        untrained = name.endswith("-untrained")
        axis.scatter(row["num_params"] / 1e6, row["test_f1_calibrated"], marker="x" if untrained else "o",
                     color="grey" if untrained else ("black" if name == BASELINE else "tab:blue"))  # fmt: skip
        axis.annotate(name, (row["num_params"] / 1e6, row["test_f1_calibrated"]), fontsize=6, xytext=(3, 2), textcoords="offset points")
    base = summary[BASELINE]
    axis.axvline(base["num_params"] * SMALLER / 1e6, color="tab:red", linestyle=":", label="-30 % parameters")
    axis.axhline(base["test_f1_calibrated"] - WITHIN, color="tab:red", linestyle="--", label="baseline f1 - 1")
    axis.set_xlabel("trainable parameters (M)")
    axis.set_ylabel("test f1 at the select-calibrated threshold")
    axis.set_title("Shrink study: o trained (trial recipe), x untrained references")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(HERE / "size_vs_f1.png", dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recompute", action="store_true", help="check the committed heldout.json files against the committed answers")
    args = parser.parse_args()
    if args.recompute:
        return 1 if recompute() else 0
    publish()
    table = rows()
    with open(HERE / "cells.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    summary = groups(table)
    (HERE / "summary.md").write_text(markdown(summary, table))
    plot(summary)
    print((HERE / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
