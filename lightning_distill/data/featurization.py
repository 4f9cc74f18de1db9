"""SQuAD questions -> fixed-window model features, after Hugging Face ``run_qa.py``.

Long contexts are cut into overlapping windows (``lightning_distill.portable.squad_windows``, shared
with the pipeline that travels with saved students); each window is one feature. Features are stored unpadded (padding is the
collator's job, so fixed and dynamic padding share one cache). Every feature keeps its question id and the
character offsets of its context tokens, which post-processing needs to map logits back to text.
Labels point at [CLS] (index 0) when the question is unanswerable or its answer is not wholly
inside the window: that is how SQuAD 2.0 models learn to abstain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from transformers import PreTrainedTokenizerFast

from lightning_distill.config.checks import require_integer
from lightning_distill.errors import ConfigError
from lightning_distill.portable.squad_windows import context_offsets, encode_windows

CLS_INDEX = 0
SPECIAL_TOKENS_PER_PAIR = 3  # [CLS] question [SEP] context [SEP]
MIN_CONTEXT_TOKENS = 1


@dataclass(frozen=True)
class FeaturizationSettings:
    """Everything that changes the features; part of the cache key."""

    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64

    def validate(self, prefix: str = "data") -> None:
        require_integer(f"{prefix}.max_query_length", self.max_query_length, minimum=1)
        context_room = self.max_seq_length - self.max_query_length - SPECIAL_TOKENS_PER_PAIR
        if context_room < MIN_CONTEXT_TOKENS:
            raise ConfigError(
                f"{prefix}.max_seq_length={self.max_seq_length} leaves no room for context after a "
                f"{self.max_query_length}-token question ({prefix}.max_query_length) and "
                f"{SPECIAL_TOKENS_PER_PAIR} special tokens: raise max_seq_length or lower max_query_length."
            )
        if not 0 <= self.doc_stride < context_room:
            raise ConfigError(
                f"{prefix}.doc_stride={self.doc_stride} must be in [0, {context_room}) (the context room "
                f"left by {prefix}.max_seq_length - {prefix}.max_query_length - {SPECIAL_TOKENS_PER_PAIR}): "
                "it is the overlap between consecutive windows."
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _answer_token_span(
    offsets: Sequence[tuple[int, int]], sequence_ids: Sequence[int | None], answer_start: int, answer_end: int
) -> tuple[int, int]:
    """Token indices of the answer inside this window, or (CLS, CLS) if it is not wholly inside."""
    context_tokens = [index for index, sequence in enumerate(sequence_ids) if sequence == 1]
    first, last = context_tokens[0], context_tokens[-1]
    if offsets[first][0] > answer_start or offsets[last][1] < answer_end:
        return CLS_INDEX, CLS_INDEX
    start = first
    while start <= last and offsets[start][0] <= answer_start:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= answer_end:
        end -= 1
    return start - 1, end + 1


def featurize_batch(
    batch: Mapping[str, Sequence[Any]], tokenizer: PreTrainedTokenizerFast, settings: FeaturizationSettings
) -> dict[str, list[Any]]:
    """A ``datasets.map(batched=True)`` function: questions in, features out (1 question -> n features)."""
    encoded = encode_windows(tokenizer, batch["question"], batch["context"], **settings.as_dict())
    sample_map = encoded.pop("overflow_to_sample_mapping")
    features: dict[str, list[Any]] = {
        "input_ids": encoded["input_ids"],
        "attention_mask": encoded["attention_mask"],
        "token_type_ids": encoded["token_type_ids"],  # fed to models that take segment ids (portable/model_inputs.py)
        "start_positions": [],
        "end_positions": [],
        "example_id": [],
        "offset_mapping": [],
    }
    for index, offsets in enumerate(encoded["offset_mapping"]):
        sequence_ids = encoded.sequence_ids(index)
        example = sample_map[index]
        answers = batch["answers"][example]
        if answers["text"]:
            answer_start = answers["answer_start"][0]
            span = _answer_token_span(offsets, sequence_ids, answer_start, answer_start + len(answers["text"][0]))
        else:
            span = (CLS_INDEX, CLS_INDEX)
        features["start_positions"].append(span[0])
        features["end_positions"].append(span[1])
        features["example_id"].append(batch["id"][example])
        features["offset_mapping"].append(context_offsets(offsets, sequence_ids))
    return features
