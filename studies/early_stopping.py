"""Issue 33: does the hopeless-trial rule stop the right offline trials, and what does it save? (resumable)

    nohup .venv/bin/python -m studies.early_stopping run > outputs/early-stopping/queue.out 2>&1 &
    .venv/bin/python -m studies.early_stopping run --list      # the queue and what is done
    .venv/bin/python -m studies.early_stopping summarize       # summary.md + cells.csv (+ cells/) from the runs

Published trials of the full-space offline search (docs/results/offline-search/), chosen from their published
outcome: three that learned (random 9 and 17, and lite 23, just above the threshold) and three at the floor, all
5-6 layers (the long trials). Each runs as today's search trial (``experiment=offline_search``: scored on the
select part) with the rule of ``search=offline`` switched on for a single run
(``callbacks.hopeless_trial.active=true``); two floor trials also run without it, for the time saved, and so
does lite 23 once the rule had stopped it (what did stopping it cost?). A cell is done once its ``metrics.json``
says ``finished`` (``studies.cell_queue``); its directory keeps its ``command.txt`` and ``driver.log``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from studies import cell_queue
from studies.command_line import study_parser
from studies.layout import OUTPUTS, RESULTS, ROOT
from studies.tables import markdown_table, published_trial, trial_settings, write_csv

OUT = OUTPUTS / "early-stopping"
PUBLISHED = RESULTS / "early-stopping"
SWEEPS = RESULTS / "offline-search" / "sweeps"
TRIALS = [("random", "9", "learned"), ("random", "17", "learned"), ("lite", "23", "learned"),
          ("random", "16", "floor"), ("lite", "6", "floor"), ("lite", "12", "floor")]  # fmt: skip
WITHOUT_RULE = {("random", "16"), ("lite", "12"), ("lite", "23")}


def published(sweep: str, trial: str) -> dict[str, str]:
    return published_trial(SWEEPS / sweep / "observations.csv", trial)


def cells() -> list[tuple[str, str, str, bool]]:
    todo = [(sweep, trial, kind, True) for sweep, trial, kind in TRIALS]
    return todo + [(sweep, trial, kind, False) for sweep, trial, kind in TRIALS if (sweep, trial) in WITHOUT_RULE]


def name(sweep: str, trial: str, rule: bool) -> str:
    return f"{sweep}-{trial}-{'rule' if rule else 'full'}"


def finished(run_dir: Path) -> dict | None:
    path = run_dir / "metrics.json"
    document = json.loads(path.read_text()) if path.is_file() else None
    return document if document and document.get("status") == "finished" else None


def is_finished(run_dir: Path) -> bool:
    return finished(run_dir) is not None


def queue() -> list[cell_queue.Cell]:
    """Each cell: the published trial's settings as one search trial, with the rule on or off."""
    steps = []
    for sweep, trial, kind, rule in cells():
        run_dir = OUT / name(sweep, trial, rule)
        command = [sys.executable, "train.py", "experiment=offline_search", "logger=[]", "quiet=true",
                   f"callbacks.hopeless_trial.active={str(rule).lower()}",
                   *(f"{k}={v}" for k, v in trial_settings(published(sweep, trial)).items()),
                   f"hydra.run.dir={run_dir.relative_to(ROOT)}"]  # fmt: skip
        steps.append(cell_queue.Cell(name(sweep, trial, rule), [command], done=partial(is_finished, run_dir),
                                     run_dir=run_dir, record_command=True, log=run_dir / "driver.log",
                                     note=f"{sweep} trial {trial} ({kind}), rule {'on' if rule else 'off'}"))  # fmt: skip
    return steps


def summarize(out: Path, results: Path) -> None:
    rows = []
    for sweep, trial, kind, rule in cells():
        run_dir = out / name(sweep, trial, rule)
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
        published_dir = results / "cells" / row["cell"]
        published_dir.mkdir(parents=True, exist_ok=True)
        for file in ("metrics.json", "command.txt"):
            (published_dir / file).write_text((out / row["cell"] / file).read_text())
    write_csv(results / "cells.csv", rows)
    lines = markdown_table(rows)
    (results / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser, _, _ = study_parser("studies.early_stopping", __doc__, run="the queue of cells (resumable)", outputs=OUT,
                                summarize="summary.md, cells.csv and cells/ from the finished runs", results=PUBLISHED)
    args = parser.parse_args(argv)
    if args.command == "run":
        return cell_queue.run_queue(queue(), args)
    summarize(args.outputs, args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
