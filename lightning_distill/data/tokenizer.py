"""The one tokenizer that teacher, student and featurization share."""

from __future__ import annotations

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from lightning_distill.errors import ConfigError


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerFast:
    """Load a fast tokenizer (hub id or local dir); answer offsets need the Rust implementation."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"tokenizer.name_or_path={name_or_path!r} cannot be loaded ({error}). Use a hub id "
            "(e.g. bert-base-uncased) or a local directory with tokenizer.json/vocab.txt."
        ) from None
    if not tokenizer.is_fast:
        raise ConfigError(f"tokenizer.name_or_path={name_or_path!r} has no fast tokenizer; offsets need one.")
    return tokenizer
