"""An Optuna search (hydra-optuna-sweeper) exported as a sweep directory, then reported beside others.

One real tiny Optuna sweep in two starts (the second resumes the study in a new folder, where
hydra-optuna-sweeper numbers its jobs from 0 again), a NaN-injected failed trial, and a trial left
RUNNING in the study as a stopped start leaves it.
"""

from __future__ import annotations

import csv
import json

import pytest
from test_sigopt_sweeper import run

from lightning_distill.search.optuna_sweep import main as export_main
from lightning_distill.search.report import load_baseline
from lightning_distill.search.report import main as report_main

STUDY = "lightning-distill"


def optuna_sweep(sweep_dir, cache_dir, storage, n_trials, *extra):
    return run(
        [
            "train.py",
            "-m",
            "experiment=smoke",
            "hparams_search=optuna_pareto",
            "logger=[]",
            f"hydra.sweeper.n_trials={n_trials}",
            "hydra.sweeper.n_jobs=1",
            "hydra.sweeper.sampler.seed=0",
            f"hydra.sweeper.storage={storage}",
            f"hydra.sweep.dir={sweep_dir}",
            f"paths.cache_dir={cache_dir}",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def optuna_search(tmp_path_factory):
    root = tmp_path_factory.mktemp("optuna")
    storage = f"sqlite:///{root / 'study.db'}"
    cache = root / "cache"
    nan_in_job_1 = ["+callbacks.fault._target_=fault_injection.FaultInjection", "+callbacks.fault.job_num=${hydra:job.num}",
                    "+callbacks.fault.nan_jobs=[1]"]  # fmt: skip
    first = optuna_sweep(root / "part-0", cache, storage, 3, *nan_in_job_1)
    assert first.returncode == 0, first.stderr[-3000:]
    second = optuna_sweep(root / "part-1", cache, storage, 1)
    assert second.returncode == 0, second.stderr[-3000:]
    import optuna

    study = optuna.load_study(study_name=STUDY, storage=storage)
    study.ask()  # a trial a stopped start would leave RUNNING
    return root, storage, study


def test_export_joins_trials_to_their_runs_across_starts(optuna_search, tmp_path):
    root, storage, study = optuna_search
    out = tmp_path / "optuna"
    assert export_main([storage, STUDY, str(root / "part-0"), str(root / "part-1"), "--out", str(out)]) == 0
    records = {record["trial"]: record for record in map(json.loads, (out / "observations.jsonl").read_text().splitlines())}
    assert sorted(records) == [0, 1, 2, 3]
    assert records[1]["status"] == "failed"
    assert records[1]["reason"].startswith("failed: NonFiniteLossError: training loss is nan")
    trials = {trial.number: trial for trial in study.get_trials()}
    for number in (0, 2, 3):
        record = records[number]
        assert record["status"] == "completed"
        assert record["assignments"] == trials[number].params
        assert [record["values"]["exact"], record["values"]["num_params"]] == pytest.approx(trials[number].values)
        assert "f1" in record["values"] and "inference_time" in record["values"]  # stored metrics, from the run
        assert record["duration_s"] > 0
    # trial 3 ran in the second start, as its job 0: the join is by parameters, not job number
    assert records[3]["output_dir"] == str(root / "part-1" / "0")
    assert records[2]["output_dir"] == str(root / "part-0" / "2")
    pareto = json.loads((out / "pareto.json").read_text())
    assert [metric["name"] for metric in pareto["metrics"]][:2] == ["exact", "num_params"]
    assert pareto["lost_trials"] == [4] and pareto["failed"] == 1 and pareto["completed"] == 3
    assert all(entry["checkpoint"].endswith("student") for entry in pareto["frontier"])
    with open(out / "observations.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 4
    # NSGA-II's first generation (population_size trials) is RandomSampler's: all four are random draws
    assert {record["strategy"] for record in records.values()} == {"random"}


def test_tpe_strategy_is_random_until_n_startup_trials_had_completed_when_the_trial_was_asked():
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from lightning_distill.search.optuna_sweep import sampler_strategy

    start = datetime(2026, 1, 1)

    def trial(number, asked, completed, state="COMPLETE"):
        return SimpleNamespace(number=number, state=SimpleNamespace(name=state), system_attrs={},
                               datetime_start=start + timedelta(minutes=asked),
                               datetime_complete=start + timedelta(minutes=completed) if completed is not None else None)  # fmt: skip

    # two workers: trials 2 and 3 were asked before trials 0 and 1 had finished
    trials = [trial(0, 0, 5), trial(1, 0, 6), trial(2, 1, 7, "FAIL"), trial(3, 6, 9), trial(4, 8, None, "RUNNING")]
    sampler = {"_target_": "optuna.samplers.MOTPESampler", "n_startup_trials": 2}
    assert [sampler_strategy(t, trials, sampler) for t in trials] == ["random", "random", "random", "motpe", "motpe"]
    assert sampler_strategy(trials[3], trials, {"_target_": "optuna.samplers.RandomSampler"}) == "random"
    nsga = {"_target_": "optuna.samplers.NSGAIISampler"}
    trials[3].system_attrs["nsga2:generation"] = 2
    assert sampler_strategy(trials[3], trials, nsga) == "nsga2 (generation 2)"
    assert sampler_strategy(trials[0], trials, nsga) is None  # no generation recorded: not guessed
    assert sampler_strategy(trials[0], trials, {"_target_": "some.OtherSampler"}) is None


def test_report_overlays_the_export_with_hypervolume_trial_times_and_baseline(optuna_search, tmp_path):
    root, storage, _ = optuna_search
    sweeps = tmp_path / "sweeps"
    assert export_main([storage, STUDY, str(root / "part-0"), str(root / "part-1"), "--out", str(sweeps / "optuna")]) == 0
    baseline_run = root / "part-0" / "0"
    out = tmp_path / "report"
    assert report_main([str(sweeps), "--out", str(out), "--baseline", f"{baseline_run}=job 0"]) == 0
    report = (out / "report.md").read_text()
    assert "1 lost (trials [4]" in report
    assert "| `optuna` | 4 |" in report  # hypervolume table: observations, the failed one included
    with open(out / "hypervolume.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["observation"]) for row in rows] == [1, 2, 3, 4]
    hypervolumes = [float(row["hypervolume"]) for row in rows]
    records = [json.loads(line) for line in (sweeps / "optuna" / "observations.jsonl").read_text().splitlines()]
    in_order = sorted(records, key=lambda record: record["finished_at"])
    failed_at = next(index for index, record in enumerate(in_order) if record["status"] == "failed")
    assert hypervolumes == sorted(hypervolumes)
    assert hypervolumes[failed_at] == (hypervolumes[failed_at - 1] if failed_at else 0.0)  # a failed trial adds nothing
    largest = max(record["values"]["num_params"] for record in records if record["status"] == "completed")
    assert float(rows[0]["reference_size"]) == pytest.approx(1.05 * largest)
    for picture in ("pareto.png", "hypervolume.png", "trial_times.png"):
        assert (out / picture).stat().st_size > 5_000
    assert "Baseline point (`job 0`)" in report


def test_export_errors_name_what_is_missing(tmp_path, capsys):
    assert export_main([f"sqlite:///{tmp_path / 'none.db'}", STUDY, str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no trial run directories" in capsys.readouterr().err


def test_report_baseline_from_a_metrics_file_alone(optuna_search, tmp_path):
    """Published results keep a baseline's metrics.json without its run directory: --baseline takes the file."""
    root, _, _ = optuna_search
    kept = tmp_path / "published" / "baseline-metrics.json"
    kept.parent.mkdir()
    kept.write_text((root / "part-0" / "0" / "metrics.json").read_text())
    from_file, from_dir = load_baseline(f"{kept}=kept"), load_baseline(str(root / "part-0" / "0"))
    assert from_file["label"] == "kept" and from_file["values"] == from_dir["values"]
    with pytest.raises(ValueError, match="metrics.json"):
        load_baseline(str(tmp_path / "nowhere.json"))


def test_warm_start_adds_earlier_observations_to_the_study_once(optuna_search, tmp_path):
    """search.warm_start with an Optuna preset: the earlier sweep's observations (here an Optuna export) become
    trials of the stored study before the first ask, tagged, added once, and left out of the new export."""
    import optuna

    root, storage, _ = optuna_search
    earlier = tmp_path / "earlier"
    assert export_main([storage, STUDY, str(root / "part-0"), str(root / "part-1"), "--out", str(earlier)]) == 0
    new_storage = f"sqlite:///{tmp_path / 'warm.db'}"
    for start in range(2):  # a second start (a restarted search) adds nothing again
        result = optuna_sweep(tmp_path / f"sweep-{start}", root / "cache", new_storage, 1, f"search.warm_start=[{earlier}]")
        assert result.returncode == 0, result.stderr[-3000:]
    trials = optuna.load_study(study_name=STUDY, storage=new_storage).get_trials()
    warm = [trial for trial in trials if "warm_start" in trial.user_attrs]
    assert [trial.user_attrs["warm_start"] for trial in warm] == [0, 1, 2, 3]
    assert [trial.state.name for trial in warm] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    # NSGA-II builds its population only from trials with a generation: the completed warm ones are generation 0
    assert [trial.system_attrs.get("nsga2:generation") for trial in warm if trial.state.name == "COMPLETE"] == [0, 0, 0]
    earlier_records = [json.loads(line) for line in (earlier / "observations.jsonl").read_text().splitlines()]
    assert warm[0].params == earlier_records[0]["assignments"]
    assert list(warm[0].values) == pytest.approx([earlier_records[0]["values"]["exact"], earlier_records[0]["values"]["num_params"]])
    assert len(trials) == 6, "4 earlier + 1 trial per start"
    out = tmp_path / "export"
    assert export_main([new_storage, STUDY, str(tmp_path / "sweep-0"), str(tmp_path / "sweep-1"), "--out", str(out)]) == 0
    assert len((out / "observations.jsonl").read_text().splitlines()) == 2
