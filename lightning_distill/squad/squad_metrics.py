"""The official SQuAD 2.0 metric (``evaluate-v2.0.py``), reimplemented so we can score offline.

transformers 5 dropped its SQuAD utilities and ``evaluate.load("squad_v2")`` needs the hub, so this
module owns the scoring. It follows the official script line for line in semantics (answer
normalization, max over gold answers, the no-answer threshold and the best-threshold search), so
our numbers are comparable with the leaderboard and with any run re-scored by the official script
from ``predictions.json`` / ``null_odds.json``. The one addition is ``threshold_predictions`` in
:func:`squad_v2_metrics` (see there).
"""

from __future__ import annotations

import collections
import json
import logging
import math
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_distill.data import squad_format
from lightning_distill.data.squad_format import field
from lightning_distill.errors import DataError

log = logging.getLogger(__name__)

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)
_MAX_LISTED_IDS = 5
"""How many offending question ids an error message shows (enough to find them, not a wall)."""

# --- answer comparison (official semantics) -------------------------------------------------------


def normalize_answer(text: str) -> str:
    """Official normalization, so answers differing only in case, punctuation or articles match."""
    text = text.lower()
    text = "".join(char for char in text if char not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def compute_exact(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def compute_f1(gold: str, prediction: str) -> float:
    """Bag-of-tokens F1; when either side is empty ("no answer") only an exact match scores."""
    gold_tokens = answer_tokens(gold)
    predicted_tokens = answer_tokens(prediction)
    if not gold_tokens or not predicted_tokens:
        return float(gold_tokens == predicted_tokens)
    common = collections.Counter(gold_tokens) & collections.Counter(predicted_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(predicted_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def scorable_gold(answers: Sequence[str]) -> list[str]:
    """Gold texts that normalize to nothing cannot be matched, so the official script drops them;
    a question left with none is scored against the empty answer."""
    kept = [answer for answer in answers if normalize_answer(answer)]
    return kept or [""]


def has_answer(answers: Sequence[str]) -> bool:
    """Official ``bool(qa["answers"])``; empty strings are ignored so ``[""]`` also means "no answer"."""
    return any(answers)


# --- reading gold answers and prediction files ----------------------------------------------------


def _answer_texts(qa: Mapping[str, Any], source: str, where: str) -> list[str]:
    if "answers" not in qa and qa.get("is_impossible") is True:
        return []
    texts = []
    for index, answer in enumerate(field(qa, "answers", list, source, where)):
        texts.append(field(answer, "text", str, source, f"{where}.answers[{index}]"))
    return texts


def gold_answers_from_squad(data: Mapping[str, Any], *, source: str = "SQuAD data") -> dict[str, list[str]]:
    """{question id: raw gold answer texts} from an official SQuAD JSON object ([] = unanswerable).

    Texts are kept raw (not yet filtered by :func:`scorable_gold`) because the official script
    decides "has an answer" from the raw list. ``source`` names the file in error messages.
    """
    gold: dict[str, list[str]] = {}
    seen_ids: set[str] = set()
    for _, paragraph, where in squad_format.paragraphs(data, source):
        for qid, qa, qa_where in squad_format.questions(paragraph, source, where, seen_ids):
            gold[qid] = _answer_texts(qa, source, qa_where)
    squad_format.require_questions(bool(gold), source)
    return gold


def read_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file, turning every way it can fail into one DataError that names the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file not found.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the {what} file ({error}).") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: the {what} file is not valid JSON ({error}).") from None


def load_gold_answers(path: str | Path) -> dict[str, list[str]]:
    return gold_answers_from_squad(read_json(path, "SQuAD data"), source=str(path))


def load_predictions(path: str | Path) -> dict[str, str]:
    """Official predictions format: ``{question id: answer text, "" for no answer}``."""
    predictions = read_json(path, "predictions")
    if not isinstance(predictions, dict):
        raise DataError(
            f'{path}: expected a JSON object {{"question id": "answer text"}}, got {type(predictions).__name__}.'
        )
    bad = [qid for qid, text in predictions.items() if not isinstance(text, str)]
    if bad:
        raise DataError(f"{path}: {len(bad)} prediction(s) are not strings, e.g. {_some(bad)}.")
    return predictions


def load_na_probs(path: str | Path) -> dict[str, float]:
    """Official na-prob format: ``{question id: number}``, larger = more likely unanswerable."""
    na_probs = read_json(path, "no-answer probability")
    if not isinstance(na_probs, dict):
        raise DataError(f'{path}: expected a JSON object {{"question id": number}}, got {type(na_probs).__name__}.')
    bad = [qid for qid, value in na_probs.items() if not _is_number(value)]
    if bad:
        raise DataError(f"{path}: {len(bad)} value(s) are not numbers, e.g. {_some(bad)}.")
    return {qid: float(value) for qid, value in na_probs.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _some(ids: Iterable[str]) -> str:
    listed = list(ids)
    shown = ", ".join(repr(qid) for qid in listed[:_MAX_LISTED_IDS])
    return shown + (", ..." if len(listed) > _MAX_LISTED_IDS else "")


# --- scoring ---------------------------------------------------------------------------------------


def raw_scores(
    gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per-question exact and F1 before any no-answer threshold, each the max over gold answers."""
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    for qid, answers in gold.items():
        prediction = predictions[qid]
        candidates = scorable_gold(answers)
        exact[qid] = max(compute_exact(answer, prediction) for answer in candidates)
        f1[qid] = max(compute_f1(answer, prediction) for answer in candidates)
    return exact, f1


def apply_no_ans_threshold(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_ans: Mapping[str, bool],
    na_prob_thresh: float,
) -> dict[str, float]:
    """Questions whose na_prob exceeds the threshold count as answered "no answer"."""
    return {
        qid: float(not has_ans[qid]) if na_probs[qid] > na_prob_thresh else score for qid, score in scores.items()
    }


def _eval_dict(exact: Mapping[str, float], f1: Mapping[str, float], qids: Sequence[str]) -> dict[str, float]:
    total = len(qids)
    return {
        "exact": 100.0 * sum(exact[qid] for qid in qids) / total,
        "f1": 100.0 * sum(f1[qid] for qid in qids) / total,
        "total": total,
    }


def find_best_thresh(
    predictions: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_ans: Mapping[str, bool],
) -> tuple[float, float]:
    """Best score over na_prob thresholds, and that threshold (official algorithm).

    Start from "every question abstains" (score = number of unanswerable questions), then answer
    questions in increasing na_prob order: an answerable one gains its raw score, an unanswerable
    one loses 1 if its prediction is non-empty. Like the official script, ties in na_prob are not
    grouped, so the best score can sit between two questions that no threshold separates.
    """
    current = sum(1 for qid in scores if not has_ans[qid])
    best, best_thresh = current, 0.0
    for qid in sorted((qid for qid in na_probs if qid in scores), key=na_probs.__getitem__):
        if has_ans[qid]:
            current += scores[qid]
        elif predictions[qid]:
            current -= 1
        if current > best:
            best, best_thresh = current, na_probs[qid]
    return 100.0 * best / len(scores), best_thresh


def _check_covered(gold: Mapping[str, Any], values: Mapping[str, Any], what: str) -> None:
    missing = [qid for qid in gold if qid not in values]
    if missing:
        raise DataError(f"{what} missing for {len(missing)} of {len(gold)} question(s), e.g. {_some(missing)}.")
    extra = sum(1 for qid in values if qid not in gold)
    if extra:
        log.warning("%s: ignoring %d id(s) that are not gold questions.", what, extra)


def squad_v2_metrics(
    gold: Mapping[str, Sequence[str]],
    predictions: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    threshold_predictions: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Official SQuAD 2.0 metrics of ``predictions`` against ``gold`` ({qid: raw gold texts}).

    Only gold ids are scored (extra predictions are ignored, so one predictions file can be scored
    against a subset of dev). With ``na_probs`` ({qid: larger = more likely unanswerable}),
    questions above ``na_prob_thresh`` count as abstaining and the best-threshold search runs.

    ``threshold_predictions``: texts to use in the best-threshold search instead of
    ``predictions``. The official script searches over the given predictions only, so a question
    already predicted "" can never be switched to answered by a lower threshold; passing each
    question's best non-null answer here (as our post-processing does) makes ``best_exact`` /
    ``best_f1`` the score the best null-score-diff threshold would really get. Without it the
    search is exactly the official one.
    """
    if not gold:
        raise DataError("no gold questions to score.")
    _check_covered(gold, predictions, "predictions")
    has_ans = {qid: has_answer(answers) for qid, answers in gold.items()}
    exact_raw, f1_raw = raw_scores(gold, predictions)
    if na_probs is not None:
        _check_covered(gold, na_probs, "no-answer probabilities")
        exact_raw_thr = apply_no_ans_threshold(exact_raw, na_probs, has_ans, na_prob_thresh)
        f1_raw_thr = apply_no_ans_threshold(f1_raw, na_probs, has_ans, na_prob_thresh)
    else:
        exact_raw_thr, f1_raw_thr = exact_raw, f1_raw
    metrics = _eval_dict(exact_raw_thr, f1_raw_thr, list(gold))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid, answerable in has_ans.items() if answerable == wanted]
        if qids:
            subset = _eval_dict(exact_raw_thr, f1_raw_thr, qids)
            metrics.update({f"{prefix}_{key}": value for key, value in subset.items()})
    if na_probs is not None:
        search_predictions = predictions
        search_exact, search_f1 = exact_raw, f1_raw
        if threshold_predictions is not None:
            _check_covered(gold, threshold_predictions, "threshold predictions")
            search_predictions = threshold_predictions
            search_exact, search_f1 = raw_scores(gold, threshold_predictions)
        best_exact, best_exact_thresh = find_best_thresh(search_predictions, search_exact, na_probs, has_ans)
        best_f1, best_f1_thresh = find_best_thresh(search_predictions, search_f1, na_probs, has_ans)
        metrics.update(
            best_exact=best_exact, best_exact_thresh=best_exact_thresh, best_f1=best_f1, best_f1_thresh=best_f1_thresh
        )
    return metrics
