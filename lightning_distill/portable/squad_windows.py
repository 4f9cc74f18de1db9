"""A question and its context -> overlapping token windows, as BERT's SQuAD code cuts them.

Long contexts are cut into windows of ``max_seq_length`` tokens overlapping by ``doc_stride``
tokens (the Hugging Face meaning of the word); each window is one model input. Questions are cut
to ``max_query_length`` tokens first. Shared by training featurization and the exported pipeline,
so both see the same windows.
"""

from __future__ import annotations

from collections.abc import Sequence

NOT_CONTEXT = (-1, -1)
"""Offset pair of tokens outside the context (question, special tokens, padding)."""


def truncate_questions(questions: Sequence[str], tokenizer, max_query_length: int) -> list[str]:
    """Cut questions to ``max_query_length`` tokens, as the original BERT SQuAD code does.

    Fast tokenizers can only truncate the second sequence of a pair, so cut the question *text*
    at the end offset of its last allowed token instead.
    """
    stripped = [question.lstrip() for question in questions]
    encoded = tokenizer(stripped, add_special_tokens=False, return_offsets_mapping=True)
    truncated = []
    for question, offsets in zip(stripped, encoded["offset_mapping"]):
        if len(offsets) > max_query_length:
            question = question[: offsets[max_query_length - 1][1]]
        truncated.append(question)
    return truncated


def encode_windows(
    tokenizer,
    questions: Sequence[str],
    contexts: Sequence[str],
    *,
    max_seq_length: int,
    doc_stride: int,
    max_query_length: int,
):
    """Token windows of (question, context) pairs: a fast tokenizer's ``BatchEncoding`` with
    ``overflow_to_sample_mapping`` (window -> pair), ``offset_mapping`` (token -> characters) and the
    tokenizer's segment ids (``token_type_ids``)."""
    return tokenizer(
        truncate_questions(questions, tokenizer, max_query_length),
        list(contexts),
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_token_type_ids=True,  # segment ids, for models that take them (model_inputs.py)
    )


def context_offsets(offsets: Sequence[Sequence[int]], sequence_ids: Sequence[int | None]) -> list[list[int]]:
    """A window's character offsets with non-context tokens set to ``NOT_CONTEXT``: only context
    tokens can start or end an answer."""
    return [list(offset) if sequence == 1 else list(NOT_CONTEXT) for offset, sequence in zip(offsets, sequence_ids)]
