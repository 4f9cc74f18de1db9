"""``python -m lightning_distill.squad.heldout_scores DIR [DIR ...] --data EVAL.json``: held-out numbers.

Scores an evaluation over *all* questions of ``EVAL.json`` (a run with ``data.eval_part=null``, or a
re-score of a saved student) under the held-out protocol (:mod:`lightning_distill.data.heldout`):

- **select** (what choices are made on): the official metrics and the null-score threshold that
  maximizes f1 there (``best_f1_thresh``); ``select.best_f1`` is what a search optimizes;
- **test** (what is reported): exact/f1 at the default threshold 0, and at the threshold calibrated
  on select. The test questions never choose anything, the threshold included.

Reads ``best_non_null.json`` and ``null_odds.json`` (plain or ``.json.gz``) from DIR, so a published
result can be recomputed from those two files and the data; writes ``DIR/heldout.json`` (or
``--out``). The test numbers at threshold 0 equal what the run's own ``predictions.json`` scores on
the test questions (tested).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_distill.data.heldout import PARTS, SELECT, TEST, article_question_counts, partition_articles
from lightning_distill.data.squad_reader import read_squad_files
from lightning_distill.errors import USER_ERROR_EXIT_CODE, DataError, LightningDistillError
from lightning_distill.metrics import HEADLINE, INFERENCE_TIME, INFERENCE_TIME_ONNX, NUM_PARAMS, ONNX_INT8_SIZE_MB
from lightning_distill.squad.postprocess import BEST_NON_NULL_FILE, NULL_ODDS_FILE
from lightning_distill.squad.squad_metrics import squad_v2_metrics
from lightning_distill.storage.atomic_files import write_json_atomically

HELDOUT_FILE = "heldout.json"
DEFAULT_THRESHOLD = 0.0
RUN_METRICS = tuple(m.name for m in (NUM_PARAMS, INFERENCE_TIME, ONNX_INT8_SIZE_MB, INFERENCE_TIME_ONNX))
"""Copied from the directory's ``metrics.json`` next to the scores, where present."""

log = logging.getLogger(__name__)


def read_answers(directory: Path, name: str) -> dict[str, Any]:
    """``name`` (a JSON file of the evaluation) from ``directory``, plain or gzipped."""
    for path, opener in ((directory / name, open), (directory / f"{name}.gz", gzip.open)):
        if path.is_file():
            with opener(path, "rt", encoding="utf-8") as handle:
                return json.load(handle)
    raise DataError(
        f"{directory} has no {name} (nor {name}.gz): point at a run or re-score directory of this version "
        "(evaluations write it next to predictions.json)."
    )


def heldout_metrics(
    records: Sequence[Mapping[str, Any]], best_non_null: Mapping[str, str], null_odds: Mapping[str, float]
) -> dict[str, Any]:
    """Select metrics, the threshold calibrated there, and test metrics at 0 and at that threshold."""
    counts = article_question_counts(records)
    part_of = partition_articles(counts)
    gold = {part: {r["id"]: r["answers"]["text"] for r in records if part_of[r["title"]] == part} for part in PARTS}
    missing = [qid for part in PARTS for qid in gold[part] if qid not in null_odds or qid not in best_non_null]
    if missing:
        raise DataError(
            f"the evaluation lacks {len(missing)} of {sum(map(len, gold.values()))} questions (e.g. {missing[0]}): "
            "held-out scoring needs every question of the data. Re-score the student on all of it: python -m "
            "lightning_distill.search.rescore RUN_DIR --out OUT data.eval_part=null data.max_eval_examples=null"
        )

    def at(part: str, threshold: float) -> dict[str, float]:
        answers = {qid: best_non_null[qid] for qid in gold[part]}
        odds = {qid: null_odds[qid] for qid in gold[part]}
        return squad_v2_metrics(gold[part], answers, na_probs=odds, na_prob_thresh=threshold, threshold_predictions=answers)

    select = at(SELECT, DEFAULT_THRESHOLD)
    calibrated = select["best_f1_thresh"]
    test_default, test_calibrated = at(TEST, DEFAULT_THRESHOLD), at(TEST, calibrated)
    articles = {part: [title for title, _ in counts if part_of[title] == part] for part in PARTS}
    headline = {"select_best_f1": select["best_f1"], "calibrated_threshold": calibrated}
    headline.update({f"test_{name}": test_default[name] for name in HEADLINE})
    headline.update({f"test_{name}_calibrated": test_calibrated[name] for name in HEADLINE})
    return {
        "protocol": "threshold calibrated on select (best_f1_thresh), applied to test; see lightning_distill/data/heldout.py",
        "headline": headline,
        "select": select,
        "test": {"threshold_0": test_default, "calibrated": {**test_calibrated, "threshold": calibrated}},
        "parts": {part: {"articles": articles[part], "questions": len(gold[part])} for part in PARTS},
    }


def score_directory(directory: Path, data: Sequence[Path]) -> dict[str, Any]:
    records = read_squad_files([str(path) for path in data], "--data")
    result = heldout_metrics(records, read_answers(directory, BEST_NON_NULL_FILE), read_answers(directory, NULL_ODDS_FILE))
    metrics_path = directory / "metrics.json"
    if metrics_path.is_file():
        final = json.loads(metrics_path.read_text()).get("final", {})
        result["headline"].update({name: final[name] for name in RUN_METRICS if name in final})
    result["source"] = {"directory": str(directory), "data": [str(path) for path in data]}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lightning_distill.squad.heldout_scores", description=__doc__.split("\n\n")[1])
    parser.add_argument("directories", type=Path, nargs="+", help="run or re-score directories evaluated on all of --data")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="the SQuAD 2.0 JSON file(s) they were evaluated on")
    parser.add_argument("--out", type=Path, help=f"where to write (one directory only; default DIR/{HELDOUT_FILE})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.out is not None and len(args.directories) > 1:
        parser.error("--out takes one directory; without it each gets DIR/heldout.json")
    try:
        for directory in args.directories:
            result = score_directory(directory, args.data)
            out = args.out or directory / HELDOUT_FILE
            write_json_atomically(out, result)
            h = result["headline"]
            print(
                f"{out}: select best_f1 {h['select_best_f1']:.2f} (threshold {h['calibrated_threshold']:.3f}); test f1 "
                f"{h['test_f1']:.2f} at 0, {h['test_f1_calibrated']:.2f} calibrated; exact {h['test_exact']:.2f} / "
                f"{h['test_exact_calibrated']:.2f}"
            )
    except LightningDistillError as error:
        print(f"heldout: {error}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
