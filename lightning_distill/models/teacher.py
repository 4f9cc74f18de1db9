"""Teacher models: a frozen SQuAD 2.0 QA checkpoint, a random stand-in for tests, and the
pretrained-encoder starting point used to fine-tune a teacher offline."""

from __future__ import annotations

import logging

import torch
from transformers import AutoModelForQuestionAnswering, BertConfig, BertForQuestionAnswering, PreTrainedModel

from lightning_distill.errors import CheckpointError
from lightning_distill.models.checkpoint import load_qa_model
from lightning_distill.models.student import StudentBuild
from lightning_distill.models.vocabulary import check_vocab_size
from lightning_distill.models.weight_transfer import SeedReport

log = logging.getLogger(__name__)


def freeze(model: PreTrainedModel) -> PreTrainedModel:
    model.requires_grad_(False)
    return model.eval()


def load_teacher(name_or_path: str, vocab_size: int) -> PreTrainedModel:
    """Any question-answering checkpoint (hub id or local dir), frozen and in eval mode.

    ``vocab_size`` is the shared tokenizer's size, which the checkpoint must match.
    """
    model = load_qa_model(name_or_path, role="teacher")
    check_vocab_size(model, vocab_size, "teacher.name_or_path")
    return freeze(model)


def build_random_teacher(
    vocab_size: int,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    seed: int = 0,
) -> PreTrainedModel:
    """A tiny untrained BERT QA model: exercises the distillation code path in seconds, offline.

    Its logits are meaningless, so it is only for smoke runs and tests.
    """
    log.warning("Using a RANDOM tiny teacher (smoke/test preset): its answers are meaningless.")
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = BertForQuestionAnswering(config)
    return freeze(model)


def qa_model_from_encoder(name_or_path: str, vocab_size: int) -> StudentBuild:
    """A pretrained encoder with a fresh QA head, to be fine-tuned into a teacher (hard loss only)."""
    try:
        model, info = AutoModelForQuestionAnswering.from_pretrained(
            name_or_path, dtype=torch.float32, output_loading_info=True
        )
    except (OSError, ValueError) as error:
        raise CheckpointError(f"student.name_or_path={name_or_path!r} cannot be loaded ({error}).") from None
    check_vocab_size(model, vocab_size, "student.name_or_path")
    initialized = sorted(info["missing_keys"])
    seeded = {name: name for name in model.state_dict() if name not in info["missing_keys"]}
    return StudentBuild(model=model, report=SeedReport(seeded=seeded, initialized=initialized, shape_mismatch=[]))
