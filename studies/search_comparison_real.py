"""Issue 33's real confirmation: lite, random and MOTPE over the offline space, 2 seeds each, the same warm start.

    nohup .venv/bin/python -m studies.search_comparison_real run > outputs/search-comparison-real/queue.out 2>&1 &
    .venv/bin/python -m studies.search_comparison_real run --list      # the queue and what is done
    .venv/bin/python -m studies.search_comparison_real summarize [--outputs DIR]

``run``: the surrogate comparison (docs/results/search-quality-offline/) asks for >= 2 real seeds per searcher. A
real trial costs 3-8 min on this machine's 2 cores, so the searches here are short (``BUDGET`` new trials each) and
every searcher starts from the **same warm start**, chosen so that lite is model-based from its first new
suggestion (sigoptlite draws at random while its valid observations are <= 2 x 17 = 34):

1. ``paid.csv`` -- every *trained* run of the shrink study (docs/results/shrink/cells/: the offline search's
   trial recipe, scored on select through ``heldout.json``), written as an observations file in the sweeper's
   format: what a user who already paid for runs would bring;
2. ``warm-random`` -- ``WARM_RANDOM`` new trials drawn at random (a lite sweep in its random phase, seed 100),
   enough to bring the warm start to 35 valid observations (lite: random while <= 34).

Then each searcher x seed is one sweep of ``BUDGET`` new trials (``hydra.sweeper.warm_start`` = both of the
above; the Optuna presets add them to their study as finished trials, so MOTPE is past its 10 startup trials
too). Everything else is the offline search as published: ``experiment=offline_search``, ``search=offline``
(best_f1 on select with its threshold 48.62, size; hopeless trials stopped early), 2 trials at a time on
local Ray, one core each. Resumable (``studies.cell_queue``): a finished sweep is skipped, lite resumes its
journal, an Optuna sweep asks only for the trials its study still misses; the queue stops at a failed sweep (and
at an Optuna sweep that ended with trials still missing: run it again to continue).

``summarize``: hypervolume per searcher and seed on select, paired differences, the strategy that served each
suggestion and the training time early stopping saved. Reads the queue's sweeps (``--outputs``: where it ran,
default ``outputs/search-comparison-real``): lite's sweep directories as they are, the Optuna studies exported into
the sweeper's format first (``lightning_distill.search.optuna_sweep``). Writes ``summary.md``, ``hypervolume.csv``
and each sweep's ``observations.csv`` / ``pareto.json`` under ``sweeps/`` of docs/results/search-comparison-real/.
Works on a partial study: a missing or unfinished sweep is listed as such.

Hypervolume is taken over each search's **new** trials (the warm start is the same for all, so it is left out of
every front) and over warm start + new trials (how far each search moved the front the user already had), both
with one reference point for all: best_f1 48.62 (the threshold: answering nothing on select, + 1) and 1.1 x the
largest student seen. Units: best_f1 points x M parameters.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from studies import cell_queue
from studies.command_line import study_parser
from studies.layout import OUTPUTS, RESULTS, ROOT
from studies.tables import write_csv

OUT = OUTPUTS / "search-comparison-real"
PUBLISHED = RESULTS / "search-comparison-real"
SHRINK_CELLS = RESULTS / "shrink" / "cells"
PAID = PUBLISHED / "paid.csv"
BUDGET = 10
WARM_RANDOM = 12
SEEDS = (1, 2)
SEARCHERS = ("lite", "random", "motpe")
OPTUNA_PRESET = {"random": ("optuna_offline_random", "offline-minilm-random"),
                 "motpe": ("optuna_offline_motpe", "offline-minilm-motpe")}  # fmt: skip
RAY = ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2", "+hydra.launcher.ray.init.include_dashboard=false"]
TRIAL = ["experiment=offline_search", "quiet=true"]
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
NOT_SETTINGS = ("hydra.", "data.eval_part", "data.max_eval_examples", "deployment_metrics", "seed", "trainer.precision")
"""Overrides of a shrink cell that are how it was scored or run, not what it trained (all of split B is scored
there and split into select and test by heldout.json; bf16 is within seed noise of fp32, docs/results/bf16-cpu)."""
SELECT_METRICS = ("best_f1", "exact", "f1", "HasAns_f1")
RUN_METRICS = ("num_params", "inference_time", "onnx_int8_size_mb", "inference_time_onnx")

# --- run: the warm start, then the queue of sweeps ------------------------------------------------------------------


def space() -> list[str]:
    """The searched parameters (search_space=offline), in its file's order."""
    lines = (ROOT / "conf" / "search_space" / "offline.yaml").read_text().splitlines()
    return [line.split(":")[0] for line in lines if line and not line.startswith(("#", " "))]


def cell_overrides(command: str) -> list[str] | None:
    """What a shrink cell trained (its overrides less how it was scored); None for an untrained cell."""
    words = re.findall(r"\S+=\{[^}]*\}|\S+", command)[1:]  # command.txt is unquoted: keep a {dict} value whole
    if "+trainer.max_steps=0" in words:
        return None
    return [word for word in words if not word.startswith(NOT_SETTINGS)]


def write_paid() -> int:
    """paid.csv from the shrink study's trained cells: their settings over the space, their select scores."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import lightning_distill  # noqa: F401  (the config resolvers)

    names = space()
    rows = []
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for cell in sorted(SHRINK_CELLS.iterdir()):
            heldout, metrics = cell / "heldout.json", cell / "metrics.json"
            overrides = cell_overrides((cell / "command.txt").read_text())
            if overrides is None or not heldout.exists():
                continue
            config = compose("train", overrides=overrides)
            settings = {name: OmegaConf.select(config, name) for name in names}
            if settings["student.ffn_dim"] is None:  # no pruning: the teacher's FFN width, the space's top
                settings["student.ffn_dim"] = config.student.hidden_dim
            select = json.loads(heldout.read_text())["select"]
            run = json.loads(metrics.read_text())["final"]
            values = {name: select[name] for name in SELECT_METRICS} | {name: run[name] for name in RUN_METRICS}
            rows.append({"trial": cell.name, "status": "completed", **settings, **values})
    write_csv(PAID, rows)
    return len(rows)


def lite_command(sweep_dir: Path, seed: int, budget: int, warm: list[str]) -> list[str]:
    resume = (sweep_dir / "journal.jsonl").exists()
    return [sys.executable, "train.py", "-m", "hydra/sweeper=sigopt", *TRIAL, "hparams_search=sigopt_offline", *RAY,
            f"hydra.sweeper.budget={budget}", f"hydra.sweeper.seed={seed}", f"hydra.sweeper.resume={str(resume).lower()}",
            f"search.warm_start=[{','.join(warm)}]", f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip


def lite_done(sweep_dir: Path, budget: int) -> bool:
    """A lite sweep is done when its pareto.json counts the budget's observations (written at the sweep's end)."""
    pareto = sweep_dir / "pareto.json"
    return pareto.exists() and json.loads(pareto.read_text())["observations"] >= budget


def finished_new_trials(storage: str, study: str) -> int:
    import optuna

    from lightning_distill.search.optuna_warm_start import WARM_START_ATTR

    try:
        trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    except KeyError:
        return 0
    return sum(t.state.is_finished() and WARM_START_ATTR not in t.user_attrs for t in trials)


def optuna_left(searcher: str, seed: int) -> int:
    """The new trials an Optuna sweep still misses (an interrupted start loses the trials it had in flight)."""
    db = OUT / f"{searcher}-seed{seed}.db"
    return BUDGET - (finished_new_trials(f"sqlite:///{db}", OPTUNA_PRESET[searcher][1]) if db.exists() else 0)


def optuna_done(searcher: str, seed: int) -> bool:
    return optuna_left(searcher, seed) <= 0


def optuna_command(searcher: str, seed: int, warm: list[str]) -> list[str]:
    """A new start of the sweep, in a new folder part-N, asking for the trials its study still misses."""
    preset, _ = OPTUNA_PRESET[searcher]
    storage = f"sqlite:///{OUT / f'{searcher}-seed{seed}.db'}"
    part = len(list((OUT / f"{searcher}-seed{seed}").glob("part-*")))
    return [sys.executable, "train.py", "-m", *TRIAL, f"hparams_search={preset}", *RAY,
            f"hydra.sweeper.n_trials={optuna_left(searcher, seed)}", f"hydra.sweeper.storage={storage}",
            f"hydra.sweeper.sampler.seed={seed}", f"search.warm_start=[{','.join(warm)}]",
            f"hydra.sweep.dir={OUT / f'{searcher}-seed{seed}' / f'part-{part}'}"]  # fmt: skip


def queue() -> list[cell_queue.Cell]:
    """warm-random, then every searcher x seed (seed 1 of each searcher before seed 2)."""
    warm = [str(PAID), str(OUT / "warm-random")]
    warm_dir = OUT / "warm-random"
    done = partial(lite_done, warm_dir, WARM_RANDOM)
    steps = [cell_queue.Cell("warm-random", [] if done() else [lite_command(warm_dir, 100, WARM_RANDOM, [])], done=done,
                             env=OFFLINE, note=f"lite in its random phase, seed 100, {WARM_RANDOM} trials")]  # fmt: skip
    for seed in SEEDS:
        for searcher in SEARCHERS:
            name, note = f"{searcher}-seed{seed}", f"{searcher}, seed {seed}, {BUDGET} new trials"
            if searcher == "lite":
                done = partial(lite_done, OUT / name, BUDGET)
                command = lite_command(OUT / name, seed, BUDGET, warm)
                steps.append(cell_queue.Cell(name, [] if done() else [command], done=done, env=OFFLINE, note=note))
            else:
                done = partial(optuna_done, searcher, seed)
                command = [] if done() else [optuna_command(searcher, seed, warm)]
                # an Optuna start that stopped early (a lost trial) leaves trials missing: it must be run again
                steps.append(cell_queue.Cell(name, command, done=done, must_be_done=True, env=OFFLINE, note=note))
    return steps


def run(args: argparse.Namespace) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if not PAID.exists():
        print(f"paid.csv: {write_paid()} trained shrink-study runs", flush=True)
    return cell_queue.run_queue(queue(), args, stop_on_failure=True)


# --- summarize ------------------------------------------------------------------------------------------------------

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
    from hydra_plugins.sigopt_sweeper.api import read_sweep

    return [(-o["values"]["best_f1"], o["values"]["num_params"] / M) for o in read_sweep(directory).observations
            if o.get("status") == "completed" and {"best_f1", "num_params"} <= set(o.get("values", {}))]  # fmt: skip


def paid_points(paid: Path) -> list[tuple[float, float]]:
    with open(paid, newline="") as handle:
        return [(-float(row["best_f1"]), float(row["num_params"]) / M) for row in csv.DictReader(handle)]


def training_steps(sweep) -> tuple[int, int]:
    """(optimizer steps not run, steps planned) over a sweep's trials: what early stopping saved in training, free of
    how busy the machine was (trial seconds here include other work sharing the 2 cores)."""
    skipped = planned = 0
    for observation in sweep.observations:
        metrics = observation.get("metrics") or {}
        ran = metrics.get("global_step")
        whole = metrics.get("planned_steps") or ran
        if isinstance(ran, (int, float)) and isinstance(whole, (int, float)):
            skipped += int(whole - ran)
            planned += int(whole)
    return skipped, planned


def whole_study_savings(savings: list[tuple[int, int, float, float, int, int]]) -> list[str]:
    """Early stopping over every sweep of the study: (trials, stopped, seconds saved, seconds spent, steps not run,
    steps planned) summed."""
    trials, stopped, saved, spent, skipped, planned = (sum(column) for column in zip(*savings)) if savings else (0,) * 6
    if not stopped:
        return []
    steps = f" In optimizer steps (independent of machine load): {skipped:,} of {planned:,} planned not run, " \
            f"{100 * skipped / planned:.0f} %." if planned else ""
    return [(f"Early stopping over the whole study: {stopped} of {trials} trials stopped as hopeless; about "
            f"{saved / 3600:.1f} h of training not run, {100 * saved / (spent + saved):.0f} % of the "
            f"{(spent + saved) / 3600:.1f} h the trials would have taken whole ({spent / 3600:.1f} h spent).{steps}"), ""]


def summarize(outputs: Path, results: Path) -> int:
    from lightning_distill.search.hypervolume import hypervolume
    from lightning_distill.search.report import early_stop_line, early_stop_savings, load_sweep, strategy_line

    names = [f"{searcher}-seed{seed}" for seed in SEEDS for searcher in SEARCHERS]
    dirs = {"warm-random": outputs / "warm-random", **{name: sweep_dir(outputs, name) for name in names}}
    found = {name: path for name, path in dirs.items() if path is not None and path.is_dir()}
    warm = paid_points(results / "paid.csv") + (points(found["warm-random"]) if "warm-random" in found else [])
    every = warm + [p for name, path in found.items() if name != "warm-random" for p in points(path)]
    reference = (-THRESHOLD, SIZE_MARGIN * max(size for _, size in every))
    rows, lines, savings = [], [], []
    for name, path in found.items():
        sweep = load_sweep(path, [])
        new = points(path)
        budget = WARM_RANDOM if name == "warm-random" else BUDGET
        rows.append({"sweep": name, "observations": len(sweep.observations), "budget": budget,
                     "hv_new": round(hypervolume(new, reference), 3),
                     "hv_warm_plus_new": round(hypervolume(warm + new, reference), 3) if name != "warm-random" else "",
                     "best_f1_max": round(max((-x for x, _ in new), default=float("nan")), 2)})  # fmt: skip
        lines += [f"- `{name}`: {strategy_line(sweep)} {early_stop_line(sweep)}".rstrip()]
        savings.append((len(sweep.observations), *early_stop_savings(sweep), *training_steps(sweep)))
        target = results / "sweeps" / name
        target.mkdir(parents=True, exist_ok=True)
        for file in ("observations.csv", "observations.jsonl", "pareto.json"):
            if (path / file).is_file():  # published without this machine's paths
                text = (path / file).read_text().replace(str(outputs), "outputs/search-comparison-real")
                (target / file).write_text(text)
    write_csv(results / "hypervolume.csv", rows)
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
        "# The real confirmation: summary (generated by `python -m studies.search_comparison_real summarize`)", "",
        (f"Reference point: best_f1 {THRESHOLD}, size {reference[1]:.2f} M. Warm start: {len(warm)} observations "
         "(paid.csv + warm-random), the same for every search."), "",
        *(["**Partial.** Not run yet: " + ", ".join(f"`{name}`" for name in missing), ""] if missing else []),
        "| sweep | observations | budget | hypervolume, new trials | hypervolume, warm start + new | best best_f1 |",
        "|---|---|---|---|---|---|",
        *[f"| `{r['sweep']}` | {r['observations']} | {r['budget']} | {r['hv_new']} | {r['hv_warm_plus_new']} | {r['best_f1_max']} |"
          for r in rows],
        "", f"Warm start alone: hypervolume {hypervolume(warm, reference):.3f}.", "",
        *whole_study_savings(savings),
        "Paired by seed (new trials' hypervolume):", "", "| difference | seeds | mean | se |", "|---|---|---|---|",
        *(pairs or ["| (no pair of finished searches yet) | | | |"]), "", "Per sweep:", "", *lines, "",
    ]  # fmt: skip
    (results / "summary.md").write_text("\n".join(summary))
    print("\n".join(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser, _, _ = study_parser("studies.search_comparison_real", __doc__, run="paid.csv, then the queue of sweeps (resumable)",
                                summarize="summary.md, hypervolume.csv and sweeps/ from the sweeps (paid.csv: from --results-dir)",
                                outputs=OUT, results=PUBLISHED)  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args)
    return summarize(args.outputs, args.results_dir)


if __name__ == "__main__":
    sys.exit(main())
