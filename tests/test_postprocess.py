"""Post-processing from logits to answers on hand-made logits, plus parity with the HF algorithm."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from lightning_distill.squad.postprocess import (
    NO_SPAN_NULL_ODDS,
    QAPredictions,
    postprocess_qa_predictions,
    write_predictions,
)
from lightning_distill.squad.squad_metrics import load_na_probs, load_predictions, squad_v2_metrics

CONTEXT = "alpha beta gamma delta epsilon"
NC = [-1, -1]  # not context
# [CLS] q1 q2 [SEP] alpha beta gamma delta epsilon [SEP]
OFFSETS = [NC, NC, NC, NC, [0, 5], [6, 10], [11, 16], [17, 22], [23, 30], NC]
ALPHA, BETA, GAMMA, DELTA, EPSILON = 4, 5, 6, 7, 8
QUESTION_TOKEN, SEP = 1, 9


def logits(peaks: dict[int, float], length: int = len(OFFSETS)) -> np.ndarray:
    values = np.zeros(length, dtype=np.float32)
    for index, value in peaks.items():
        values[index] = value
    return values


def run(start: dict[int, float], end: dict[int, float], **kwargs: float) -> QAPredictions:
    return postprocess_qa_predictions(
        [{"id": "q", "context": CONTEXT}],
        [{"example_id": "q", "offset_mapping": OFFSETS}],
        [logits(start)],
        [logits(end)],
        **kwargs,
    )


def test_best_span_is_mapped_to_context_text() -> None:
    result = run({BETA: 5.0}, {GAMMA: 5.0})
    assert result.predictions == {"q": "beta gamma"}
    assert result.best_non_null == {"q": "beta gamma"}
    assert result.null_odds["q"] == pytest.approx(0.0 - 10.0)  # null score 0 - span score 10


def test_null_wins_when_cls_beats_the_span_by_more_than_the_threshold() -> None:
    result = run({0: 6.0, BETA: 5.0}, {0: 6.0, GAMMA: 5.0})  # null 12 vs span 10
    assert result.predictions == {"q": ""}
    assert result.best_non_null == {"q": "beta gamma"}  # kept for the best-threshold search
    assert result.null_odds["q"] == pytest.approx(2.0)


@pytest.mark.parametrize(("threshold", "expected"), [(1.0, ""), (1.99, ""), (2.0, "beta gamma"), (3.0, "beta gamma")])
def test_threshold_moves_the_decision(threshold: float, expected: str) -> None:
    result = run({0: 6.0, BETA: 5.0}, {0: 6.0, GAMMA: 5.0}, null_score_diff_threshold=threshold)
    assert result.predictions["q"] == expected


def test_multi_feature_example_takes_best_span_and_min_null() -> None:
    second_offsets = [NC, NC, NC, [11, 16], [17, 22], [23, 30], NC]  # window: gamma delta epsilon
    result = postprocess_qa_predictions(
        [{"id": "q", "context": CONTEXT}],
        [{"example_id": "q", "offset_mapping": OFFSETS}, {"example_id": "q", "offset_mapping": second_offsets}],
        [logits({0: 0.5, ALPHA: 3.0}), logits({0: 2.0, 4: 4.5}, len(second_offsets))],
        [logits({0: 0.5, ALPHA: 3.0}), logits({0: 2.0, 5: 4.5}, len(second_offsets))],
    )
    # feature 1: null 1, span "alpha" 6; feature 2: null 4, span "delta epsilon" 9
    assert result.predictions["q"] == "delta epsilon"
    assert result.null_odds["q"] == pytest.approx(1.0 - 9.0)


def test_invalid_spans_are_never_chosen() -> None:
    baseline = -100.0
    start = logits({QUESTION_TOKEN: 100.0, EPSILON: 50.0, ALPHA: 40.0, BETA: 1.0})
    end = logits({SEP: 100.0, DELTA: 45.0, GAMMA: 1.0})
    for values in (start, end):
        values[values == 0] = baseline
    # every higher-scoring pair is invalid: question token / [SEP] are not context,
    # epsilon->delta has end < start, alpha->delta (4 tokens) and beta->delta (3) exceed max_answer_length
    result = postprocess_qa_predictions(
        [{"id": "q", "context": CONTEXT}],
        [{"example_id": "q", "offset_mapping": OFFSETS}],
        [start],
        [end],
        max_answer_length=2,
    )
    assert result.predictions["q"] == "beta gamma"
    assert result.null_odds["q"] == pytest.approx(2 * baseline - 2.0)


def test_padded_logits_are_ignored_beyond_the_offsets() -> None:
    padded = len(OFFSETS) + 5
    result = postprocess_qa_predictions(
        [{"id": "q", "context": CONTEXT}],
        [{"example_id": "q", "offset_mapping": OFFSETS}],
        [logits({BETA: 5.0, padded - 1: 1000.0}, padded)],
        [logits({GAMMA: 5.0, padded - 2: 1000.0}, padded)],
        n_best_size=2,  # padding must not take the top-n slots either
    )
    assert result.predictions["q"] == "beta gamma"


def test_shorter_logits_use_only_the_positions_they_have() -> None:
    short = GAMMA + 1
    result = postprocess_qa_predictions(
        [{"id": "q", "context": CONTEXT}],
        [{"example_id": "q", "offset_mapping": OFFSETS}],
        [logits({BETA: 5.0}, short)],
        [logits({GAMMA: 5.0}, short)],
    )
    assert result.predictions["q"] == "beta gamma"


def test_no_valid_span_or_no_feature_predicts_no_answer(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = postprocess_qa_predictions(
            [{"id": "q", "context": CONTEXT}, {"id": "orphan", "context": CONTEXT}],
            [{"example_id": "q", "offset_mapping": OFFSETS}],
            [logits({QUESTION_TOKEN: 9.0})],
            [logits({QUESTION_TOKEN: 9.0})],
            n_best_size=1,  # the only candidate is a question token
        )
    assert result.predictions == {"q": "", "orphan": ""}
    assert result.best_non_null == {"q": "", "orphan": ""}
    assert result.null_odds == {"q": NO_SPAN_NULL_ODDS, "orphan": NO_SPAN_NULL_ODDS}
    assert "1 question(s) have no features" in caplog.text


def test_write_predictions_official_formats(tmp_path: Path) -> None:
    predictions = QAPredictions(
        predictions={"q1": "café", "q2": ""}, null_odds={"q1": np.float32(-3.5), "q2": 1.25}, best_non_null={}
    )
    out = tmp_path / "run"
    write_predictions(predictions, out)
    assert sorted(path.name for path in out.iterdir()) == ["best_non_null.json", "null_odds.json", "predictions.json"]  # no temp files left
    assert "café" in (out / "predictions.json").read_text(encoding="utf-8")  # ensure_ascii=False
    assert load_predictions(out / "predictions.json") == {"q1": "café", "q2": ""}
    assert load_na_probs(out / "null_odds.json") == {"q1": -3.5, "q2": 1.25}
    write_predictions(QAPredictions({"q1": "x"}, {"q1": 0.0}, {}), out)  # overwrite in place
    assert json.loads((out / "predictions.json").read_text(encoding="utf-8")) == {"q1": "x"}


def test_outputs_feed_the_metric_and_best_threshold_search() -> None:
    # Abstains on an answerable question; the search over best_non_null recovers it.
    result = run({0: 6.0, BETA: 5.0}, {0: 6.0, GAMMA: 5.0})
    gold = {"q": ["Beta gamma"]}
    official = squad_v2_metrics(gold, result.predictions, na_probs=result.null_odds)
    ours = squad_v2_metrics(
        gold, result.predictions, na_probs=result.null_odds, threshold_predictions=result.best_non_null
    )
    assert official["exact"] == 0.0 and official["best_exact"] == 0.0
    assert ours["best_exact"] == 100.0 and ours["best_exact_thresh"] == pytest.approx(2.0)


# --- parity with a literal transcription of HF utils_qa.postprocess_qa_predictions (v2) ----------------


def hf_reference(
    example: dict, features: list[dict], starts: list, ends: list, n_best: int, max_len: int
) -> tuple[str, float]:
    """(best non-null text, null score diff) the way utils_qa computes them."""
    min_null, prelim = None, []
    for feature, start_logits, end_logits in zip(features, starts, ends):
        offsets = [None if o == NC else o for o in feature["offset_mapping"]]
        null = start_logits[0] + end_logits[0]
        if min_null is None or min_null["score"] > null:
            min_null = {"offsets": (0, 0), "score": null, "start_logit": start_logits[0], "end_logit": end_logits[0]}
        for s in np.argsort(start_logits)[-1 : -n_best - 1 : -1].tolist():
            for e in np.argsort(end_logits)[-1 : -n_best - 1 : -1].tolist():
                if s >= len(offsets) or e >= len(offsets) or offsets[s] is None or offsets[e] is None:
                    continue
                if e < s or e - s + 1 > max_len:
                    continue
                prelim.append(
                    {"offsets": (offsets[s][0], offsets[e][1]), "score": start_logits[s] + end_logits[e],
                     "start_logit": start_logits[s], "end_logit": end_logits[e]}
                )
    prelim.append(min_null)
    preds = sorted(prelim, key=lambda x: x["score"], reverse=True)[:n_best]
    if not any(p["offsets"] == (0, 0) for p in preds):
        preds.append(min_null)
    for p in preds:
        p["text"] = example["context"][p["offsets"][0] : p["offsets"][1]]
    best = next(p for p in preds if p["text"] != "")
    return best["text"], float(min_null["score"] - best["start_logit"] - best["end_logit"])


def test_matches_hugging_face_on_random_logits() -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    context = " ".join(words)
    word_offsets, position = [], 0
    for word in words:
        word_offsets.append([position, position + len(word)])
        position += len(word) + 1
    examples, features, starts, ends = [], [], [], []
    for example_index in range(30):
        qid = f"q{example_index}"
        examples.append({"id": qid, "context": context})
        for window_start in range(0, 60, 25)[: rng.integers(1, 4)]:
            window = word_offsets[window_start : window_start + 35]
            offsets = [NC, NC, NC] + window + [NC]
            features.append({"example_id": qid, "offset_mapping": offsets})
            starts.append(rng.normal(size=len(offsets)).astype(np.float32))
            ends.append(rng.normal(size=len(offsets)).astype(np.float32))
    n_best, max_len = 5, 4
    result = postprocess_qa_predictions(examples, features, starts, ends, n_best_size=n_best, max_answer_length=max_len)
    for example in examples:
        indices = [i for i, f in enumerate(features) if f["example_id"] == example["id"]]
        pick = [features[i] for i in indices], [starts[i] for i in indices], [ends[i] for i in indices]
        text, diff = hf_reference(example, *pick, n_best, max_len)
        assert result.best_non_null[example["id"]] == text
        assert result.null_odds[example["id"]] == pytest.approx(diff, abs=1e-5)
        assert result.predictions[example["id"]] == ("" if diff > 0 else text)
