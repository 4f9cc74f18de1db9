"""Issue 33: does the hopeless-trial rule stop the right offline trials, and what does it save? (resumable)

    nohup .venv/bin/python docs/results/early-stopping/run_check.py > outputs/early-stopping/queue.out 2>&1 &
    .venv/bin/python docs/results/early-stopping/run_check.py --summarize     # summary.md + cells.csv from the runs

Published trials of the full-space offline search (docs/results/offline-search/), chosen from their published
outcome: three that learned (random 9 and 17, and lite 23, just above the threshold) and three at the floor, all
5-6 layers (the long trials). Each runs as today's search trial (``experiment=offline_search``: scored on the
select part) with the rule of ``search=offline`` switched on for a single run
(``callbacks.hopeless_trial.active=true``); two floor trials also run without it, for the time saved, and so
does lite 23 once the rule had stopped it (what did stopping it cost?).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = ROOT / "outputs" / "early-stopping"
SWEEPS = ROOT / "docs" / "results" / "offline-search" / "sweeps"
NOT_PARAMETERS = {"trial", "status", "strategy", "best_f1", "num_params", "exact", "f1", "HasAns_f1", "inference_time",
                  "duration_s", "reason", "output_dir"}  # fmt: skip
TRIALS = [("random", "9", "learned"), ("random", "17", "learned"), ("lite", "23", "learned"),
          ("random", "16", "floor"), ("lite", "6", "floor"), ("lite", "12", "floor")]  # fmt: skip
WITHOUT_RULE = {("random", "16"), ("lite", "12"), ("lite", "23")}


def published(sweep: str, trial: str) -> dict[str, str]:
    with open(SWEEPS / sweep / "observations.csv", newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["trial"] == trial)


def cells() -> list[tuple[str, str, str, bool]]:
    todo = [(sweep, trial, kind, True) for sweep, trial, kind in TRIALS]
    return todo + [(sweep, trial, kind, False) for sweep, trial, kind in TRIALS if (sweep, trial) in WITHOUT_RULE]


def name(sweep: str, trial: str, rule: bool) -> str:
    return f"{sweep}-{trial}-{'rule' if rule else 'full'}"


def run(sweep: str, trial: str, rule: bool) -> int:
    settings = {k: v for k, v in published(sweep, trial).items() if k not in NOT_PARAMETERS}
    run_dir = OUT / name(sweep, trial, rule)
    command = [sys.executable, "train.py", "experiment=offline_search", "logger=[]", "quiet=true",
               f"callbacks.hopeless_trial.active={str(rule).lower()}", *(f"{k}={v}" for k, v in settings.items()),
               f"hydra.run.dir={run_dir.relative_to(ROOT)}"]  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "command.txt").write_text(" ".join(command[1:]) + "\n")
    with open(run_dir / "driver.log", "a") as log:
        return subprocess.call(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def finished(run_dir: Path) -> dict | None:
    path = run_dir / "metrics.json"
    document = json.loads(path.read_text()) if path.is_file() else None
    return document if document and document.get("status") == "finished" else None


def summarize() -> None:
    rows = []
    for sweep, trial, kind, rule in cells():
        run_dir = OUT / name(sweep, trial, rule)
        document = finished(run_dir)
        if document is None:
            continue
        final, row = document["final"], published(sweep, trial)
        start = (run_dir / ".hydra" / "config.yaml").stat().st_mtime
        rows.append({"cell": name(sweep, trial, rule), "published": kind, "published_best_f1_slice": round(float(row["best_f1"]), 2),
                     "layers_heads": f"{row['student.n_layers']}L/{row['student.n_heads']}H", "rule": rule,
                     "stopped_early": document.get("stopped_early") or "", "global_step": final.get("global_step"),
                     "select_best_f1": round(final["best_f1"], 2), "minutes": round(((run_dir / "metrics.json").stat().st_mtime - start) / 60, 1)})  # fmt: skip
    if not rows:
        print("no finished cell yet")
        return
    for row in rows:  # the files behind every number
        published_dir = HERE / "cells" / row["cell"]
        published_dir.mkdir(parents=True, exist_ok=True)
        for name_ in ("metrics.json", "command.txt"):
            (published_dir / name_).write_text((OUT / row["cell"] / name_).read_text())
    with (HERE / "cells.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(str(value) for value in row.values()) + " |" for row in rows]
    (HERE / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args()
    if args.summarize:
        summarize()
        return 0
    for sweep, trial, _, rule in cells():
        if finished(OUT / name(sweep, trial, rule)):
            continue
        print(f"start {name(sweep, trial, rule)}", flush=True)
        print(f"end {name(sweep, trial, rule)} rc={run(sweep, trial, rule)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
