"""``python -m lightning_distill.search.rescore``: a saved student scored again, as its run scored it."""

from __future__ import annotations

import json
import shutil

import pytest
from test_report import train_run

from lightning_distill.search.rescore import main as rescore_main

SAME_METRICS = ("exact", "f1", "best_f1", "HasAns_f1", "NoAns_exact", "total", "num_params")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return train_run(tmp_path_factory.mktemp("rescore") / "run")


def final(directory):
    return json.loads((directory / "metrics.json").read_text())["final"]


def test_rescoring_on_the_same_data_reproduces_the_runs_metrics(smoke_run, tmp_path):
    assert rescore_main([str(smoke_run), "--out", str(tmp_path / "same")]) == 0
    run, again = final(smoke_run), final(tmp_path / "same")
    assert {name: again[name] for name in SAME_METRICS} == pytest.approx({name: run[name] for name in SAME_METRICS})
    assert json.loads((tmp_path / "same" / "predictions.json").read_text()) == json.loads((smoke_run / "predictions.json").read_text())


def test_overrides_change_the_evaluation_data(smoke_run, tmp_path):
    assert rescore_main([str(smoke_run), "--out", str(tmp_path / "fewer"), "data.max_eval_examples=8"]) == 0
    assert final(tmp_path / "fewer")["total"] == 8 < final(smoke_run)["total"]
    assert json.loads((tmp_path / "fewer" / "metrics.json").read_text())["source"]["overrides"] == ["data.max_eval_examples=8"]


def test_a_run_without_its_student_is_one_clear_line(smoke_run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(smoke_run, copy)
    shutil.rmtree(copy / "student")
    assert rescore_main([str(copy), "--out", str(tmp_path / "out")]) == 2
    assert "holds no saved student" in capsys.readouterr().err
    assert rescore_main([str(smoke_run), "--out", str(tmp_path / "out"), "max_eval_examples"]) == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err
