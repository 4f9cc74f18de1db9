"""Students worth searching (issue 21, part 2): teacher seeding, layer rule, temperature.

    nohup python docs/results/offline-students/run_study.py > students.log 2>&1 &

Resumable: a finished run leaves RUN_DIR/.done and is skipped; an unfinished one is restarted from
scratch. Stages, in order (each later stage reads the choices of the earlier ones from their runs):

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
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PILOT = ["data.max_train_examples=3000", "data.max_eval_examples=600", "trainer.max_epochs=1"]
FULL = ["trainer.val_check_interval=1.0"]  # curves once per epoch: the final evaluation is the offline recipe's
TEACHER_SEED = "student.seed_from=${paths.reference_teacher_dir}"
LAYER_RULES = ("match", "spread", "spread_top")
TEMPERATURES = (1.0, 2.0, 4.0)
PICK_METRICS = ("best_f1", "HasAns_f1")
"""Pilots pick by best_f1 (the offline search's objective), ties (within 0.1) broken by HasAns_f1: after one
short epoch best_f1 often sits at the all-no-answer level for every variant, while HasAns_f1 still shows
how much span extraction a variant learned."""


def run(run_dir: Path, overrides: list[str]) -> dict | None:
    """Train one student unless it already finished; its final metrics (None if it failed)."""
    if not (run_dir / ".done").exists():
        if run_dir.exists():
            subprocess.run(["rm", "-rf", str(run_dir)], check=True)
        command = [sys.executable, "train.py", "experiment=offline", *overrides, f"hydra.run.dir={run_dir}"]
        print(time.strftime("%FT%TZ", time.gmtime()), "start", run_dir, " ".join(overrides), flush=True)
        if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
            print(time.strftime("%FT%TZ", time.gmtime()), "FAILED", run_dir, flush=True)
            return None
        (run_dir / ".done").touch()
        print(time.strftime("%FT%TZ", time.gmtime()), "done", run_dir, flush=True)
    return final_metrics(run_dir)


def final_metrics(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return metrics.get("final", metrics)


def pick(results: dict[str, dict | None], stage: str) -> str:
    scored = {name: (round(m[PICK_METRICS[0]], 1), m[PICK_METRICS[1]]) for name, m in results.items() if m is not None}
    if not scored:
        raise SystemExit(f"{stage}: every run failed; see the log above")
    best = max(scored, key=scored.get)
    table = ", ".join(f"{name} {a:.1f}/{b:.2f}" for name, (a, b) in scored.items())
    print(f"{stage} ({'/'.join(PICK_METRICS)}): {table} -> {best}", flush=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "offline-students")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--stages", nargs="+", default=["pilot-layers", "pilot-temperature", "cells", "baseline"])
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 2], help="the cells' student depths")
    parser.add_argument("--pilot-choices", nargs=2, metavar=("RULE", "T"),
                        help="the pilots' published choices (e.g. spread 1), to run cells in a checkout whose "
                             "pilot runs are gone instead of running the pilots again")
    args = parser.parse_args()
    out = args.out

    if args.pilot_choices:
        rule, temperature = args.pilot_choices[0], float(args.pilot_choices[1])
        if rule not in LAYER_RULES:
            raise SystemExit(f"--pilot-choices: layer rule {rule!r} is not one of {', '.join(LAYER_RULES)}")
    else:
        rule, temperature = run_pilots(out, args.stages)
        if temperature is None:
            return
    for seed in args.seeds:  # every cell's seed 1, the baseline point, then seed 2
        if "cells" in args.stages:
            run_cells(out, seed, rule, temperature, args.layers)
        if "baseline" in args.stages and seed == args.seeds[0]:
            run(out / "cells" / f"L6H12-teacher-T{temperature:g}" / "seed1",
                [*FULL, "student.n_layers=6", TEACHER_SEED, f"student.layer_seeding={rule}",
                 f"distillation.temperature={temperature}", "seed=1"])


def run_pilots(out: Path, stages: list[str]) -> tuple[str, float | None]:
    """The layer rule and (unless only the layer pilot was asked for) the temperature the pilots pick."""
    layer_runs = {
        rule: run(out / "pilot-layers" / rule, [*PILOT, "student.n_layers=3", "teacher=none", TEACHER_SEED,
                                                  f"student.layer_seeding={rule}", "seed=1"])
        for rule in LAYER_RULES
    }
    rule = pick(layer_runs, "layer rule")
    if "pilot-temperature" not in stages:
        return rule, None
    temperature_runs = {
        str(t): run(out / "pilot-temperature" / f"T{t:g}", [*PILOT, "student.n_layers=3", TEACHER_SEED,
                                                             f"student.layer_seeding={rule}",
                                                             f"distillation.temperature={t}", "seed=1"])
        for t in TEMPERATURES
    }
    return rule, float(pick(temperature_runs, "temperature"))


def run_cells(out: Path, seed: int, rule: str, temperature: float, depths: list[int]) -> None:
    for layers in depths:
        for seeding in ("teacher", "pretrained"):
            for teacher in ("none", "minilm_squad2_reference"):
                if seeding == "pretrained" and (teacher == "none" or temperature == 1.0):
                    continue  # the first study's runs (same recipe)
                seed_overrides = [TEACHER_SEED, f"student.layer_seeding={rule}"] if seeding == "teacher" else []
                t_overrides = [f"distillation.temperature={temperature}"] if teacher != "none" else []
                name = f"L{layers}H12-{seeding}-{'hard' if teacher == 'none' else f'T{temperature:g}'}"
                run(out / "cells" / name / f"seed{seed}",
                    [*FULL, f"student.n_layers={layers}", f"teacher={teacher}", *seed_overrides,
                     *t_overrides, f"seed={seed}"])

if __name__ == "__main__":
    main()
