"""Feature logits -> one answer text per question, and the official prediction files.

The span selection itself is ``lightning_distill.portable.answer_spans`` (after Hugging Face
``utils_qa.postprocess_qa_predictions(version_2_with_negative=True)``), shared with the pipeline
that travels with saved students. The score difference is kept per question (``null_odds``)
because it is exactly what the official evaluator's ``--na-prob-file`` expects, and the best span
is kept even when abstaining so the best-threshold search can un-abstain.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lightning_distill.errors import NonFiniteLossError
from lightning_distill.portable.answer_spans import NO_SPAN_NULL_ODDS, Answer, answer_question
from lightning_distill.squad.squad_metrics import squad_v2_metrics
from lightning_distill.storage.atomic_files import write_json_atomically

log = logging.getLogger(__name__)

NO_THRESHOLD = float("inf")
"""Predictions are already thresholded by post-processing; the scorer must not threshold again."""
PREDICTIONS_FILE = "predictions.json"
NULL_ODDS_FILE = "null_odds.json"
BEST_NON_NULL_FILE = "best_non_null.json"
"""Each question's best span even where the run abstained: with null_odds.json, what scoring at any other null
threshold needs (lightning_distill.squad.heldout_scores); predictions.json alone cannot un-abstain."""


@dataclass
class QAPredictions:
    """Per question: the answer ("" = abstain), null score minus best span score, best span text."""

    predictions: dict[str, str]
    null_odds: dict[str, float]
    best_non_null: dict[str, str]


def postprocess_qa_predictions(
    examples: Sequence[Mapping[str, Any]],
    features: Sequence[Mapping[str, Any]],
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float = 0.0,
) -> QAPredictions:
    """Answers for ``examples`` ({"id", "context"}) from per-feature logits.

    ``features[i]`` ({"example_id", "offset_mapping"}) goes with ``start_logits[i]`` /
    ``end_logits[i]``; [CLS] is at index 0.
    """
    if not len(features) == len(start_logits) == len(end_logits):
        raise ValueError(
            f"{len(features)} features but {len(start_logits)} start and {len(end_logits)} end logit arrays."
        )
    example_ids = {example["id"] for example in examples}
    features_of: dict[str, list[int]] = defaultdict(list)
    for index, feature in enumerate(features):
        if feature["example_id"] not in example_ids:
            raise ValueError(f"feature {index} belongs to example {feature['example_id']!r}, which is not in examples.")
        features_of[feature["example_id"]].append(index)

    result = QAPredictions(predictions={}, null_odds={}, best_non_null={})
    without_features = 0
    for example in examples:
        qid = example["id"]
        windows = features_of.get(qid, [])
        answer = answer_question(
            example["context"],
            [features[index]["offset_mapping"] for index in windows],
            [start_logits[index] for index in windows],
            [end_logits[index] for index in windows],
            n_best_size=n_best_size,
            max_answer_length=max_answer_length,
            null_score_diff_threshold=null_score_diff_threshold,
        )
        if answer is None:
            without_features += 1
            answer = Answer(text="", null_odds=NO_SPAN_NULL_ODDS, best_text="")
        result.predictions[qid], result.null_odds[qid], result.best_non_null[qid] = (
            answer.text, answer.null_odds, answer.best_text
        )
    if without_features:
        log.warning("%d question(s) have no features (no logits); predicting no answer for them.", without_features)
    return result


def check_finite_logits(start_logits: Sequence[np.ndarray], end_logits: Sequence[np.ndarray]) -> None:
    bad = sum(int(not np.isfinite(logits).all()) for logits in (*start_logits, *end_logits))
    if bad:
        raise NonFiniteLossError(f"{bad} of {2 * len(start_logits)} logit rows are not finite: the model has diverged.")


def score_logits(
    examples: Sequence[Mapping[str, Any]],
    features: Sequence[Mapping[str, Any]],
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    **answer_settings: Any,
) -> tuple[QAPredictions, dict[str, float]]:
    """Answers and official SQuAD 2.0 metrics from per-feature logits: what a run's evaluation
    logs, and what an export reports for each backend.

    Non-finite logits (a diverged student) raise ``NonFiniteLossError`` here, before any answer or file is made
    from them (NaN null odds would otherwise fail the ``null_odds.json`` write as a generic error)."""
    check_finite_logits(start_logits, end_logits)
    predictions = postprocess_qa_predictions(examples, features, start_logits, end_logits, **answer_settings)
    gold = {example["id"]: example["answers"]["text"] for example in examples}
    metrics = squad_v2_metrics(
        gold,
        predictions.predictions,
        na_probs=predictions.null_odds,
        na_prob_thresh=NO_THRESHOLD,
        threshold_predictions=predictions.best_non_null,
    )
    return predictions, metrics


def write_predictions(predictions: QAPredictions, directory: str | Path) -> None:
    """``predictions.json`` and ``null_odds.json`` in the official formats, so any official
    evaluator can re-score a run (``--na-prob-file null_odds.json``), and ``best_non_null.json``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomically(directory / PREDICTIONS_FILE, predictions.predictions)
    null_odds = {qid: float(odds) for qid, odds in predictions.null_odds.items()}
    write_json_atomically(directory / NULL_ODDS_FILE, null_odds)
    write_json_atomically(directory / BEST_NON_NULL_FILE, predictions.best_non_null)
