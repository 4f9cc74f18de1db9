"""``python -m lightning_distill.search.optuna_sweep STORAGE STUDY JOBS_DIR [JOBS_DIR ...] --out OUT``.

An Optuna search run by hydra-optuna-sweeper (``hparams_search=optuna_*``), written as a sweep
directory (``observations.jsonl``/``.csv``, ``pareto.json``) in the sigopt sweeper's own format, so
``python -m lightning_distill.search.report`` overlays it with lite/api sweeps.

Why a converter: hydra-optuna-sweeper keeps a trial's parameters, objective values and state in
Optuna's storage and everything else (the stored metrics, the student, the log) in the trial's run
directory; neither alone is a sweep the report can read. The join is by parameters (a job's
``.hydra/overrides.yaml`` against a trial's params), because the sweeper's job numbers restart at 0
in every start of a resumed study while Optuna's trial numbers do not.

The metrics (names, objectives, thresholds) come from the jobs' own composed config
(``search.metrics``), so the front here is the front the same thresholds give a lite sweep. Trial
states: COMPLETE is ``completed``; FAIL is ``failed`` with the run's own status as the reason;
RUNNING or WAITING trials (a start that was stopped mid-batch) are ``lost``: listed in
``pareto.json`` and counted, never observed.

Each observation's ``strategy`` is the sampler's phase when the trial was asked (``sampler_strategy``):
``random`` for RandomSampler, NSGA-II's generation 0 and (MO)TPE's startup trials, else the sampler's name.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hydra_plugins.sigopt_sweeper.api import (
    COMPLETED,
    FAILED,
    Metric,
    Observation,
    parse_metrics,
    write_observations,
    write_pareto,
)
from lightning_distill.errors import USER_ERROR_EXIT_CODE, DataError
from lightning_distill.search.optuna_warm_start import (
    WARM_START_ATTR,  # trials added from earlier sweeps: not this sweep's
)

RELATIVE_TOLERANCE = 1e-9
"""Parameters are matched as numbers: an override string and Optuna's float can differ in the last digit."""
CHECKPOINT_DIR = "student"
"""Where a trial's run directory keeps its student (the project's ``callbacks.student_checkpoint``)."""
SQLITE_PREFIX = "sqlite:///"
NSGA2_GENERATION_KEY = "nsga2:generation"
"""Where optuna's NSGAIISampler records a trial's generation (``optuna/samplers/_nsga2.py``); generation 0 is random."""
TPE_STARTUP_DEFAULT = 10
"""TPESampler's and MOTPESampler's default ``n_startup_trials`` (optuna 2.10): random until that many are complete."""
RANDOM_STRATEGY = "random"
FAILURE_LINE_MARKERS = ("Error", "error:", "NaN")


class UnreadableStudyError(DataError):
    """A storage, study or job directory that cannot be read as one Optuna sweep (not ``errors.ExportError``, which
    is a model export's)."""


@dataclass
class Job:
    """One trial's run directory as hydra-optuna-sweeper left it."""

    path: Path
    overrides: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> Job:
        items = OmegaConf.to_container(OmegaConf.load(path / ".hydra" / "overrides.yaml"))
        return cls(path, dict(str(item).split("=", 1) for item in items if "=" in str(item)))

    def matches(self, params: dict[str, Any]) -> bool:
        return all(name in self.overrides and _same(self.overrides[name], value) for name, value in params.items())

    def final_metrics(self) -> tuple[str, dict[str, Any]]:
        """(status, final metrics) of metrics.json; a failed run's status carries its error message."""
        metrics_json = self.path / "metrics.json"
        if not metrics_json.is_file():
            return "not started (no metrics.json)", {}
        document = json.loads(metrics_json.read_text())
        status = str(document.get("status", "unknown"))
        return status + (f": {document['error']}" if document.get("error") else ""), dict(document.get("final", {}))

    def stopped_early(self) -> str | None:
        """The reason a search trial stopped itself as hopeless (``metrics.json``'s ``stopped_early``), if it did."""
        metrics_json = self.path / "metrics.json"
        return json.loads(metrics_json.read_text()).get("stopped_early") if metrics_json.is_file() else None

    def times(self) -> tuple[float | None, float | None]:
        """(start, end): Hydra's config write and the last metrics write, as the report's run minutes."""
        start, end = self.path / ".hydra" / "config.yaml", self.path / "metrics.json"
        return (start.stat().st_mtime if start.is_file() else None, end.stat().st_mtime if end.is_file() else None)

    def failure_line(self) -> str | None:
        log = self.path / "train.log"
        if not log.is_file():
            return None
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if any(m in line for m in FAILURE_LINE_MARKERS)]
        return lines[-1][-300:] if lines else None


def _same(text: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return text == str(value)
    try:
        return math.isclose(float(text), float(value), rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)
    except ValueError:
        return False


def find_jobs(jobs_dirs: Sequence[Path]) -> list[Job]:
    jobs = []
    for root in jobs_dirs:
        if not root.is_dir():
            raise UnreadableStudyError(f"{root}: not a directory (give the sweep folders hydra.sweep.dir pointed at)")
        jobs += [Job.read(path.parent.parent) for path in sorted(root.glob("*/.hydra/overrides.yaml"))]
    if not jobs:
        raise UnreadableStudyError(f"no trial run directories (*/.hydra/overrides.yaml) under {', '.join(map(str, jobs_dirs))}")
    return jobs


def search_metrics(job: Job) -> tuple[Metric, ...]:
    """The search's metrics as the trial composed them (``search.metrics``, interpolations resolved)."""
    try:
        config = OmegaConf.load(job.path / ".hydra" / "config.yaml")
        entries = OmegaConf.to_container(config.search.metrics, resolve=True)
    except (OmegaConfBaseException, AttributeError, OSError) as error:
        raise UnreadableStudyError(f"{job.path}/.hydra/config.yaml: no readable search.metrics ({error}); "
                          "export searches composed with a search= preset") from error  # fmt: skip
    return parse_metrics(entries)


def sampler_config(job: Job) -> dict[str, Any]:
    """The job's ``hydra.sweeper.sampler`` ({} where the run directory does not keep Hydra's config)."""
    hydra_yaml = job.path / ".hydra" / "hydra.yaml"
    if not hydra_yaml.is_file():
        return {}
    sampler = OmegaConf.load(hydra_yaml).hydra.sweeper.get("sampler")
    return OmegaConf.to_container(sampler, resolve=False) if sampler is not None else {}


def sampler_strategy(trial: Any, trials: Sequence[Any], sampler: dict[str, Any]) -> str | None:
    """What served ``trial``: ``random`` in a sampler's random phase, else the sampler (None: unknown sampler)."""
    name = str(sampler.get("_target_", "")).rsplit(".", 1)[-1]
    if name == "RandomSampler":
        return RANDOM_STRATEGY
    if name == "NSGAIISampler":
        generation = trial.system_attrs.get(NSGA2_GENERATION_KEY)
        return None if generation is None else RANDOM_STRATEGY if generation == 0 else f"nsga2 (generation {generation})"
    if name in ("TPESampler", "MOTPESampler"):
        startup = int(sampler.get("n_startup_trials", TPE_STARTUP_DEFAULT))
        asked = trial.datetime_start
        done = sum(1 for other in trials if other.state.name in ("COMPLETE", "PRUNED") and other.datetime_complete
                   and asked and other.datetime_complete <= asked)  # fmt: skip
        return RANDOM_STRATEGY if done < startup else name.removesuffix("Sampler").lower()
    return None


def load_trials(storage: str, study_name: str) -> list[Any]:
    import optuna

    if storage.startswith(SQLITE_PREFIX) and not Path(storage.removeprefix(SQLITE_PREFIX)).is_file():
        raise UnreadableStudyError(f"{storage}: no such file (SQLite would create an empty one)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as error:
        raise UnreadableStudyError(f"no study {study_name!r} in {storage}") from error
    return sorted(study.get_trials(deepcopy=False), key=lambda trial: trial.number)


def to_observation(
    trial: Any, jobs: Sequence[Job], metrics: Sequence[Metric], strategy: str | None = None
) -> Observation | None:
    """The trial as the sigopt sweeper would have journaled it; None for a trial that never finished."""
    state = trial.state.name
    if state not in ("COMPLETE", "FAIL"):
        return None
    matching = [job for job in jobs if job.matches(trial.params)]
    job = matching[-1] if matching else None  # a re-asked identical trial (never seen) would take the latest
    status, final = job.final_metrics() if job else ("no run directory found", {})
    started, finished = job.times() if job else (None, None)
    base: dict[str, Any] = {
        "trial": trial.number,
        "suggestion_id": f"optuna-{trial.number}",
        "assignments": dict(trial.params),
        "started_at": started,
        "finished_at": finished,
        "duration_s": finished - started if started is not None and finished is not None else None,
        "output_dir": str(job.path) if job else None,
        "metrics": final,
        "strategy": strategy,
    }
    if state == "FAIL":
        reason = status if job is None or ": " in status.removeprefix("failed: ") else " / ".join(filter(None, (status, job.failure_line())))
        return Observation(status=FAILED, reason=reason, **base)
    optimized = [metric for metric in metrics if metric.optimized]
    values = {metric.name: float(value) for metric, value in zip(optimized, trial.values)}
    values |= {metric.name: float(final[metric.name]) for metric in metrics if not metric.optimized and metric.name in final}
    return Observation(status=COMPLETED, values=values, reason=job.stopped_early() if job else None, **base)


def export(storage: str, study_name: str, jobs_dirs: Sequence[Path], out: Path) -> dict[str, Any]:
    jobs = find_jobs(jobs_dirs)
    metrics = search_metrics(jobs[0])
    trials = load_trials(storage, study_name)
    sampler = sampler_config(jobs[0])
    own = [trial for trial in trials if WARM_START_ATTR not in trial.user_attrs]  # (warm ones count for TPE's start)
    observations = [
        o for trial in own if (o := to_observation(trial, jobs, metrics, sampler_strategy(trial, trials, sampler)))
    ]
    lost = [trial.number for trial in own if trial.state.name not in ("COMPLETE", "FAIL")]
    out.mkdir(parents=True, exist_ok=True)
    names = sorted({name for trial in own for name in trial.params})
    write_observations(out, observations, names, metrics)
    front = write_pareto(out, observations, metrics, None, CHECKPOINT_DIR)
    pareto = json.loads((out / "pareto.json").read_text())
    pareto |= {"source": {"storage": storage, "study": study_name, "jobs": [str(path) for path in jobs_dirs]}, "lost_trials": lost}
    (out / "pareto.json").write_text(json.dumps(pareto, indent=2, sort_keys=True) + "\n")
    return {"observations": len(observations), "failed": sum(o.failed for o in observations), "lost": len(lost), "front": len(front)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lightning_distill.search.optuna_sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("storage", help="Optuna storage URL, e.g. sqlite:///outputs/offline-search/random.db")
    parser.add_argument("study", help="study name (hydra.sweeper.study_name)")
    parser.add_argument("jobs_dirs", nargs="+", type=Path, help="the sweep folders (hydra.sweep.dir) of every start")
    parser.add_argument("--out", type=Path, required=True, help="sweep directory to write (observations.jsonl, pareto.json)")
    args = parser.parse_args(argv)
    try:
        counts = export(args.storage, args.study, args.jobs_dirs, args.out)
    except UnreadableStudyError as error:
        print(f"optuna_sweep: {error}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    print(f"wrote {args.out}: " + ", ".join(f"{count} {name}" for name, count in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
