"""The shrink study and the held-out re-statement (issue 32): its queue of cells and its published tables.

    nohup .venv/bin/python -m studies.shrink run > outputs/shrink/queue.out 2>&1 &
    .venv/bin/python -m studies.shrink run --list          # the queue and what is done
    .venv/bin/python -m studies.shrink summarize           # from outputs/shrink/: cells/, cells.csv, summary.md, plot
    .venv/bin/python -m studies.shrink summarize --recompute  # from the published files alone

``run``: every cell is one ``train.py`` run of the offline search's trial recipe (``experiment=offline_search``:
3,000 training questions, 1 epoch, the reference MiniLM teacher) evaluated on **all** of split B
(``data.max_eval_examples=null``), then scored under the held-out protocol
(``python -m lightning_distill.squad.heldout_scores``: the null threshold calibrated on select, the
numbers reported on test). ``+trainer.max_steps=0`` cells are evaluation only (a pruned or trimmed
teacher, untrained). A cell whose ``heldout.json`` exists is done; a stopped queue continues where it
stopped (``studies.cell_queue``). Cells run in the order below (most needed first); ``--only NAME ...`` runs just
those. Each cell's directory keeps its ``command.txt`` and the runs' output (``driver.log``).

``summarize``: per cell, ``docs/results/shrink/cells/<cell>/`` keeps what every number is computed from:
``best_non_null.json.gz`` and ``null_odds.json.gz`` (the evaluation on all of split B), ``heldout.json``
(select/test scores), ``metrics.json`` (the run's own final record, incl. num_params and the int8 ONNX size),
``seeding_report.json.gz`` (seeding, FFN neurons kept, vocabulary) and ``command.txt``. ``--recompute`` re-scores
every published cell from those files with ``lightning_distill.squad.heldout_scores`` and checks the committed
``heldout.json`` against it.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from studies import cell_queue
from studies.command_line import study_parser
from studies.layout import OUTPUTS, RESULTS, ROOT, SPLIT_B
from studies.tables import published_trial, trial_settings, write_csv

OUT = OUTPUTS / "shrink"
PUBLISHED = RESULTS / "shrink"

# --- run: the queue -------------------------------------------------------------------------------------------------

BASE = ["experiment=offline_search", "data.eval_part=null", "data.max_eval_examples=null", "deployment_metrics=onnx"]
"""All of split B (the held-out scoring splits it into select and test), the int8 ONNX size and latency measured."""
UNTRAINED = ["+trainer.max_steps=0"]
VOCAB = ["student.vocab={corpus: train, min_count: 1}"]
FFN768 = ["student.ffn_dim=768"]
FRONT = [  # (cell, observations.csv, trial): the published fronts' students, retrained from their settings
    ("front-narrow-random-9", "offline-search-narrow/sweeps/random/observations.csv", "9"),
    ("front-full-random-9", "offline-search/sweeps/random/observations.csv", "9"),
    ("front-full-lite-23", "offline-search/sweeps/lite/observations.csv", "23"),
    ("front-narrow-lite-11", "offline-search-narrow/sweeps/lite/observations.csv", "11"),
    ("front-narrow-random-2", "offline-search-narrow/sweeps/random/observations.csv", "2"),
]
SHAPE_KEYS = ("student.n_layers", "student.n_heads", "student.pruning_seed")


def shape(settings: dict[str, str]) -> list[str]:
    return [f"{key}={settings[key]}" for key in SHAPE_KEYS]


def cells() -> list[tuple[str, list[str]]]:
    """Every cell's name and ``train.py`` overrides, in the order they run."""
    study = [("L6H12-base", []), ("L6H12-vocab", VOCAB), ("L6H12-ffn768", FFN768),
             ("L6H12-both", VOCAB + FFN768), ("L4H12-both", ["student.n_layers=4", *VOCAB, *FFN768])]  # fmt: skip
    # Added after seed 1 of the cells above, chosen on their *select* scores (vocabulary trimming cost nothing,
    # FFN halving 4.6 points): a deeper vocabulary cut, and a milder FFN cut, each reaching <= 15.80 M.
    follow_up = [("L6H12-vocab-mc2", ["student.vocab.min_count=2"]), ("L6H12-vocab-mc4", ["student.vocab.min_count=4"]),
                 ("L6H12-vocab-ffn1344", [*VOCAB, "student.ffn_dim=1344"])]  # fmt: skip
    queue = [("teacher-untrained", UNTRAINED), ("teacher-vocab-untrained", UNTRAINED + VOCAB)]
    queue += [(f"{name}-seed1", ["seed=1", *overrides]) for name, overrides in study]
    queue += [(f"{name}-untrained", UNTRAINED + overrides) for name, overrides in study[2:]]
    queue += [(f"{name}-seed1", ["seed=1", *overrides]) for name, overrides in follow_up]
    # Then, on select again: the trimmed teacher untrained beat every trained cell (the recipe's lr 1e-4 pulls a
    # teacher-seeded student down), so the deeper-cut student with a gentler learning rate, and its untrained seed.
    gentle = [("L6H12-vocab-mc2-lr1e-5", ["student.vocab.min_count=2", "optimizer.learning_rate=1e-5"])]
    queue += [("teacher-vocab-mc2-untrained", UNTRAINED + ["student.vocab.min_count=2"])]
    queue += [(f"{name}-seed1", ["seed=1", *overrides]) for name, overrides in gentle]
    front = [(name, trial_settings(published_trial(RESULTS / path, trial))) for name, path, trial in FRONT]
    queue += [(f"{name}-untrained", UNTRAINED + shape(settings)) for name, settings in front]
    second = ("L6H12-base", "L6H12-vocab-mc2", "L6H12-vocab-mc2-lr1e-5")
    queue += [(f"{name}-seed2", ["seed=2", *overrides]) for name, overrides in study + follow_up + gentle if name in second]
    for name, settings in front[:2]:
        queue += [(name, [f"{key}={value}" for key, value in settings.items()])]  # seed 42, as in the sweeps
        queue += [(f"{name}-default-recipe-seed1", ["seed=1", *shape(settings)])]
    queue += [(f"{name}-seed2", ["seed=2", *overrides]) for name, overrides in study + follow_up if name not in second]
    for name, settings in front[2:]:
        queue += [(name, [f"{key}={value}" for key, value in settings.items()])]
    # Issue 33: the baseline cell under bf16 autocast on this CPU (avx512_bf16), seeds 1 and 2 as its fp32 cells,
    # to decide whether `trainer.precision=auto` may pick bf16 here (only if the objective stays within seed noise).
    queue += [(f"L6H12-base-bf16-seed{seed}", [f"seed={seed}", "trainer.precision=bf16-mixed"]) for seed in (1, 2)]
    return queue


def queue() -> list[cell_queue.Cell]:
    """Each cell: train on BASE + its overrides, then score it under the held-out protocol (``heldout.json``)."""
    steps = []
    for name, overrides in cells():
        run_dir = OUT / name
        train = [sys.executable, "train.py", *BASE, *overrides, f"hydra.run.dir={run_dir.relative_to(ROOT)}"]
        score = [sys.executable, "-m", "lightning_distill.squad.heldout_scores", str(run_dir), "--data", str(SPLIT_B)]
        steps.append(cell_queue.Cell(name, [train, score], done=run_dir / "heldout.json", run_dir=run_dir,
                                     record_command=True, log=run_dir / "driver.log", note=" ".join(overrides)))  # fmt: skip
    return steps


# --- summarize: the published files and tables ----------------------------------------------------------------------

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


def publish(out: Path, published_cells: Path) -> None:
    """Each scored run's small files under ``published_cells/<cell>/`` (the evaluations gzipped)."""
    for run in sorted(out.glob("*/heldout.json")):
        source, target = run.parent, published_cells / run.parent.name
        target.mkdir(parents=True, exist_ok=True)
        for name in COPIED:
            if (source / name).is_file():
                (target / name).write_text(relative_paths((source / name).read_text()))
        for name in GZIPPED:
            with open(source / name, "rb") as plain, gzip.GzipFile(target / f"{name}.gz", "wb", mtime=0) as packed:
                packed.write(plain.read())
        metrics = json.loads((target / "metrics.json").read_text())
        (target / "metrics.json").write_text(json.dumps({"status": metrics["status"], "final": metrics["final"]}, indent=1) + "\n")


def recompute(published_cells: Path) -> int:
    """Re-score every published cell from its committed answers; how many differ from their ``heldout.json``."""
    from lightning_distill.squad.heldout_scores import score_directory

    mismatches = 0
    for cell in sorted(published_cells.iterdir()):
        fresh = score_directory(cell, [SPLIT_B])["headline"]
        committed = json.loads((cell / "heldout.json").read_text())["headline"]
        # every committed number must come back; the scorer may copy more of the run's metrics than it did then
        # (heldout.json gained inference_time_onnx when the metric registry named it, issue 35)
        bad = [key for key in committed if key not in fresh or abs(fresh[key] - committed[key]) > 1e-9]
        mismatches += bool(bad)
        print(f"{cell.name}: {'recomputed, equal' if not bad else f'DIFFERS in {bad}'}")
    return mismatches


def cell_and_seed(name: str) -> tuple[str, str]:
    for seed in ("-seed1", "-seed2"):
        if name.endswith(seed):
            return name[: -len(seed)], seed[1:]
    return name, "seed42" if name.startswith("front-") and not name.endswith("-untrained") else "-"


def rows(published_cells: Path) -> list[dict]:
    table = []
    for cell in sorted(published_cells.iterdir()):
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
        with open(RESULTS / study / "frontier_split_b.csv", newline="") as handle:
            published = next((row for row in csv.DictReader(handle) if (row["sweep"], row["trial"]) == (sweep, trial)), None)
        if published is None:  # on the search's front but not re-scored on all of split B then
            row = published_trial(RESULTS / study / "sweeps" / sweep / "observations.csv", trial)
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


def markdown(summary: dict[str, dict]) -> str:
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


def plot(summary: dict[str, dict], path: Path) -> None:
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
    figure.savefig(path, dpi=120)


def summarize(args: argparse.Namespace) -> int:
    results = args.results_dir
    published_cells = results / "cells"
    if args.recompute:
        return 1 if recompute(published_cells) else 0
    publish(args.outputs, published_cells)
    table = rows(published_cells)
    write_csv(results / "cells.csv", table)
    summary = groups(table)
    (results / "summary.md").write_text(markdown(summary))
    plot(summary, results / "size_vs_f1.png")
    print((results / "summary.md").read_text())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser, _, report = study_parser("studies.shrink", __doc__, run="the queue of cells (resumable)", outputs=OUT,
                                     summarize="publish the cells' files, write cells.csv, summary.md and the plot",
                                     results=PUBLISHED)  # fmt: skip
    report.add_argument("--recompute", action="store_true", help="check the committed heldout.json files against the committed answers")
    args = parser.parse_args(argv)
    if args.command == "run":
        return cell_queue.run_queue(queue(), args)
    return summarize(args)


if __name__ == "__main__":
    sys.exit(main())
