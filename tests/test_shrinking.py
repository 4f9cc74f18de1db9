"""Students that shrink where the parameters are: vocabulary trimming and FFN width pruning (issue 32)."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from lightning_distill.errors import ConfigError
from lightning_distill.models.checkpoint import load_qa_model, save_qa_model
from lightning_distill.models.ffn_pruning import most_important, neuron_importance, prune_ffn
from lightning_distill.models.student import build_student, count_trainable_parameters
from lightning_distill.models.vocabulary_trim import (
    VocabularySettings,
    choose_kept_ids,
    corpus_texts,
    id_map,
    trim_vocabulary,
    wordpiece_counts,
)

CORPUS = [
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
    "Who gave their name to Normandy in the 1000s and 1100s?",
    "Architecturally, the school has a Catholic character; atop the Main Building's gold dome is a golden statue.",
    "What sits on top of the Main Building at Notre Dame?",
]
OUTSIDE = "Zygomorphic flowers of Kyrgyzstan pollinated by xylocopa bees, 1987–2023 résumé."


def tiny_student(vocab_size: int, **settings):
    values = {"vocab_size": vocab_size, "seed_from": None, "n_layers": 2, "n_heads": 2, "dim": 32, "base_n_heads": 2,
              "hidden_dim": 64, "init_seed": 0, "dropout": 0.0, "attention_dropout": 0.0, "qa_dropout": 0.0}  # fmt: skip
    values.update(settings)
    return build_student(**values).model.eval()


def logits(model, encoding):
    with torch.no_grad():
        output = model(input_ids=encoding["input_ids"], attention_mask=encoding["attention_mask"])
    return output.start_logits, output.end_logits


# -- vocabulary trimming -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trimmed(tokenizer):
    model = tiny_student(len(tokenizer))
    student = copy.deepcopy(model)
    trim = trim_vocabulary(student, tokenizer, CORPUS, VocabularySettings(min_count=1))
    return model, student, trim


def test_corpus_texts_keep_their_wordpieces_and_logits(tokenizer, trimmed):
    model, student, trim = trimmed
    assert student.get_input_embeddings().num_embeddings == len(trim.tokenizer) == len(trim.kept_ids) < 200
    assert trim.report["changed_texts_share"] == 0.0
    for text in CORPUS:
        before, after = tokenizer(text, return_tensors="pt"), trim.tokenizer(text, return_tensors="pt")
        assert tokenizer.convert_ids_to_tokens(before["input_ids"][0]) == trim.tokenizer.convert_ids_to_tokens(after["input_ids"][0])
        assert torch.equal(trim.id_map[before["input_ids"]], after["input_ids"])  # training's translation = the tokenizer
        for original, trimmed_logits in zip(logits(model, before), logits(student, after), strict=True):
            assert torch.equal(original, trimmed_logits)


def test_text_outside_the_corpus_degrades_to_unk(trimmed):
    _, student, trim = trimmed
    encoding = trim.tokenizer(OUTSIDE, return_tensors="pt")
    ids = encoding["input_ids"][0]
    assert int(ids.max()) < student.get_input_embeddings().num_embeddings
    assert trim.tokenizer.unk_token_id in ids.tolist()
    start, _ = logits(student, encoding)  # runs: no index error
    assert torch.isfinite(start).all()
    assert trim.tokenizer.convert_ids_to_tokens(int(ids[0])) == "[CLS]"  # specials kept and renumbered consistently


def test_removed_ids_map_to_unk_and_kept_ones_in_order():
    mapping = id_map([0, 3, 5, 7], vocab_size=9, unk_id=3)
    assert mapping.tolist() == [0, 1, 1, 1, 1, 2, 1, 3, 1]


def test_frequency_cut_and_size_limit(tokenizer):
    counts = wordpiece_counts(tokenizer, CORPUS)
    specials = tokenizer.all_special_ids
    every = choose_kept_ids(counts, specials, VocabularySettings(min_count=1), len(tokenizer))
    frequent = choose_kept_ids(counts, specials, VocabularySettings(min_count=2), len(tokenizer))
    capped = choose_kept_ids(counts, specials, VocabularySettings(min_count=1, max_size=len(specials) + 3), len(tokenizer))
    assert set(frequent) < set(every) and set(specials) <= set(frequent)
    top3 = sorted(counts, key=lambda token: (-counts[token], token))[:3]  # most frequent, ties to the lower id
    assert sorted(capped) == sorted(set(specials) | set(top3))
    assert len(choose_kept_ids(counts, specials, VocabularySettings(min_count=0), len(tokenizer))) == len(tokenizer)
    trim = trim_vocabulary(tiny_student(len(tokenizer)), tokenizer, CORPUS, VocabularySettings(min_count=2))
    assert 0 < trim.report["changed_texts_share"] <= 1  # measured and reported, not assumed


@pytest.mark.parametrize(
    "config, message",
    [({"corpus": "wiki"}, "student.vocab.corpus"), ({"min_count": -1}, "student.vocab.min_count"),
     ({"max_size": 0}, "student.vocab.max_size"), ({"min_cout": 2}, "student.vocab.min_cout is not a setting"),
     ("train", "student.vocab='train' must be null or a mapping")],
)
def test_bad_vocab_settings_name_the_key(config, message):
    with pytest.raises(ConfigError, match=message):
        VocabularySettings.from_config(config)


def test_trimmed_student_saves_and_loads_in_plain_transformers(tmp_path, trimmed):
    _, student, trim = trimmed
    save_qa_model(student, tmp_path / "student", tokenizer=trim.tokenizer)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "student")
    model = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "student").eval()  # heads unpruned: plain DistilBERT
    assert len(tokenizer) == model.config.vocab_size == len(trim.tokenizer)
    encoding = tokenizer(CORPUS[1], CORPUS[0], return_tensors="pt")
    assert torch.equal(logits(model, encoding)[0], logits(student, encoding)[0])


# -- FFN pruning ---------------------------------------------------------------------------------


def test_importance_is_the_product_of_input_and_output_norms():
    lin1, lin2 = torch.nn.Linear(2, 3), torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]))  # row norms 5, 1, 2
        lin2.weight.copy_(torch.tensor([[1.0, 6.0, 0.0], [0.0, 8.0, 1.0]]))  # column norms 1, 10, 1
    assert neuron_importance(lin1, lin2).tolist() == pytest.approx([5.0, 10.0, 2.0])
    assert most_important(torch.tensor([5.0, 10.0, 2.0]), 2) == [0, 1]
    assert most_important(torch.tensor([1.0, 1.0, 1.0]), 2) == [0, 1]  # ties to the lower index


def test_pruning_neurons_that_contribute_nothing_keeps_the_outputs(tokenizer):
    model = tiny_student(len(tokenizer))
    with torch.no_grad():  # silence half of every layer's neurons: they are the least important
        for layer in model.distilbert.transformer.layer:
            layer.ffn.lin2.weight[:, 1::2] = 0
    encoding = tokenizer(CORPUS[1], CORPUS[0], return_tensors="pt")
    before = logits(model, encoding)
    report = prune_ffn(model, 32)
    assert report.kept == [list(range(0, 64, 2))] * 2 and model.config.hidden_dim == 32
    for expected, actual in zip(before, logits(model, encoding), strict=True):
        assert torch.allclose(expected, actual, atol=1e-6)


def test_ffn_dim_counts_and_round_trips(tmp_path, tokenizer):
    full = tiny_student(len(tokenizer), n_heads=1)
    pruned = tiny_student(len(tokenizer), n_heads=1, ffn_dim=16)
    per_layer = 2 * 32 * (64 - 16) + (64 - 16)  # lin1 rows + biases, lin2 columns
    assert count_trainable_parameters(full) - count_trainable_parameters(pruned) == 2 * per_layer
    save_qa_model(pruned, tmp_path / "s")
    loaded = load_qa_model(tmp_path / "s", role="student")
    assert loaded.config.hidden_dim == 16
    for key, value in pruned.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_ffn_dim_is_validated():
    with pytest.raises(ConfigError, match="student.ffn_dim=128"):
        tiny_student(100, ffn_dim=128)
    with pytest.raises(ConfigError, match="student.ffn_dim=0"):
        tiny_student(100, ffn_dim=0)


def test_a_live_teacher_reads_its_own_ids_and_the_student_the_trimmed_ones(tokenizer, squad_dir):
    """With the teacher-logit cache off, train batches carry both tokenizations, position for position."""
    from lightning_distill.data.datamodule import TEACHER_INPUT_IDS, SquadDataModule
    from lightning_distill.training.distillation_loss import DistillationLoss
    from lightning_distill.training.distillation_module import DistillationModule
    from lightning_distill.training.optimizer import OptimizerSettings

    data = SquadDataModule(tokenizer, train_files=[str(squad_dir / "train-v2.0.first10.json")],
                           eval_files=[str(squad_dir / "dev-v2.0.splitB.json")], max_train_examples=6, max_eval_examples=4)  # fmt: skip
    teacher, student = tiny_student(len(tokenizer)), tiny_student(len(tokenizer))
    trim = trim_vocabulary(student, tokenizer, corpus_texts(data.records("train")), VocabularySettings())
    data.use_student_vocabulary(trim.tokenizer, trim.id_map)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert torch.equal(batch["input_ids"], trim.id_map[batch[TEACHER_INPUT_IDS]])
    seen = {}

    def recorder(role):
        def hook(module, args, output):
            seen[role] = args[0]  # returns None: the output stays as it is

        return hook

    teacher.get_input_embeddings().register_forward_hook(recorder("teacher"))
    student.get_input_embeddings().register_forward_hook(recorder("student"))
    module = DistillationModule(student, teacher, DistillationLoss(soft_weight=0.5, hard_weight=0.5, temperature=1.0),
                                OptimizerSettings())  # fmt: skip
    module.loss_parts(batch)
    assert torch.equal(seen["teacher"], batch[TEACHER_INPUT_IDS]) and torch.equal(seen["student"], batch["input_ids"])
    eval_batch = next(iter(data.val_dataloader()))  # evaluation: the student's own tokenizer, no translation
    assert TEACHER_INPUT_IDS not in eval_batch and int(eval_batch["input_ids"].max()) < len(trim.tokenizer)
