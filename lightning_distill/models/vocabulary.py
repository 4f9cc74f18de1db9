"""Start-up check that teacher, student and tokenizer share one vocabulary.

Distillation compares teacher and student logits token position by token position, and a
student seeded from a checkpoint with another vocabulary learns garbage embeddings. Either mistake
trains for hours before anyone notices, so it is an error before the first step.
"""

from __future__ import annotations

import logging

from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerFast

from lightning_distill.errors import ConfigError

log = logging.getLogger(__name__)

PROBE_TEXT = "Who founded The Beatles in Liverpool? Résumé 1960s"
"""Tokenized by both sides: catches cased vs uncased and accent-stripping differences."""

FIX = (
    "Teacher, student seed and tokenizer must use the same WordPiece vocabulary (e.g. a "
    "bert-base-uncased teacher with a distilbert-base-uncased student seed)."
)


def check_vocab_size(model: PreTrainedModel, vocab_size: int, config_key: str) -> None:
    """Embedding rows must equal the tokenizer's size (the cheap check every model gets)."""
    rows = model.get_input_embeddings().num_embeddings
    if rows != vocab_size:
        raise ConfigError(
            f"Vocabulary mismatch: {config_key} has {rows} token embeddings but the tokenizer has "
            f"{vocab_size} tokens. {FIX}"
        )


def check_checkpoint_tokenizer(name_or_path: str | None, tokenizer: PreTrainedTokenizerFast, config_key: str) -> None:
    """Compare with the tokenizer shipped alongside a checkpoint, when it ships one."""
    if not name_or_path:
        return
    try:
        theirs = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError):
        log.info("%s=%s ships no tokenizer; checked embedding sizes only", config_key, name_or_path)
        return
    same_vocab = theirs.get_vocab() == tokenizer.get_vocab()
    same_tokens = theirs(PROBE_TEXT)["input_ids"] == tokenizer(PROBE_TEXT)["input_ids"]
    if not (same_vocab and same_tokens):
        difference = "vocabularies differ" if not same_vocab else f"they tokenize {PROBE_TEXT!r} differently"
        raise ConfigError(
            f"Vocabulary mismatch: the tokenizer of {config_key}={name_or_path!r} and "
            f"tokenizer.name_or_path={tokenizer.name_or_path!r}: {difference}. {FIX}"
        )
