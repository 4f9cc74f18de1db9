"""Segment ids (issue 34, section 0): every model is fed the inputs its architecture takes, fed as it was trained.

A BERT-layout teacher fine-tuned the standard way reads segment 1 on the context; fed only input_ids and
attention_mask it silently sees segment 0 everywhere. These tests record what a BERT teacher actually receives
through ``train()`` (live and through the teacher-logit cache, and when it is scored at the start), and check
the conventions, the cache key, the teacher's score beside the student and the ONNX export of a BERT model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_train import compose_config
from transformers import BertConfig, BertForQuestionAnswering, DistilBertConfig

from lightning_distill.data.teacher_logit_cache import TeacherCacheSettings, TeacherLogitCache
from lightning_distill.errors import ConfigError
from lightning_distill.portable.model_inputs import SEGMENT_IDS, forward_inputs, input_names
from lightning_distill.training.pipeline import train


def smoke(tmp_path, *overrides):
    return compose_config(["experiment=smoke", "logger=[]", f"paths.cache_dir={tmp_path / 'cache'}", *overrides],
                          tmp_path / "run")  # fmt: skip


@pytest.fixture
def seen_segment_ids(monkeypatch):
    """Every token_type_ids a BERT QA model is called with (None when it is called without)."""
    seen: list[torch.Tensor | None] = []
    original = BertForQuestionAnswering.forward

    def recording(self, *args, **kwargs):
        seen.append(kwargs.get("token_type_ids"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BertForQuestionAnswering, "forward", recording)
    return seen


def test_distilbert_takes_no_segment_ids_and_bert_gets_the_batch_s():
    ids = torch.tensor([[101, 7, 102, 8, 102]])
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), SEGMENT_IDS: torch.tensor([[0, 0, 0, 1, 1]])}
    assert set(forward_inputs(DistilBertConfig(), batch)) == {"input_ids", "attention_mask"}
    bert = BertConfig(type_vocab_size=2)
    assert forward_inputs(bert, batch)[SEGMENT_IDS].tolist() == [[0, 0, 0, 1, 1]]
    assert forward_inputs(bert, batch, "zeros")[SEGMENT_IDS].tolist() == [[0, 0, 0, 0, 0]]
    assert input_names(bert) == ("input_ids", "attention_mask", SEGMENT_IDS)
    assert input_names(BertConfig(type_vocab_size=1)) == ("input_ids", "attention_mask")  # one segment: nothing to feed
    numpy_batch = {name: value.numpy() for name, value in batch.items()}
    assert isinstance(forward_inputs(bert, numpy_batch, "zeros")[SEGMENT_IDS], np.ndarray)


def test_a_bert_model_without_segment_ids_in_the_batch_is_an_error_not_segment_zero():
    ids = torch.tensor([[101, 7, 102]])
    with pytest.raises(ValueError, match="token_type_ids.*return_token_type_ids=True.*segment_ids='zeros'"):
        forward_inputs(BertConfig(type_vocab_size=2), {"input_ids": ids, "attention_mask": torch.ones_like(ids)})


@pytest.mark.parametrize("cache", ["true", "false"])
def test_the_teacher_reads_segment_one_on_the_context_in_training_and_its_score(tmp_path, seen_segment_ids, cache):
    """Through train(): the tiny BERT teacher (teacher=tiny_random) gets the tokenizer's segment ids when it builds
    the logit cache or runs live, and when it is scored on the evaluation data; the score lands in metrics.json."""
    result = train(smoke(tmp_path, f"teacher.cache.enabled={cache}"))
    assert seen_segment_ids and all(ids is not None for ids in seen_segment_ids)
    assert all(int(ids.max()) == 1 for ids in seen_segment_ids)  # every window has a context: segment 1
    for row in seen_segment_ids[0]:  # [CLS] question [SEP] is segment 0, context [SEP] segment 1 (then padding: 0)
        values = row.tolist()
        first_one = values.index(1)
        assert first_one > 1 and set(values[:first_one]) == {0}
        assert set(values[first_one : first_one + 5]) == {1}
    document = json.loads((tmp_path / "run" / "metrics.json").read_text())
    teacher = document["teacher"]
    assert teacher["segment_ids"] == "tokenizer" and teacher["questions"] == 32
    assert set(teacher["metrics"]) >= {"exact", "f1", "HasAns_f1", "best_f1"}
    assert result["teacher/best_f1"] == teacher["metrics"]["best_f1"]
    if cache == "true":  # and the report shows it beside the student
        from lightning_distill.search.report import write_report

        report = write_report([tmp_path / "run"], tmp_path / "report").read_text()
        assert "Teacher on the same evaluation data (32 questions, fed segment ids: tokenizer): best_f1 " in report


def test_zeros_feeds_segment_zero_everywhere_and_is_another_cache(tmp_path, seen_segment_ids):
    train(smoke(tmp_path, "teacher.segment_ids=zeros"))
    assert seen_segment_ids and all(ids is not None and int(ids.max()) == 0 for ids in seen_segment_ids)
    caches = sorted(path.name for path in (tmp_path / "cache" / "teacher_logits").glob("train-*"))
    train(smoke(tmp_path, "teacher.segment_ids=tokenizer"))
    again = sorted(path.name for path in (tmp_path / "cache" / "teacher_logits").glob("train-*"))
    assert len(caches) == 1 and len(again) == 2  # the same teacher fed otherwise never reads the other's logits
    settings = TeacherCacheSettings(dir=str(tmp_path))
    assert TeacherLogitCache(settings, "t", "f", "zeros").key != TeacherLogitCache(settings, "t", "f", "tokenizer").key


def test_the_teacher_score_is_computed_once_and_can_be_switched_off(tmp_path, seen_segment_ids):
    train(smoke(tmp_path))
    calls = len(seen_segment_ids)
    assert list((tmp_path / "cache" / "teacher_logits").glob("eval-score-*.json"))
    train(smoke(tmp_path))  # logits and score both cached: the teacher is not even loaded
    assert len(seen_segment_ids) == calls
    train(smoke(tmp_path, "teacher.score=false"))
    assert "teacher" not in json.loads((tmp_path / "run" / "metrics.json").read_text())


@pytest.mark.parametrize(("key", "value", "message"), [
    ("teacher.segment_ids", "ones", "teacher.segment_ids='ones' must be one of tokenizer, zeros"),
    ("teacher.score", "maybe", "teacher.score"),
])  # fmt: skip
def test_bad_teacher_settings_name_the_key(tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=message):
        train(smoke(tmp_path, f"{key}={value}"))


def test_a_bert_model_exports_to_onnx_with_its_segment_ids(tmp_path):
    pytest.importorskip("onnxruntime")
    from lightning_distill.export.onnx_model import export_onnx, onnx_logits, torch_logits

    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)  # fmt: skip
    torch.manual_seed(0)
    model = BertForQuestionAnswering(config).eval()
    with torch.no_grad():  # make segments matter: the two segment embeddings far apart
        model.bert.embeddings.token_type_embeddings.weight[1] += 3.0
    export_onnx(model, tmp_path / "model.onnx")
    ids = np.array([[2, 5, 3, 7, 9, 3]], dtype=np.int64)
    batch = {"input_ids": ids, "attention_mask": np.ones_like(ids), SEGMENT_IDS: np.array([[0, 0, 0, 1, 1, 1]])}
    onnx_start, _ = onnx_logits(tmp_path / "model.onnx")(batch)
    torch_start, _ = torch_logits(model)(batch)
    np.testing.assert_allclose(onnx_start, torch_start, atol=1e-4)
    zeros_start, _ = torch_logits(model)({**batch, SEGMENT_IDS: np.zeros_like(ids)})
    assert np.abs(zeros_start - torch_start).max() > 1e-3  # the exported graph really reads the segment ids
