"""Window logits -> one answer per question, after Hugging Face ``utils_qa.postprocess_qa_predictions``.

With ``version_2_with_negative=True`` semantics: the null ("no answer") score of a question is the
lowest [CLS] score over its windows, the best span is the highest-scoring valid span over all
windows (top ``n_best_size`` starts x ends, at most ``max_answer_length`` tokens, inside the
context), and the question abstains when the null score beats the span by more than
``null_score_diff_threshold``. Shared by the project's evaluation and the exported pipeline.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CLS_INDEX = 0
NO_SPAN_NULL_ODDS = sys.float_info.max
"""null_odds of a question with no valid span: abstaining is certain, and a finite value keeps
``null_odds.json`` strict JSON (the official evaluator scores it the same as infinity)."""


@dataclass(frozen=True)
class Answer:
    """One question's answer ("" = abstain), its null score minus best span score, and the best
    span's text and character range even when abstaining (the best-threshold search un-abstains)."""

    text: str
    null_odds: float
    best_text: str
    best_start: int = -1
    best_end: int = -1


@dataclass
class _Candidates:
    """Valid spans of one question as parallel arrays (score, first char, end char), in HF order."""

    scores: list[np.ndarray] = field(default_factory=list)
    char_starts: list[np.ndarray] = field(default_factory=list)
    char_ends: list[np.ndarray] = field(default_factory=list)


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


def _add_window_spans(
    candidates: _Candidates,
    offsets: Sequence[Any],
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    n_best_size: int,
    max_answer_length: int,
) -> float:
    """Add the window's valid spans (top starts x top ends) to ``candidates``; return its null score.

    Only the first min(len(logits), len(offsets)) positions count: batches are padded, so logits
    can be longer than the window, and a position without an offset cannot be mapped to text.
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


def _best_span(candidates: _Candidates, context: str) -> tuple[float, int, int] | None:
    """Highest-scoring span with non-empty text (HF skips empty texts when picking the best)."""
    if not candidates.scores:
        return None
    scores = np.concatenate(candidates.scores)
    char_starts = np.concatenate(candidates.char_starts)
    char_ends = np.concatenate(candidates.char_ends)
    for index in np.argsort(-scores, kind="stable"):
        start, end = int(char_starts[index]), int(char_ends[index])
        if context[start:end]:
            return float(scores[index]), start, end
    return None


def answer_question(
    context: str,
    window_offsets: Sequence[Sequence[Any]],
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float = 0.0,
) -> Answer | None:
    """The answer to one question from the logits of its windows; None when it has no windows."""
    candidates = _Candidates()
    null_scores = [
        _add_window_spans(candidates, offsets, start, end, n_best_size, max_answer_length)
        for offsets, start, end in zip(window_offsets, start_logits, end_logits, strict=True)
    ]
    if not null_scores:
        return None
    best = _best_span(candidates, context)
    if best is None:
        return Answer(text="", null_odds=NO_SPAN_NULL_ODDS, best_text="")
    best_score, start, end = best
    score_diff = min(null_scores) - best_score
    text = context[start:end]
    return Answer(
        text="" if score_diff > null_score_diff_threshold else text,
        null_odds=score_diff,
        best_text=text,
        best_start=start,
        best_end=end,
    )
