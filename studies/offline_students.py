"""Students worth searching (issue 21, part 2): teacher seeding, layer rule, temperature.

    nohup .venv/bin/python -m studies.offline_students run > outputs/students.log 2>&1 &   # resumable
    .venv/bin/python -m studies.offline_students run --list     # the queue and what is done
    .venv/bin/python -m studies.offline_students summarize      # pilots.csv, runs.csv, summary.md, evaluations/

``run``: resumable (``studies.cell_queue``): a finished run leaves RUN_DIR/.done and is skipped; an unfinished one
is restarted from scratch. Stages, in order (each later stage reads the choices of the earlier ones from their runs):

1. pilot-layers: which layer rule seeds a 3-layer student from the fine-tuned teacher best
   (match | spread | spread_top), hard labels only;
2. pilot-temperature: T = 1, 2, 4 for the distilled student (soft/hard 0.5/0.5), seeded by the
   winning rule;
3. cells: 3L/12H and 2L/12H x {pretrained MiniLM, teacher-seeded} x {hard, distilled at the best T}
   on all of split B with the `offline` recipe, seed 1 for every cell before any seed 2; then the
   6L/12H teacher-seeded student (the offline baseline point), one seed.

The pilots use a small recipe (3,000 training questions, 1 epoch, the first 600 split-B questions),
as the issue's own measurement did; they pick by best_f1 (the metric the search optimizes, see the
README), ties broken by HasAns_f1, and are **chosen on part of split B**, the evaluation data of the cells: a caveat the README
states. Cells whose configuration the first study already ran with the same recipe (pretrained
MiniLM, hard labels or T = 1) are not re-run: the report takes them from its runs.csv.

``summarize`` writes, into docs/results/offline-students/: ``evaluations/`` (each run's per-evaluation
``metrics.csv``), ``pilots.csv`` (one row per pilot run), ``runs.csv`` (one row per cell run,
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
import sys
from collections.abc import Sequence
from pathlib import Path

from studies import cell_queue
from studies.command_line import study_parser
from studies.layout import OUTPUTS, RESULTS
from studies.tables import write_csv

OUT = OUTPUTS / "offline-students"
PUBLISHED = RESULTS / "offline-students"

# --- run: the pilots, then the queue of cells -----------------------------------------------------------------------

PILOT = ["data.max_train_examples=3000", "data.max_eval_examples=600", "trainer.max_epochs=1"]
FULL = ["trainer.val_check_interval=1.0"]  # curves once per epoch: the final evaluation is the offline recipe's
TEACHER_SEED = "student.seed_from=${paths.reference_teacher_dir}"
LAYER_RULES = ("match", "spread", "spread_top")
TEMPERATURES = (1.0, 2.0, 4.0)
PICK_METRICS = ("best_f1", "HasAns_f1")
"""Pilots pick by best_f1 (the offline search's objective), ties (within 0.1) broken by HasAns_f1: after one
short epoch best_f1 often sits at the all-no-answer level for every variant, while HasAns_f1 still shows
how much span extraction a variant learned."""


def student(out: Path, run_dir: Path, overrides: list[str]) -> cell_queue.Cell:
    """One student of the ``offline`` recipe: its cell is named by its run directory under ``out``."""
    command = [sys.executable, "train.py", "experiment=offline", *overrides, f"hydra.run.dir={run_dir}"]
    return cell_queue.Cell(str(run_dir.relative_to(out)), [command], done=run_dir / ".done", run_dir=run_dir,
                           restart=True, mark_done=True, note=" ".join(overrides))  # fmt: skip


def final_metrics(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return metrics.get("final", metrics)


class Stages:
    """Runs (or, with ``--list``, lists) the stages' cells; each stage's finished runs' final metrics."""

    def __init__(self, args: argparse.Namespace):
        self.listing, self.only = args.list, args.only
        self.failed: list[str] = []
        self.seen: set[str] = set()

    def run(self, cells: list[cell_queue.Cell]) -> dict[str, dict | None]:
        self.seen |= {cell.name for cell in cells}
        if self.listing:
            print("\n".join(cell_queue.listing(cells, self.only, strict=False)), flush=True)
            finished = {cell.name for cell in cells if cell.is_done()}
        else:
            outcome = cell_queue.run_cells(cells, self.only, strict=False)
            self.failed += [name for name, what in outcome.items() if what == cell_queue.FAILED]
            finished = {name for name, what in outcome.items() if what in (cell_queue.DONE, cell_queue.RAN)}
        return {cell.name: final_metrics(cell.run_dir) if cell.name in finished else None for cell in cells}

    def end(self) -> int:
        """0, or 1 if a cell failed; names of ``--only`` that no stage reached are reported."""
        unknown = sorted(set(self.only or ()) - self.seen)
        if unknown:
            print(f"--only: no cell named {', '.join(unknown)} among the stages run (--list shows them)", flush=True)
        return 1 if self.failed or unknown else 0

    def pick(self, results: dict[str, dict | None], stage: str) -> str | None:
        """The variant the pilots pick; ``None`` while listing a stage not finished yet."""
        if self.listing and None in results.values():
            print(f"(the cells after this stage follow its pick, the {stage}: not made yet)", flush=True)
            return None
        scored = {name.split("/")[-1]: (round(m[PICK_METRICS[0]], 1), m[PICK_METRICS[1]])
                  for name, m in results.items() if m is not None}  # fmt: skip
        if not scored:
            raise SystemExit(f"{stage}: no pilot run finished (failed, or left out by --only); see the log above")
        best = max(scored, key=scored.get)  # the first of equals, in the stage's order
        table = ", ".join(f"{name} {a:.1f}/{b:.2f}" for name, (a, b) in scored.items())
        print(f"{stage} ({'/'.join(PICK_METRICS)}): {table} -> {best}", flush=True)
        return best


def run(args: argparse.Namespace) -> int:
    out = args.out
    stages = Stages(args)
    if args.pilot_choices:
        rule, temperature = args.pilot_choices[0], float(args.pilot_choices[1])
        if rule not in LAYER_RULES:
            raise SystemExit(f"--pilot-choices: layer rule {rule!r} is not one of {', '.join(LAYER_RULES)}")
    else:
        rule = stages.pick(stages.run(layer_pilots(out)), "layer rule")
        if rule is None:  # listing, the pilots not finished: the later cells are not known yet
            return 0
        if "pilot-temperature" not in args.stages:
            return stages.end()
        picked = stages.pick(stages.run(temperature_pilots(out, rule)), "temperature")
        if picked is None:
            return 0
        temperature = float(picked.removeprefix("T"))
    later = []
    for seed in args.seeds:  # every cell's seed 1, the baseline point, then seed 2
        if "cells" in args.stages:
            later += cells(out, seed, rule, temperature, args.layers)
        if "baseline" in args.stages and seed == args.seeds[0]:
            later.append(student(out, out / "cells" / f"L6H12-teacher-T{temperature:g}" / "seed1",
                                 [*FULL, "student.n_layers=6", TEACHER_SEED, f"student.layer_seeding={rule}",
                                  f"distillation.temperature={temperature}", "seed=1"]))  # fmt: skip
    stages.run(later)
    return stages.end()


def layer_pilots(out: Path) -> list[cell_queue.Cell]:
    return [student(out, out / "pilot-layers" / rule, [*PILOT, "student.n_layers=3", "teacher=none", TEACHER_SEED,
                                                        f"student.layer_seeding={rule}", "seed=1"])
            for rule in LAYER_RULES]  # fmt: skip


def temperature_pilots(out: Path, rule: str) -> list[cell_queue.Cell]:
    return [student(out, out / "pilot-temperature" / f"T{t:g}", [*PILOT, "student.n_layers=3", TEACHER_SEED,
                                                                  f"student.layer_seeding={rule}",
                                                                  f"distillation.temperature={t}", "seed=1"])
            for t in TEMPERATURES]  # fmt: skip


def cells(out: Path, seed: int, rule: str, temperature: float, depths: list[int]) -> list[cell_queue.Cell]:
    todo = []
    for layers in depths:
        for seeding in ("teacher", "pretrained"):
            for teacher in ("none", "minilm_squad2_reference"):
                if seeding == "pretrained" and (teacher == "none" or temperature == 1.0):
                    continue  # the first study's runs (same recipe)
                seed_overrides = [TEACHER_SEED, f"student.layer_seeding={rule}"] if seeding == "teacher" else []
                t_overrides = [f"distillation.temperature={temperature}"] if teacher != "none" else []
                name = f"L{layers}H12-{seeding}-{'hard' if teacher == 'none' else f'T{temperature:g}'}"
                todo.append(student(out, out / "cells" / name / f"seed{seed}",
                                    [*FULL, f"student.n_layers={layers}", f"teacher={teacher}", *seed_overrides,
                                     *t_overrides, f"seed={seed}"]))  # fmt: skip
    return todo


# --- summarize: the tables ------------------------------------------------------------------------------------------

FIRST_STUDY = RESULTS / "offline-distillation" / "runs.csv"
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
    return [(done.parent, final_metrics(done.parent)) for done in sorted(root.glob("**/.done"))]


def copy_evaluations(root: Path, results: Path) -> None:
    """Each finished run's per-evaluation metrics.csv (a few KB: one row per evaluation) into evaluations/,
    so the curves can be redrawn without the run directories."""
    target = results / "evaluations"
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


def cell_rows(root: Path, results: Path) -> list[dict]:
    rows = []
    for run_dir, final in finished_runs(root / "cells"):
        cell, seed = run_dir.parent.name, int(run_dir.name.removeprefix("seed"))
        rows.append({"cell": cell, "seed": seed, "source": "this study", **{m: final.get(m) for m in METRICS}})
    present = {(row["cell"], str(row["seed"])) for row in rows}
    for row in published_rows(results / "runs.csv", present, ("cell", "seed"), source="this study"):
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


def summarize(runs: Path, results: Path) -> None:
    pilots = [
        {"pilot": run_dir.parent.name, "variant": run_dir.name, **{m: final.get(m) for m in METRICS}}
        for stage in ("pilot-layers", "pilot-temperature")
        for run_dir, final in finished_runs(runs / stage)
    ]
    pilots += published_rows(results / "pilots.csv", {(p["pilot"], p["variant"]) for p in pilots}, ("pilot", "variant"))
    write_csv(results / "pilots.csv", pilots)
    rows = cell_rows(runs, results)
    write_csv(results / "runs.csv", rows)
    copy_evaluations(runs, results)
    (results / "summary.md").write_text(
        "# Students study: cells on all of split B (mean ± sample sd over seeds)\n\n"
        f"Trivial (all no-answer) best_f1 on split B: {TRIVIAL_SPLIT_B}. "
        "Generated by `python -m studies.offline_students summarize`.\n\n" + summary_table(rows) + "\n"
    )
    print((results / "summary.md").read_text())


def main(argv: Sequence[str] | None = None) -> int:
    parser, run_parser, _ = study_parser("studies.offline_students", __doc__, run="the pilots, then the cells (resumable)",
                                         summarize="pilots.csv, runs.csv, summary.md and evaluations/ from the runs",
                                         outputs=OUT, outputs_flag="--runs", results=PUBLISHED)  # fmt: skip
    run_parser.add_argument("--out", type=Path, default=OUT, help="the run directories (default: outputs/offline-students)")
    run_parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    run_parser.add_argument("--stages", nargs="+", default=["pilot-layers", "pilot-temperature", "cells", "baseline"])
    run_parser.add_argument("--layers", type=int, nargs="+", default=[3, 2], help="the cells' student depths")
    run_parser.add_argument("--pilot-choices", nargs=2, metavar=("RULE", "T"),
                            help="the pilots' published choices (e.g. spread 1), to run cells in a checkout whose "
                                 "pilot runs are gone instead of running the pilots again")  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args)
    summarize(args.outputs, args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
