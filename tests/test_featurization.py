"""Featurization: gold spans survive the trip to tokens and back; windows, CLS labels, offsets."""

from __future__ import annotations

import itertools

import pytest

from lightning_distill.data.featurization import FeaturizationSettings, featurize_batch
from lightning_distill.data.squad_reader import read_squad_file
from lightning_distill.errors import ConfigError
from lightning_distill.portable.squad_windows import NOT_CONTEXT, truncate_questions


@pytest.fixture(scope="module")
def train_records(squad_dir):
    return read_squad_file(squad_dir / "train-v2.0.first10.json", "data.train_files")[:400]


def as_batch(records):
    return {key: [record[key] for record in records] for key in records[0]}


def features_of(records, tokenizer, **settings):
    return featurize_batch(as_batch(records), tokenizer, FeaturizationSettings(**settings))


def rows(features):
    return [dict(zip(features, values)) for values in zip(*features.values())]


def test_gold_span_round_trip(train_records, tokenizer):
    """Decoded label span == gold text whenever the answer lies inside the window."""
    by_id = {record["id"]: record for record in train_records}
    exact = subword = 0
    for row in rows(features_of(train_records, tokenizer)):
        record = by_id[row["example_id"]]
        if row["start_positions"] == 0:
            continue
        offsets = row["offset_mapping"]
        decoded = record["context"][offsets[row["start_positions"]][0] : offsets[row["end_positions"]][1]]
        gold = record["answers"]["text"][0]
        if decoded == gold:
            exact += 1
        else:  # an answer that starts/ends inside a word: the tokens covering it, and no more
            assert gold in decoded and len(decoded.split()) == len(gold.split()), (decoded, gold)
            subword += 1
    assert exact > 300
    assert subword <= 0.02 * (exact + subword)


def test_unanswerable_and_out_of_window_answers_point_at_cls(train_records, tokenizer):
    by_id = {record["id"]: record for record in train_records}
    features = rows(features_of(train_records, tokenizer, max_seq_length=128, doc_stride=32))
    for row in features:
        record = by_id[row["example_id"]]
        if not record["answers"]["text"]:
            assert (row["start_positions"], row["end_positions"]) == (0, 0)
    answerable_ids = {r["id"] for r in train_records if r["answers"]["text"]}
    cls_for_answerable = [f for f in features if f["example_id"] in answerable_ids and f["start_positions"] == 0]
    assert cls_for_answerable, "short windows must leave some answers outside some windows"


def test_long_contexts_become_overlapping_windows(train_records, tokenizer):
    settings = {"max_seq_length": 128, "doc_stride": 32}
    record = max(train_records, key=lambda r: len(r["context"]))
    features = rows(features_of([record], tokenizer, **settings))
    assert len(features) > 1
    assert all(len(f["input_ids"]) <= 128 for f in features)
    context_tokens = [[tuple(o) for o in f["offset_mapping"] if tuple(o) != NOT_CONTEXT] for f in features]
    for previous, current in itertools.pairwise(context_tokens):
        assert previous[-32:] == current[:32]  # doc_stride = overlap in tokens (Hugging Face meaning)
    assert context_tokens[0][0][0] == 0 and context_tokens[-1][-1][1] >= len(record["context"].rstrip()) - 1


def test_question_tokens_have_no_context_offsets(train_records, tokenizer):
    row = rows(features_of(train_records[:1], tokenizer))[0]
    first_context = next(i for i, o in enumerate(row["offset_mapping"]) if tuple(o) != NOT_CONTEXT)
    assert all(tuple(o) == NOT_CONTEXT for o in row["offset_mapping"][:first_context])
    assert tuple(row["offset_mapping"][-1]) == NOT_CONTEXT  # final [SEP]


def test_questions_are_cut_to_max_query_length(tokenizer):
    long_question = " ".join(["why"] * 100) + "?"
    (cut,) = truncate_questions([long_question], tokenizer, max_query_length=64)
    assert len(tokenizer(cut, add_special_tokens=False)["input_ids"]) == 64
    assert truncate_questions(["  Who is it?"], tokenizer, 64) == ["Who is it?"]


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"max_seq_length": 60, "max_query_length": 64}, "data.max_seq_length"),
        ({"doc_stride": 400}, "data.doc_stride"),
        ({"max_query_length": 0}, "data.max_query_length"),
    ],
)
def test_bad_settings_name_the_key(settings, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        FeaturizationSettings(**settings).validate("data")
