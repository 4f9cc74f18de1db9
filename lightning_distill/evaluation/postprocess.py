"""Feature logits -> one answer text per question, after Hugging Face ``postprocess_qa_predictions``.

Follows ``utils_qa.postprocess_qa_predictions(version_2_with_negative=True)``: the null ("no
answer") score of a question is the lowest [CLS] score over its windows, the best span is the
highest-scoring valid span over all windows, and the question abstains when the null score beats
the span by more than ``null_score_diff_threshold``. The score difference is kept per question
(``null_odds``) because it is exactly what the official evaluator's ``--na-prob-file`` expects,
and the best span is kept even when abstaining so the best-threshold search can un-abstain.
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lightning_distill.atomic_files import write_json_atomically

log = logging.getLogger(__name__)

CLS_INDEX = 0
NO_SPAN_NULL_ODDS = sys.float_info.max
"""null_odds of a question with no valid span: abstaining is certain, and a finite value keeps
``null_odds.json`` strict JSON (the official evaluator scores it the same as infinity)."""

PREDICTIONS_FILE = "predictions.json"
NULL_ODDS_FILE = "null_odds.json"


@dataclass
class QAPredictions:
    """Per question: the answer ("" = abstain), null score minus best span score, best span text."""

    predictions: dict[str, str]
    null_odds: dict[str, float]
    best_non_null: dict[str, str]


@dataclass
class _Candidates:
    """Valid spans of one question as parallel arrays (score, first char, end char), in HF order."""

    scores: list[np.ndarray]
    char_starts: list[np.ndarray]
    char_ends: list[np.ndarray]


def _offset_array(offsets: Sequence[Any], length: int) -> np.ndarray:
    """(length, 2) char offsets with -1 rows for non-context tokens ([-1, -1] or None, as in HF)."""
    try:
        return np.asarray(offsets[:length], dtype=np.int64).reshape(length, 2)
    except (TypeError, ValueError):  # None entries or ragged pairs: the slow, tolerant path
        pass
    array = np.full((length, 2), -1, dtype=np.int64)
    for index in range(length):
        offset = offsets[index]
        if offset is not None and len(offset) >= 2:
            array[index] = offset[:2]
    return array


def _top_indices(logits: np.ndarray, n_best_size: int) -> np.ndarray:
    return np.argsort(-logits, kind="stable")[:n_best_size]


def _add_feature_spans(
    candidates: _Candidates,
    offsets: Sequence[Any],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    n_best_size: int,
    max_answer_length: int,
) -> float:
    """Add the feature's valid spans (top starts x top ends) to ``candidates``; return its null score.

    Only the first min(len(logits), len(offsets)) positions count: batches are padded, so logits
    can be longer than the feature, and a position without an offset cannot be mapped to text.
    """
    length = min(len(offsets), len(start_logits), len(end_logits))
    if length <= CLS_INDEX:
        raise ValueError("a feature has no token positions (empty offset_mapping or logits).")
    start = np.asarray(start_logits[:length], dtype=np.float64)
    end = np.asarray(end_logits[:length], dtype=np.float64)
    null_score = float(start[CLS_INDEX] + end[CLS_INDEX])
    chars = _offset_array(offsets, length)
    is_context = chars[:, 0] >= 0
    starts = _top_indices(start, n_best_size)
    ends = _top_indices(end, n_best_size)
    span_length = ends[None, :] - starts[:, None] + 1
    valid = (
        is_context[starts][:, None]
        & is_context[ends][None, :]
        & (span_length >= 1)
        & (span_length <= max_answer_length)
    )
    rows, cols = np.nonzero(valid)
    candidates.scores.append(start[starts[rows]] + end[ends[cols]])
    candidates.char_starts.append(chars[starts[rows], 0])
    candidates.char_ends.append(chars[ends[cols], 1])
    return null_score


def _best_span(candidates: _Candidates, context: str) -> tuple[float, str] | None:
    """Highest-scoring span with non-empty text (HF skips empty texts when picking the best)."""
    if not candidates.scores:
        return None
    scores = np.concatenate(candidates.scores)
    char_starts = np.concatenate(candidates.char_starts)
    char_ends = np.concatenate(candidates.char_ends)
    for index in np.argsort(-scores, kind="stable"):
        text = context[char_starts[index] : char_ends[index]]
        if text:
            return float(scores[index]), text
    return None


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
        qid, context = example["id"], example["context"]
        candidates = _Candidates(scores=[], char_starts=[], char_ends=[])
        null_scores = [
            _add_feature_spans(
                candidates,
                features[index]["offset_mapping"],
                start_logits[index],
                end_logits[index],
                n_best_size,
                max_answer_length,
            )
            for index in features_of.get(qid, [])
        ]
        without_features += not null_scores
        best = _best_span(candidates, context)
        if best is None:
            result.predictions[qid], result.null_odds[qid], result.best_non_null[qid] = "", NO_SPAN_NULL_ODDS, ""
            continue
        best_score, best_text = best
        score_diff = min(null_scores) - best_score
        result.predictions[qid] = "" if score_diff > null_score_diff_threshold else best_text
        result.null_odds[qid] = score_diff
        result.best_non_null[qid] = best_text
    if without_features:
        log.warning("%d question(s) have no features (no logits); predicting no answer for them.", without_features)
    return result


def write_predictions(predictions: QAPredictions, directory: str | Path) -> None:
    """``predictions.json`` and ``null_odds.json`` in the official formats, so any official
    evaluator can re-score a run (``--na-prob-file null_odds.json``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomically(directory / PREDICTIONS_FILE, predictions.predictions)
    null_odds = {qid: float(odds) for qid, odds in predictions.null_odds.items()}
    write_json_atomically(directory / NULL_ODDS_FILE, null_odds)
