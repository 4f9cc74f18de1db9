"""The offline search's report (issue 21, part 3), from the sweeps under outputs/offline-search/.

    python -m studies.offline_search summarize [--rescore]
    python -m studies.offline_search summarize --out-dir outputs/offline-search-narrow \
        --results-dir docs/results/offline-search-narrow --title "..."   # another set of these sweeps

The searches themselves run from the published shell scripts (docs/results/offline-search/run_all.sh,
run_search.sh; docs/results/offline-search-narrow/run.sh). ``summarize``:

1. exports the Optuna studies (random, nsga2) as sweep directories (lightning_distill.search.optuna_sweep);
2. runs the report over lite, random and NSGA-II with the 6L/12H baseline point (fronts, hypervolume vs
   observations, trial times, frontier students, failures) into docs/results/offline-search/report/;
   (the baseline's published metrics and split-B row are docs/results/offline-search/'s, whatever --results-dir
   says);
3. suggestion latency: lite's from its log ("waited X s"), Optuna's from its study (a batch's ask time
   after the previous batch's tell);
4. resumes: what each sweep started more than once, lost or repeated;
5. with --rescore: every frontier student and the baseline re-scored on all of split B
   (lightning_distill.search.rescore, data.max_eval_examples=null; resumable, one at a time);
6. the issue's targets against the baseline; summary.md and the CSVs behind every table.

The sweeps' small files (observations, pareto.json, lite's journal) are copied to sweeps/<name>/ with
the repository root taken out of their paths; trial folders (checkpoints) stay in outputs/.

outputs/ does not outlive a session's checkout. A sweep whose outputs are gone is read from its published
copy (sweeps/<name>/), and the rows that need its logs, study or students (latency, resumes, the split-B
re-scores) are kept from the published CSVs rather than dropped.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studies.command_line import shown, study_parser
from studies.layout import OUTPUTS, RESULTS, ROOT
from studies.tables import markdown_table, write_csv

PUBLISHED = RESULTS / "offline-search"
COMMAND = "python -m studies.offline_search summarize"
STUDIES = {"random": "offline-minilm-random", "nsga2": "offline-minilm"}
BASELINE = "baseline-L6H12"
SCORE, SIZE = "best_f1", "num_params"
SMALLER = 0.70  # target 1: >= 30 % smaller than the baseline at >= its objective
POINTS, LARGER = 2.0, 1.05  # target 2: >= +2 points of the objective at <= +5 % of its size
WAITED = re.compile(r"trial (\d+) suggested \(waited ([0-9.]+) s\)")
FULL_SPLIT_B = ["data.max_eval_examples=null"]
# Bins of the parameters that decide whether a trial learns at all (pooled over the sweeps, descriptive).
BINS = {
    "student.n_layers": [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)],
    "student.n_heads": [(1, 3), (4, 6), (7, 9), (10, 12)],
    "optimizer.learning_rate": [(2e-6, 1e-5), (1e-5, 1e-4), (1e-4, 1e-3), (1e-3, 0.1)],
    "student.dropout": [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)],
}
RESCORED_METRICS = ("best_f1", "exact", "f1", "HasAns_f1", "NoAns_exact", "best_exact", "total")


def sweep_dirs(out: Path, published: Path) -> dict[str, Path]:
    """Each sweep's directory: its outputs where they exist, else its published copy (with observations)."""
    found = {}
    for name in ("lite", *STUDIES):
        db, parts = out / f"{name}.db", sorted((out / name).glob("part-*"))
        if name == "lite" and (out / "lite" / "observations.jsonl").is_file():
            found[name] = out / "lite"
        elif name in STUDIES and db.is_file() and parts:
            from lightning_distill.search.optuna_sweep import export

            export(f"sqlite:///{db}", STUDIES[name], parts, out / "export" / name)
            found[name] = out / "export" / name
        elif (published / name / "observations.jsonl").is_file() and observations(published / name):
            found[name] = published / name
    return found


def is_published(sweep: Path, published: Path) -> bool:
    return sweep.resolve().is_relative_to(published.resolve())


def previous_rows(path: Path) -> list[dict[str, Any]]:
    """A published CSV's rows: what a sweep whose outputs are gone still has."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def keep_previous(rows: list[dict[str, Any]], path: Path, sweeps: dict[str, Path]) -> list[dict[str, Any]]:
    """``rows`` with the published rows of the sweeps read from their published copies put back."""
    published = path.parent / "sweeps"
    kept = [row for row in previous_rows(path) if row["sweep"] in sweeps and is_published(sweeps[row["sweep"]], published)]
    fresh = [row for row in rows if row["sweep"] not in {k["sweep"] for k in kept}]
    return sorted(kept + fresh, key=lambda row: list(sweeps).index(row["sweep"]))


def load_published_baseline(out: Path) -> dict[str, Any]:
    """The baseline run's metrics; its published metrics.json where its run directory is gone."""
    from lightning_distill.search.report import load_baseline

    source = out / BASELINE if (out / BASELINE / "metrics.json").is_file() else PUBLISHED / f"{BASELINE}-metrics.json"
    return load_baseline(f"{source}=6L/12H baseline (search recipe)")


def observations(sweep: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (sweep / "observations.jsonl").read_text().splitlines() if line.strip()]


def lite_latency(log: Path) -> list[float]:
    return [float(match.group(2)) for match in WAITED.finditer(log.read_text(errors="replace"))] if log.is_file() else []


def optuna_latency(db: Path, study_name: str) -> list[float]:
    """Seconds from a batch's tell (its trials' completion) to the next batch's ask (their start); none
    without the study (gone with a session's outputs: its published rows are kept instead)."""
    if not db.is_file():
        return []
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = [t for t in optuna.load_study(study_name=study_name, storage=f"sqlite:///{db}").get_trials(deepcopy=False)
              if t.datetime_start is not None]  # fmt: skip
    batches: dict[Any, list[Any]] = {}
    for trial in trials:
        batches.setdefault(trial.datetime_start.replace(microsecond=0), []).append(trial)
    waits, previous_end = [], None
    for start in sorted(batches):
        ends = [t.datetime_complete for t in batches[start] if t.datetime_complete is not None]
        first = min(t.datetime_start for t in batches[start])
        if previous_end is not None and first >= previous_end:
            waits.append((first - previous_end).total_seconds())
        previous_end = max(ends) if ends else None
    return waits


def resume_accounting(out: Path, sweeps: dict[str, Path]) -> list[dict[str, Any]]:
    rows = []
    if "lite" in sweeps:
        journal = [json.loads(line) for line in (sweeps["lite"] / "journal.jsonl").read_text().splitlines() if line.strip()]
        starts: dict[int, int] = {}
        for record in journal:
            if record.get("event") == "started":
                starts[record["trial"]] = starts.get(record["trial"], 0) + 1
        observed = [record["trial"] for record in journal if record.get("event") == "observation"]
        rows.append({"sweep": "lite", "starts_of_the_search": 1 + sum(1 for line in _log_lines(out / "lite.log") if "Resuming" in line),
                     "observations": len(observed), "observed_twice": len(observed) - len(set(observed)),
                     "trials_restarted": sum(1 for count in starts.values() if count > 1),
                     "restarted": ", ".join(f"{t} (x{c})" for t, c in sorted(starts.items()) if c > 1), "lost": 0})  # fmt: skip
    for name in STUDIES:
        if name in sweeps:
            pareto = json.loads((sweeps[name] / "pareto.json").read_text())
            rows.append({"sweep": name, "starts_of_the_search": len(list((out / name).glob("part-*"))),
                         "observations": pareto["observations"], "observed_twice": 0, "trials_restarted": 0,
                         "restarted": "", "lost": len(pareto.get("lost_trials", []))})  # fmt: skip
    return rows


def _log_lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.is_file() else []


def rescore_frontier(out: Path, sweeps: dict[str, Path], results: Path) -> list[dict[str, Any]]:
    from lightning_distill.search.rescore import rescore

    todo = [("baseline", "-", out / BASELINE, None)]
    for name, sweep in sweeps.items():
        for entry in json.loads((sweep / "pareto.json").read_text()).get("frontier", []):
            todo.append((name, entry["trial"], Path(entry["output_dir"]), entry["values"]))
    published = {(row["sweep"], row["trial"]): row for row in previous_rows(PUBLISHED / "frontier_split_b.csv") if row["sweep"] == "baseline"}
    published |= {(row["sweep"], row["trial"]): row for row in previous_rows(results / "frontier_split_b.csv")}
    rows = []
    for name, trial, run_dir, values in todo:
        target = out / "rescored" / (name if values is None else f"{name}-{trial}")
        if not (target / "metrics.json").is_file() and (name, str(trial)) in published and not (ROOT / run_dir).is_dir():
            rows.append(published[(name, str(trial))])  # the student is gone with its session's outputs
            continue
        if not (target / "metrics.json").is_file():
            print(f"re-scoring {run_dir} on all of split B -> {target}", flush=True)
            rescore(ROOT / run_dir, target, FULL_SPLIT_B)
        full = json.loads((target / "metrics.json").read_text())["final"]
        if values is None:
            values = json.loads(((ROOT / run_dir) / "metrics.json").read_text())["final"]
        rows.append({"sweep": name, "trial": trial, SIZE: int(full[SIZE]), f"{SCORE}_slice": round(values[SCORE], 2),
                     **{f"{m}_full": round(full[m], 2) for m in RESCORED_METRICS}})  # fmt: skip
    return rows


def targets(sweeps: dict[str, Path], baseline: dict[str, float]) -> list[str]:
    """Each target per sweep: met or missed, and the best score within the target's size limit."""
    size, score = baseline[SIZE], baseline[SCORE]
    goals = [(f"{SCORE} >= {score:.2f} at <= {SMALLER * size / 1e6:.2f} M (30 % smaller)", SMALLER * size, score),
             (f"{SCORE} >= {score + POINTS:.2f} at <= {LARGER * size / 1e6:.2f} M (+5 %)", LARGER * size, score + POINTS)]  # fmt: skip
    lines = []
    for label, size_limit, score_min in goals:
        for name, sweep in sweeps.items():
            within = [o for o in observations(sweep) if o["status"] == "completed" and o["values"][SIZE] <= size_limit]
            hits = [o for o in within if o["values"][SCORE] >= score_min]
            best = max(within, key=lambda o: o["values"][SCORE], default=None)
            closest = f"trial {best['trial']}: {best['values'][SCORE]:.2f} at {best['values'][SIZE] / 1e6:.2f} M" if best else "no trial that small"
            lines.append(f"| {label} | `{name}` | {'**met**' if hits else 'missed'} ({len(hits)} trials) | {closest} |")
    return lines


def learning_rows(sweeps: dict[str, Path]) -> list[dict[str, Any]]:
    """Completed trials of every sweep per bin of BINS: how many cleared the threshold, and the best score."""
    completed, threshold = [], None
    for sweep in sweeps.values():
        metrics = json.loads((sweep / "pareto.json").read_text())["metrics"]
        threshold = next(m["threshold"] for m in metrics if m["name"] == SCORE)
        completed += [o for o in observations(sweep) if o["status"] == "completed"]
    rows = []
    for key, bins in BINS.items():
        for index, (low, high) in enumerate(bins):
            closed = isinstance(low, int) or index == len(bins) - 1  # integer bins and the last bin hold their upper end
            members = [o for o in completed if low <= o["assignments"][key] < high or (closed and o["assignments"][key] == high)]
            rows.append({"parameter": key, "bin": f"{low:g}" if low == high else f"{low:g}..{high:g}", "trials": len(members),
                         f"{SCORE}_above_threshold": sum(o["values"][SCORE] >= threshold for o in members),
                         f"best_{SCORE}": round(max((o["values"][SCORE] for o in members), default=float("nan")), 2)})  # fmt: skip
    return rows


def publish_sweep(src: Path, dst: Path) -> None:
    if src.resolve() == dst.resolve():
        return
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("observations.jsonl", "observations.csv", "pareto.json", "journal.jsonl"):
        if (src / name).is_file():
            (dst / name).write_text((src / name).read_text().replace(str(ROOT) + "/", ""))


def summarize(args: argparse.Namespace) -> int:
    from lightning_distill.search.report import write_report

    out, results = args.outputs, args.results_dir.resolve()
    command = " ".join([COMMAND, *(
        [f"--out-dir {shown(args.outputs)}", f"--results-dir {shown(results)}", f'--title "{args.title}"']
        if results != PUBLISHED else []), *(["--rescore"] if args.rescore else [])])  # fmt: skip
    sweeps = sweep_dirs(out, results / "sweeps")
    if not sweeps:
        raise SystemExit(f"no sweep with observations under {out}")
    baseline = load_published_baseline(out)
    report_dir = results / "report"
    shutil.rmtree(report_dir, ignore_errors=True)
    write_report(list(sweeps.values()), report_dir, args.title, command, baseline)
    report = report_dir / "report.md"
    report.write_text(report.read_text().replace(str(ROOT) + "/", ""))
    for name, sweep in sweeps.items():
        publish_sweep(sweep, results / "sweeps" / name)

    latency = {"lite": lite_latency(out / "lite.log")} if "lite" in sweeps else {}
    latency |= {name: optuna_latency(out / f"{name}.db", study) for name, study in STUDIES.items() if name in sweeps}
    latency_rows = [{"sweep": name, "suggestions": len(waits), "median_s": round(statistics.median(waits), 3) if waits else "",
                     "max_s": round(max(waits), 3) if waits else ""} for name, waits in latency.items()]  # fmt: skip
    latency_rows = keep_previous(latency_rows, results / "latency.csv", sweeps)
    write_csv(results / "latency.csv", latency_rows)
    resumes = keep_previous(resume_accounting(out, sweeps), results / "resumes.csv", sweeps)
    write_csv(results / "resumes.csv", resumes)
    learning = learning_rows(sweeps)
    write_csv(results / "learning.csv", learning)
    # without --rescore the published re-scores stand (of the sweeps still in the report)
    rescored = (rescore_frontier(out, sweeps, results) if args.rescore else
                [row for row in previous_rows(results / "frontier_split_b.csv") if row["sweep"] in {"baseline", *sweeps}])
    write_csv(results / "frontier_split_b.csv", rescored)

    lines = [f"# {args.title}: summary", "", f"Generated by `{command}`.", "", (f"Sweeps: {', '.join(f'`{n}`' for n in sweeps)}. "
             "Fronts, hypervolume, trial times, frontier students and failures: [report/report.md](report/report.md)."), "",
             f"Baseline (6L/12H, search recipe): {SCORE} {baseline['values'][SCORE]:.2f}, {baseline['values'][SIZE]:,.0f} parameters.",
             "", "## Targets (on the search's 2,000 split-B questions)", "",
             "| target | sweep | result | best within the size limit |", "|---|---|---|---|", *targets(sweeps, baseline["values"]), "",
             "## Suggestion latency ([latency.csv](latency.csv))", "", *markdown_table(latency_rows), "",
             ("lite: the sweep's own log line per suggestion. Optuna: a batch's ask after the previous batch's tell "
             "(hydra-optuna-sweeper asks in batches of n_jobs)."), "",
             "## Resumes ([resumes.csv](resumes.csv))", "", *markdown_table(resumes), "",
             "## Which trials learn ([learning.csv](learning.csv))", "",
             "Completed trials of all sweeps per bin of one parameter at a time (descriptive: the parameters vary together).", "",
             *markdown_table(learning), "",
             "## Frontier students on all of split B ([frontier_split_b.csv](frontier_split_b.csv))", "", *markdown_table(rescored), ""]  # fmt: skip
    (results / "summary.md").write_text("\n".join(lines))
    print(f"wrote {results / 'summary.md'} and {report}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser, _, report = study_parser("studies.offline_search", __doc__, run=None, outputs=OUTPUTS / "offline-search",
                                     summarize="the report, summary.md, the CSVs and sweeps/ from the sweeps",
                                     outputs_flag="--out-dir", results=PUBLISHED)  # fmt: skip
    report.add_argument("--title", default="The offline search: lite, random and NSGA-II")
    report.add_argument("--rescore", action="store_true", help="re-score frontier students on all of split B (minutes each)")
    args = parser.parse_args(argv)
    return summarize(args)


if __name__ == "__main__":
    sys.exit(main())
