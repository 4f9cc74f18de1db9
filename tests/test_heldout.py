"""The held-out protocol: split by article, choose on select, report on test (issue 32)."""

from __future__ import annotations

import gzip
import json

import pytest

from lightning_distill.data.heldout import SELECT, TEST, article_question_counts, partition_articles, records_of_part
from lightning_distill.data.squad_reader import read_squad_files
from lightning_distill.errors import ConfigError, DataError
from lightning_distill.squad.heldout_scores import heldout_metrics, main
from lightning_distill.squad.squad_metrics import squad_v2_metrics


def test_partition_gives_each_article_to_the_part_with_fewer_questions():
    parts = partition_articles([("a", 10), ("b", 4), ("c", 5), ("d", 3), ("e", 8)])
    # a: 0 vs 0 -> select; b: 10 vs 0 -> test; c: 10 vs 4 -> test; d: 10 vs 9 -> test; e: 10 vs 12 -> select
    assert parts == {"a": SELECT, "b": TEST, "c": TEST, "d": TEST, "e": SELECT}


def test_split_b_partition_is_fixed_and_balanced(squad_dir):
    records = read_squad_files([squad_dir / "dev-v2.0.splitB.json"], "data.eval_files")
    select, test = records_of_part(records, SELECT, "split B"), records_of_part(records, TEST, "split B")
    assert (len(select), len(test)) == (2768, 3027)  # the numbers docs/results/shrink/README.md states
    assert {r["title"] for r in select}.isdisjoint({r["title"] for r in test})
    assert sorted(r["id"] for r in select + test) == sorted(r["id"] for r in records)
    assert select[0]["title"] == "Southern_California" and test[0]["title"] == "Sky_(United_Kingdom)"


def test_a_part_needs_two_articles_and_a_known_name():
    one_article = [{"id": "q", "title": "t", "context": "c", "question": "q", "answers": {"text": [], "answer_start": []}}]
    with pytest.raises(ConfigError, match="data.eval_part=select.*1 article"):
        records_of_part(one_article, SELECT, "x.json")
    with pytest.raises(ConfigError, match="data.eval_part='dev' is not a part"):
        records_of_part(one_article, "dev", "x.json")
    assert records_of_part(one_article, None, "x.json") == one_article


def _records(specs):
    """(title, qid, gold texts) -> SQuAD records."""
    return [{"id": qid, "title": title, "context": "", "question": "", "answers": {"text": gold, "answer_start": [0] * len(gold)}}
            for title, qid, gold in specs]  # fmt: skip


def test_threshold_is_calibrated_on_select_and_applied_to_test():
    records = _records([
        ("A", "s1", ["paris"]), ("A", "s2", []), ("A", "s3", []),       # select (first article)
        ("B", "t1", ["rome"]), ("B", "t2", []), ("B", "t3", ["oslo"]),  # test
    ])  # fmt: skip
    best = {"s1": "paris", "s2": "x", "s3": "y", "t1": "rome", "t2": "z", "t3": "bergen"}
    odds = {"s1": -5.0, "s2": -4.0, "s3": -3.0, "t1": -6.0, "t2": -3.5, "t3": 1.0}
    result = heldout_metrics(records, best, odds)
    # On select, answering only s1 is best: threshold = -5 (abstain above it).
    assert result["select"]["best_f1"] == pytest.approx(100.0)
    assert result["headline"]["calibrated_threshold"] == -5.0
    # Test at 0: t1, t2 answered (t2 wrong), t3 abstains (wrong: it has an answer) -> 1/3.
    assert result["test"]["threshold_0"]["exact"] == pytest.approx(100 / 3)
    # Test at -5: only t1 answered -> t1 right, t2 right (abstains), t3 wrong -> 2/3.
    assert result["test"]["calibrated"]["exact"] == pytest.approx(200 / 3)
    assert result["parts"] == {SELECT: {"articles": ["A"], "questions": 3}, TEST: {"articles": ["B"], "questions": 3}}


def test_threshold_zero_matches_the_runs_own_predictions(tmp_path, squad_dir):
    """Scoring best_non_null at threshold 0 must equal the official scoring of predictions.json."""
    records = read_squad_files([squad_dir / "dev-v2.0.splitB.json"], "data.eval_files")
    odds = {r["id"]: (-1.0 if i % 3 else 2.0) + (i % 7) / 10 for i, r in enumerate(records)}
    best = {r["id"]: (r["answers"]["text"][0] if r["answers"]["text"] and i % 2 else "the") for i, r in enumerate(records)}
    predictions = {qid: "" if odds[qid] > 0 else text for qid, text in best.items()}
    result = heldout_metrics(records, best, odds)
    test_titles = set(result["parts"][TEST]["articles"])
    gold = {r["id"]: r["answers"]["text"] for r in records if r["title"] in test_titles}
    official = squad_v2_metrics(gold, {qid: predictions[qid] for qid in gold})
    for name in ("exact", "f1", "HasAns_f1", "NoAns_exact"):
        assert result["test"]["threshold_0"][name] == pytest.approx(official[name])
    # the CLI reads the files (gzipped too) and refuses an evaluation of only some questions
    (tmp_path / "best_non_null.json.gz").write_bytes(gzip.compress(json.dumps(best).encode()))
    (tmp_path / "null_odds.json").write_text(json.dumps(odds))
    assert main([str(tmp_path), "--data", str(squad_dir / "dev-v2.0.splitB.json")]) == 0
    written = json.loads((tmp_path / "heldout.json").read_text())
    assert written["headline"]["test_f1"] == pytest.approx(official["f1"])
    (tmp_path / "null_odds.json").write_text(json.dumps({qid: odds[qid] for qid in list(odds)[:100]}))
    with pytest.raises(DataError, match="needs every question"):
        heldout_metrics(records, best, {qid: odds[qid] for qid in list(odds)[:100]})
    assert main([str(tmp_path), "--data", str(squad_dir / "dev-v2.0.splitB.json")]) == 2


def test_article_counts_keep_file_order():
    records = _records([("B", "1", []), ("A", "2", []), ("B", "3", [])])
    assert article_question_counts(records) == [("B", 2), ("A", 1)]
