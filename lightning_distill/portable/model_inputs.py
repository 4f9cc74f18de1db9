"""The inputs a QA model takes: ``input_ids``, ``attention_mask`` and, where it has them, segment ids.

A BERT-layout model has segment (token type) embeddings (``config.type_vocab_size > 1``) and was fine-tuned
on SQuAD with its tokenizer's segment ids: 0 on ``[CLS] question [SEP]``, 1 on ``context [SEP]``. Fed only
``input_ids`` and ``attention_mask``, transformers silently uses segment 0 everywhere, and a teacher fine-tuned
the standard way loses points it would have scored (issue 34: ~4 points of best_f1 the other way round, on
the reference teacher). DistilBERT-layout students have no segment embeddings and take none.

``segment_ids`` says how a model was trained, so it is fed the same way:

- ``tokenizer`` (the standard, and every hub SQuAD checkpoint): the tokenizer's segment ids;
- ``zeros``: segment 0 everywhere, for a model fine-tuned without them (this project's reference MiniLM
  teacher, trained before issue 34; ``conf/teacher/minilm_squad2_reference.yaml``).

Shared by training, the teacher-logit cache, evaluation, ONNX export and the pipeline that travels with a
saved model, so every path feeds a model alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

SEGMENT_IDS = "token_type_ids"
SEGMENT_ID_CONVENTIONS = ("tokenizer", "zeros")
BASE_INPUTS = ("input_ids", "attention_mask")


def takes_segment_ids(config: Any) -> bool:
    """Whether the model has segment embeddings to feed (BERT: ``type_vocab_size`` 2; DistilBERT: none)."""
    return int(getattr(config, "type_vocab_size", 0) or 0) > 1


def input_names(config: Any) -> tuple[str, ...]:
    return (*BASE_INPUTS, SEGMENT_IDS) if takes_segment_ids(config) else BASE_INPUTS


def check_convention(value: Any, key: str) -> str:
    if value not in SEGMENT_ID_CONVENTIONS:
        raise ValueError(
            f"{key}={value!r} must be one of {', '.join(SEGMENT_ID_CONVENTIONS)}: 'tokenizer' for a model fine-tuned "
            "with its tokenizer's segment ids (the standard), 'zeros' for one fine-tuned without them."
        )
    return value


def forward_inputs(config: Any, batch: Mapping[str, Any], segment_ids: str = "tokenizer") -> dict[str, Any]:
    """The keyword arguments for ``model(**...)`` from a batch of torch tensors or numpy arrays.

    A model that takes segment ids gets the batch's (``tokenizer``) or zeros (``zeros``); a batch without them
    for a model that needs them is an error, never a silent segment 0.
    """
    inputs = {name: batch[name] for name in BASE_INPUTS}
    if not takes_segment_ids(config):
        return inputs
    check_convention(segment_ids, "segment_ids")
    if segment_ids == "zeros":
        ids = batch["input_ids"]
        inputs[SEGMENT_IDS] = np.zeros_like(ids) if isinstance(ids, np.ndarray) else ids.new_zeros(ids.shape)
    elif SEGMENT_IDS in batch and batch[SEGMENT_IDS] is not None:
        inputs[SEGMENT_IDS] = batch[SEGMENT_IDS]
    else:
        raise ValueError(
            f"a {type(config).__name__} model takes {SEGMENT_IDS} (type_vocab_size={config.type_vocab_size}) but the "
            f"batch has none: encode with return_token_type_ids=True, or feed it segment_ids='zeros' if it was "
            "fine-tuned without them."
        )
    return inputs


def qa_logits(
    model: nn.Module, batch: dict[str, torch.Tensor], segment_ids: str = "tokenizer"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Start/end logits, the model fed the inputs its architecture takes (segment ids as above)."""
    output = model(**forward_inputs(getattr(model, "config", None), batch, segment_ids))
    return output.start_logits, output.end_logits
