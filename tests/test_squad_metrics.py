"""Official SQuAD 2.0 metric semantics: regression targets from the data README, hand-made cases, CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_distill.errors import DataError
from lightning_distill.squad.squad_metrics import (
    compute_exact,
    compute_f1,
    gold_answers_from_squad,
    load_gold_answers,
    load_predictions,
    normalize_answer,
    squad_v2_metrics,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
BERT_PREDICTIONS = "bert-base-google.dev-predictions.json"
TOLERANCE = 1e-4

# Regression targets from the squad_v2 data README (official BERT-base dev predictions).
TARGETS = {
    "dev-v2.0.json": {
        "exact": 78.74168,
        "f1": 81.77528,
        "HasAns_exact": 74.10594,
        "HasAns_f1": 80.18183,
        "NoAns_exact": 83.36417,
        "total": 11873,
        "HasAns_total": 5928,
        "NoAns_total": 5945,
    },
    "dev-v2.0.splitB.json": {
        "exact": 78.49871,
        "f1": 81.72171,
        "HasAns_exact": 72.86282,
        "HasAns_f1": 79.05147,
        "NoAns_exact": 84.62369,
        "total": 5795,
        "HasAns_total": 3018,
        "NoAns_total": 2777,
    },
}


def assert_matches_targets(metrics: dict[str, float], targets: dict[str, float]) -> None:
    for key, expected in targets.items():
        assert metrics[key] == pytest.approx(expected, abs=TOLERANCE), key


# --- regression targets ------------------------------------------------------------------------------


@pytest.mark.parametrize("data_file", sorted(TARGETS))
def test_official_bert_predictions_reproduce_readme_targets(squad_dir: Path, data_file: str) -> None:
    gold = load_gold_answers(squad_dir / data_file)
    predictions = load_predictions(squad_dir / BERT_PREDICTIONS)
    metrics = squad_v2_metrics(gold, predictions)
    assert_matches_targets(metrics, TARGETS[data_file])
    assert metrics["NoAns_f1"] == metrics["NoAns_exact"]  # an unanswerable question is all or nothing
    assert "best_exact" not in metrics  # only with na_probs


def test_extra_predictions_are_ignored_with_a_warning(squad_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    gold = load_gold_answers(squad_dir / "dev-v2.0.splitB.json")
    predictions = load_predictions(squad_dir / BERT_PREDICTIONS)
    with caplog.at_level(logging.WARNING):
        squad_v2_metrics(gold, predictions)
    assert "ignoring 6078 id(s)" in caplog.text


# --- answer comparison ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  an  apple,\ta pear\n", "apple pear"),
        ("U.S.A.", "usa"),
        ("Banana and theme", "banana and theme"),  # articles only as whole words
        ("the", ""),
        ("", ""),
    ],
)
def test_normalize_answer(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


def test_exact_and_f1_on_hand_made_cases() -> None:
    assert compute_exact("The Eiffel Tower", "eiffel tower!") == 1
    assert compute_exact("Eiffel Tower", "the tower") == 0
    assert compute_f1("Eiffel Tower", "the tower") == pytest.approx(2 / 3)  # p=1, r=1/2
    assert compute_f1("light blue sky", "blue sky today") == pytest.approx(2 / 3)  # p=r=2/3
    assert compute_f1("cat", "dog") == 0.0
    # unanswerable: only the empty prediction scores, on both metrics
    assert compute_exact("", "") == 1 and compute_f1("", "") == 1.0
    assert compute_exact("", "Paris") == 0 and compute_f1("", "Paris") == 0.0
    assert compute_f1("Paris", "") == 0.0


def test_max_over_gold_answers_and_unscorable_gold_dropped() -> None:
    gold = {
        "many": ["Eiffel Tower", "the tower", "Tower of Eiffel"],
        "article_only": ["The"],  # normalizes to nothing -> scored against "" but still "has answer"
        "mixed": ["a", "Paris"],  # "a" dropped, "Paris" kept
        "none": [],
    }
    predictions = {"many": "tower", "article_only": "", "mixed": "paris", "none": ""}
    metrics = squad_v2_metrics(gold, predictions)
    assert metrics["total"] == 4 and metrics["HasAns_total"] == 3 and metrics["NoAns_total"] == 1
    assert metrics["HasAns_exact"] == pytest.approx(100.0)  # "tower" == "the tower" after normalizing
    assert metrics["exact"] == pytest.approx(100.0)
    assert metrics["f1"] == pytest.approx(100.0)


# --- no-answer threshold and best-threshold search ------------------------------------------------------

# Hand-made case. Raw scores (exact / f1):
#   q1 has "Paris",       pred "Paris",     na 0.1 -> 1 / 1
#   q2 has "light blue",  pred "blue",      na 0.2 -> 0 / 2/3  (p=1, r=1/2)
#   q3 no answer,         pred "something", na 0.3 -> 0 / 0
#   q4 no answer,         pred "",          na 0.8 -> 1 / 1
GOLD = {"q1": ["Paris"], "q2": ["light blue"], "q3": [], "q4": []}
PREDICTIONS = {"q1": "Paris", "q2": "blue", "q3": "something", "q4": ""}
NA_PROBS = {"q1": 0.1, "q2": 0.2, "q3": 0.3, "q4": 0.8}


def test_default_threshold_keeps_predictions() -> None:
    metrics = squad_v2_metrics(GOLD, PREDICTIONS, na_probs=NA_PROBS)
    assert metrics["exact"] == pytest.approx(100 * 2 / 4)
    assert metrics["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0 + 1) / 4)
    assert metrics["HasAns_exact"] == pytest.approx(50.0)
    assert metrics["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert metrics["NoAns_exact"] == pytest.approx(50.0)


def test_na_prob_threshold_turns_questions_into_no_answer() -> None:
    # thresh 0.15: q2, q3, q4 abstain -> q2 scores 0 (has an answer), q3 and q4 score 1.
    metrics = squad_v2_metrics(GOLD, PREDICTIONS, na_probs=NA_PROBS, na_prob_thresh=0.15)
    assert metrics["exact"] == pytest.approx(100 * 3 / 4)
    assert metrics["f1"] == pytest.approx(100 * 3 / 4)
    assert metrics["HasAns_exact"] == pytest.approx(50.0)
    assert metrics["NoAns_exact"] == pytest.approx(100.0)


def test_best_threshold_search_by_hand() -> None:
    # Start with every question abstaining: 2 (q3, q4). Answer in na order:
    #   exact: q1 +1 -> 3 (best, thresh 0.1); q2 +0 -> 3; q3 -1 -> 2; q4 +0 -> 2
    #   f1:    q1 +1 -> 3; q2 +2/3 -> 3.667 (best, thresh 0.2); q3 -1 -> 2.667; q4 +0
    metrics = squad_v2_metrics(GOLD, PREDICTIONS, na_probs=NA_PROBS)
    assert metrics["best_exact"] == pytest.approx(75.0)
    assert metrics["best_exact_thresh"] == pytest.approx(0.1)
    assert metrics["best_f1"] == pytest.approx(100 * (3 + 2 / 3) / 4)
    assert metrics["best_f1_thresh"] == pytest.approx(0.2)


def test_threshold_predictions_let_the_search_unabstain() -> None:
    abstained = {**PREDICTIONS, "q1": ""}  # q1 abstained although its best span was right
    official = squad_v2_metrics(GOLD, abstained, na_probs=NA_PROBS)
    # official search over the given texts: q1 +0, q2 +0, q3 -1 -> never beats the start (2)
    assert official["best_exact"] == pytest.approx(50.0)
    assert official["best_exact_thresh"] == pytest.approx(0.0)
    ours = squad_v2_metrics(GOLD, abstained, na_probs=NA_PROBS, threshold_predictions=PREDICTIONS)
    assert ours["exact"] == official["exact"]  # the main metrics still use `predictions`
    assert ours["best_exact"] == pytest.approx(75.0)
    assert ours["best_exact_thresh"] == pytest.approx(0.1)


# --- errors -------------------------------------------------------------------------------------------------


def test_missing_predictions_are_an_error_listing_ids() -> None:
    with pytest.raises(DataError, match=r"missing for 2 of 4 question\(s\).*'q3', 'q4'"):
        squad_v2_metrics(GOLD, {"q1": "Paris", "q2": "blue"})
    with pytest.raises(DataError, match="no-answer probabilities missing for 1"):
        squad_v2_metrics(GOLD, PREDICTIONS, na_probs={"q1": 0.0, "q2": 0.0, "q3": 0.0})


def _squad(qas: list) -> dict:
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": "c", "qas": qas}]}]}


def test_gold_answers_from_squad() -> None:
    gold = gold_answers_from_squad(
        _squad(
            [
                {"id": "a", "question": "?", "answers": [{"text": "x", "answer_start": 0}], "is_impossible": False},
                {"id": "b", "question": "?", "answers": [], "is_impossible": True},
            ]
        )
    )
    assert gold == {"a": ["x"], "b": []}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "top level: expected an object"),
        ({"version": "v2.0"}, 'top level: missing list "data"'),
        ({"data": {}}, "data: expected a list"),
        (
            _squad([{"id": "a", "answers": []}, {"question": "?", "answers": []}]),
            r"data\[0\]\.paragraphs\[0\]\.qas\[1\]: missing string \"id\"",
        ),
        (_squad([{"id": "a", "answers": []}, {"id": "a", "answers": []}]), 'duplicate question id "a"'),
        (_squad([{"id": "a", "answers": [{"answer_start": 0}]}]), r"qas\[0\]\.answers\[0\]: missing string \"text\""),
        (_squad([{"id": "a"}]), r"qas\[0\]: missing list \"answers\""),
        (_squad([]), "contains no questions"),
    ],
)
def test_malformed_gold_names_source_and_json_path(data: object, message: str) -> None:
    with pytest.raises(DataError, match=message) as raised:
        gold_answers_from_squad(data, source="my.json")  # type: ignore[arg-type]
    assert str(raised.value).startswith("my.json: ")


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(DataError, match=f"{broken}: the SQuAD data file is not valid JSON"):
        load_gold_answers(broken)
    with pytest.raises(DataError, match="not found"):
        load_gold_answers(tmp_path / "absent.json")
    not_strings = tmp_path / "preds.json"
    not_strings.write_text('{"q1": 3}', encoding="utf-8")
    with pytest.raises(DataError, match=f"{not_strings}: 1 prediction"):
        load_predictions(not_strings)


# --- command line ---------------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lightning_distill.squad.evaluate", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_reproduces_split_b_targets(squad_dir: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "metrics.json"
    data, predictions = squad_dir / "dev-v2.0.splitB.json", squad_dir / BERT_PREDICTIONS
    result = run_cli(str(data), str(predictions), "--out-file", str(out_file))
    assert result.returncode == 0, result.stderr
    assert_matches_targets(json.loads(result.stdout), TARGETS["dev-v2.0.splitB.json"])
    assert json.loads(out_file.read_text(encoding="utf-8")) == json.loads(result.stdout)


def test_cli_with_na_prob_file(tmp_path: Path) -> None:
    data, preds, na = tmp_path / "data.json", tmp_path / "preds.json", tmp_path / "na.json"
    qas = [
        {"id": qid, "question": "?", "answers": [{"text": text, "answer_start": 0} for text in texts]}
        for qid, texts in GOLD.items()
    ]
    data.write_text(json.dumps(_squad(qas)), encoding="utf-8")
    preds.write_text(json.dumps(PREDICTIONS), encoding="utf-8")
    na.write_text(json.dumps(NA_PROBS), encoding="utf-8")
    result = run_cli(str(data), str(preds), "--na-prob-file", str(na), "--na-prob-thresh", "0.15")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["exact"] == pytest.approx(75.0)
    assert metrics["best_f1_thresh"] == pytest.approx(0.2)


def test_cli_malformed_json_exits_2_naming_the_file(tmp_path: Path) -> None:
    data, broken = tmp_path / "data.json", tmp_path / "broken_predictions.json"
    data.write_text(json.dumps(_squad([{"id": "q1", "answers": []}])), encoding="utf-8")
    broken.write_text('{"q1": "Paris",', encoding="utf-8")
    result = run_cli(str(data), str(broken))
    assert result.returncode == 2
    assert str(broken) in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_predictions_exits_2(tmp_path: Path) -> None:
    data, preds = tmp_path / "data.json", tmp_path / "preds.json"
    data.write_text(json.dumps(_squad([{"id": "a", "answers": []}, {"id": "b", "answers": []}])), encoding="utf-8")
    preds.write_text(json.dumps({"a": ""}), encoding="utf-8")
    result = run_cli(str(data), str(preds))
    assert result.returncode == 2
    assert str(preds) in result.stderr and "'b'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_predicted_only_scores_the_questions_a_limited_run_answered(tmp_path: Path) -> None:
    data, preds = tmp_path / "data.json", tmp_path / "preds.json"
    qas = [{"id": "a", "question": "?", "answers": [{"text": "Paris", "answer_start": 0}]},
           {"id": "b", "question": "?", "answers": []}, {"id": "c", "question": "?", "answers": []}]  # fmt: skip
    data.write_text(json.dumps(_squad(qas)), encoding="utf-8")
    preds.write_text(json.dumps({"a": "Paris", "b": "Lyon"}), encoding="utf-8")
    refused = run_cli(str(data), str(preds))
    assert refused.returncode == 2 and "add --predicted-only" in refused.stderr
    result = run_cli(str(data), str(preds), "--predicted-only")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["total"] == 2 and metrics["exact"] == pytest.approx(50.0)
    assert "scoring the 2 of 3 questions" in result.stderr
    preds.write_text(json.dumps({"a": "Paris", "zz": ""}), encoding="utf-8")
    unknown = run_cli(str(data), str(preds), "--predicted-only")
    assert unknown.returncode == 2 and "1 question(s)" in unknown.stderr and "Traceback" not in unknown.stderr
