"""A DistilBERT whose layers keep different attention heads, loadable by plain transformers.

Transformers 5 dropped ``pruned_heads``: its ``DistilBertForQuestionAnswering`` builds every layer
with ``n_heads`` heads, so a pruned student's smaller q/k/v/out_lin weights fail
``from_pretrained`` with a size mismatch. The Hugging Face convention for architectures the
library does not know is custom code registered through ``auto_map`` (as NVIDIA's DeciLM and
Apple's OpenELM do for per-layer head counts): ``save_pretrained`` copies this file next to the
weights, so ``AutoModelForQuestionAnswering.from_pretrained(dir, trust_remote_code=True)`` and
``pipeline("question-answering", model=dir, trust_remote_code=True)`` rebuild the pruned shapes.

This file travels inside checkpoints, so it imports nothing but torch and transformers. It only
changes shapes: the forward pass is DistilBERT's own, whose attention reshapes with
``view(..., -1, head_size)`` and so runs with any number of heads.
"""

from __future__ import annotations

from torch import nn
from transformers import DistilBertConfig, DistilBertForQuestionAnswering


class PrunedDistilBertConfig(DistilBertConfig):
    """DistilBERT's config plus ``kept_heads``: per layer, the indices of the heads it keeps."""

    model_type = "pruned_distilbert"

    def __init__(self, kept_heads: list[list[int]] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kept_heads = kept_heads


class PrunedDistilBertForQuestionAnswering(DistilBertForQuestionAnswering):
    """DistilBERT QA with each layer's attention cut to ``config.kept_heads``."""

    config_class = PrunedDistilBertConfig

    def __init__(self, config: PrunedDistilBertConfig) -> None:
        super().__init__(config)
        kept_heads = config.kept_heads or [list(range(config.n_heads))] * config.n_layers
        if len(kept_heads) != config.n_layers:
            raise ValueError(
                f"config.kept_heads lists {len(kept_heads)} layers but config.n_layers is {config.n_layers}."
            )
        head_size = config.dim // config.n_heads
        for layer, heads in zip(self.distilbert.transformer.layer, kept_heads):
            width = len(heads) * head_size
            attention = layer.attention
            attention.q_lin = nn.Linear(config.dim, width)
            attention.k_lin = nn.Linear(config.dim, width)
            attention.v_lin = nn.Linear(config.dim, width)
            attention.out_lin = nn.Linear(width, config.dim)
        self.post_init()
