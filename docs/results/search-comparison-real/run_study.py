"""Issue 33's real confirmation: lite, random and MOTPE over the offline space, 2 seeds each, the same warm start.

    nohup .venv/bin/python docs/results/search-comparison-real/run_study.py > outputs/search-comparison-real/queue.out 2>&1 &
    .venv/bin/python docs/results/search-comparison-real/run_study.py --list      # the queue and what is done

The surrogate comparison (docs/results/search-quality-offline/) asks for >= 2 real seeds per searcher. A real
trial costs 3-8 min on this machine's 2 cores, so the searches here are short (``BUDGET`` new trials each) and
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
local Ray, one core each. Resumable: a finished sweep is skipped, lite resumes its journal, an Optuna sweep
asks only for the trials its study still misses. ``summarize.py`` reads the result.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
OUT = ROOT / "outputs" / "search-comparison-real"
SHRINK_CELLS = ROOT / "docs" / "results" / "shrink" / "cells"
PAID = HERE / "paid.csv"
BUDGET = 10
WARM_RANDOM = 12
SEEDS = (1, 2)
SEARCHERS = ("lite", "random", "motpe")
OPTUNA_PRESET = {"random": ("optuna_offline_random", "offline-minilm-random"),
                 "motpe": ("optuna_offline_motpe", "offline-minilm-motpe")}  # fmt: skip
RAY = ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2", "+hydra.launcher.ray.init.include_dashboard=false"]
TRIAL = ["experiment=offline_search", "quiet=true"]
NOT_SETTINGS = ("hydra.", "data.eval_part", "data.max_eval_examples", "deployment_metrics", "seed", "trainer.precision")
"""Overrides of a shrink cell that are how it was scored or run, not what it trained (all of split B is scored
there and split into select and test by heldout.json; bf16 is within seed noise of fp32, docs/results/bf16-cpu)."""
SELECT_METRICS = ("best_f1", "exact", "f1", "HasAns_f1")
RUN_METRICS = ("num_params", "inference_time", "onnx_int8_size_mb", "inference_time_onnx")


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
    with open(PAID, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def lite_command(sweep_dir: Path, seed: int, budget: int, warm: list[str]) -> list[str]:
    resume = (sweep_dir / "journal.jsonl").exists()
    return [sys.executable, "train.py", "-m", "hydra/sweeper=sigopt", *TRIAL, "hparams_search=sigopt_offline", *RAY,
            f"hydra.sweeper.budget={budget}", f"hydra.sweeper.seed={seed}", f"hydra.sweeper.resume={str(resume).lower()}",
            f"search.warm_start=[{','.join(warm)}]", f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip


def finished_new_trials(storage: str, study: str) -> int:
    import optuna

    from lightning_distill.search.optuna_warm_start import WARM_START_ATTR

    try:
        trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    except KeyError:
        return 0
    return sum(t.state.is_finished() and WARM_START_ATTR not in t.user_attrs for t in trials)


def optuna_command(searcher: str, seed: int, warm: list[str]) -> list[str] | None:
    preset, study = OPTUNA_PRESET[searcher]
    db = OUT / f"{searcher}-seed{seed}.db"
    storage = f"sqlite:///{db}"
    left = BUDGET - (finished_new_trials(storage, study) if db.exists() else 0)
    if left <= 0:
        return None
    part = len(list((OUT / f"{searcher}-seed{seed}").glob("part-*")))
    return [sys.executable, "train.py", "-m", *TRIAL, f"hparams_search={preset}", *RAY,
            f"hydra.sweeper.n_trials={left}", f"hydra.sweeper.storage={storage}", f"hydra.sweeper.sampler.seed={seed}",
            f"search.warm_start=[{','.join(warm)}]", f"hydra.sweep.dir={OUT / f'{searcher}-seed{seed}' / f'part-{part}'}"]  # fmt: skip


def lite_done(sweep_dir: Path, budget: int) -> bool:
    """A lite sweep is done when its pareto.json counts the budget's observations (written at the sweep's end)."""
    pareto = sweep_dir / "pareto.json"
    return pareto.exists() and json.loads(pareto.read_text())["observations"] >= budget


def queue() -> list[tuple[str, list[str] | None]]:
    warm = [str(PAID), str(OUT / "warm-random")]
    steps: list[tuple[str, list[str] | None]] = []
    warm_dir = OUT / "warm-random"
    steps.append(("warm-random", None if lite_done(warm_dir, WARM_RANDOM) else lite_command(warm_dir, 100, WARM_RANDOM, [])))
    for seed in SEEDS:
        for searcher in SEARCHERS:
            name = f"{searcher}-seed{seed}"
            if searcher == "lite":
                steps.append((name, None if lite_done(OUT / name, BUDGET) else lite_command(OUT / name, seed, BUDGET, warm)))
            else:
                steps.append((name, optuna_command(searcher, seed, warm)))
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print the queue and what is done")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if not PAID.exists():
        print(f"paid.csv: {write_paid()} trained shrink-study runs", flush=True)
    for name, command in queue():
        if args.list or command is None:
            print(f"{name}: {'done' if command is None else 'to do'}", flush=True)
            continue
        print(f"{name}: {shlex.join(command)}", flush=True)
        env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        code = subprocess.call(command, cwd=ROOT, env=env)
        if code != 0:
            print(f"{name}: exit {code}; rerun this script to continue", flush=True)
            return code
        # an Optuna start that stopped early (a lost trial) leaves trials missing: go round again
        if name.split("-")[0] in OPTUNA_PRESET and optuna_command(name.split("-")[0], int(name[-1]), []):
            print(f"{name}: trials still missing; rerun this script to continue", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
