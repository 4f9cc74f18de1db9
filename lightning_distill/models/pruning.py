"""Attention-head pruning: how a student gets fewer than 12 heads without changing head size.

The search space asks for 1..12 heads at hidden size 768. A config change cannot express that
(768 is not divisible by most head counts, and the pretrained weights assume 64-dim heads), so a
student is built with all base heads and then loses whole heads: the q/k/v rows and out_lin
columns of the dropped heads are cut out. Which heads survive is drawn at random per layer from
``pruning_seed``, as in the source experiment (a different random set in each layer, the same
count everywhere).

Transformers 5 removed ``PreTrainedModel.prune_heads``; its DistilBERT attention reshapes with
``view(..., -1, head_size)``, so shrinking the four linears is all it takes for the forward pass
to run with fewer heads. The kept heads are recorded as ``config.kept_heads`` (plain lists, so
``save_pretrained`` writes them into config.json) because the pruned shapes cannot be rebuilt from
the standard DistilBERT config alone: ``lightning_distill.models.checkpoint.load_qa_model`` reads them back.
"""

from __future__ import annotations

import torch
from transformers import DistilBertForQuestionAnswering
from transformers.pytorch_utils import prune_linear_layer

from lightning_distill.errors import ConfigError

KeptHeads = list[list[int]]
"""Per layer, the sorted indices (out of the base head count) of the heads that survive."""

ROWS = 0  # q/k/v produce one block of output rows per head
COLUMNS = 1  # out_lin consumes one block of input columns per head


def choose_kept_heads(n_layers: int, base_n_heads: int, n_heads: int, pruning_seed: int) -> KeptHeads:
    """Draw which heads each layer keeps; deterministic in ``pruning_seed`` so a run can be redone.

    A private generator is used so the draw neither depends on nor disturbs the global RNG (which
    seeds weight initialization and data order).
    """
    if not 1 <= n_heads <= base_n_heads:
        raise ConfigError(
            f"student.n_heads={n_heads} is out of range: keep between 1 and {base_n_heads} heads "
            f"(student.base_n_heads) per layer."
        )
    if n_heads == base_n_heads:
        return [list(range(base_n_heads)) for _ in range(n_layers)]
    generator = torch.Generator().manual_seed(pruning_seed)
    return [
        sorted(torch.randperm(base_n_heads, generator=generator)[:n_heads].tolist())
        for _ in range(n_layers)
    ]


def prune_heads(model: DistilBertForQuestionAnswering, kept_heads: KeptHeads) -> None:
    """Cut every layer down to its kept heads, in place, and record them in the config.

    Must be applied to an unpruned model (all base heads present), after any weight seeding, so
    the surviving heads carry the pretrained weights.
    """
    config = model.config
    layers = model.distilbert.transformer.layer
    _check_kept_heads(kept_heads, n_layers=len(layers), base_n_heads=config.n_heads)
    head_size = config.dim // config.n_heads
    for layer, heads in zip(layers, kept_heads, strict=True):
        attention = layer.attention
        if attention.q_lin.out_features != config.dim:
            raise ValueError("prune_heads needs an unpruned model; this one has already lost heads.")
        index = _head_index(heads, head_size)
        attention.q_lin = prune_linear_layer(attention.q_lin, index, dim=ROWS)
        attention.k_lin = prune_linear_layer(attention.k_lin, index, dim=ROWS)
        attention.v_lin = prune_linear_layer(attention.v_lin, index, dim=ROWS)
        attention.out_lin = prune_linear_layer(attention.out_lin, index, dim=COLUMNS)
    config.kept_heads = [list(map(int, heads)) for heads in kept_heads]


def _head_index(heads: list[int], head_size: int) -> torch.LongTensor:
    """Row/column positions that belong to the given heads (head h owns [h*size, (h+1)*size))."""
    return torch.cat([torch.arange(h * head_size, (h + 1) * head_size) for h in heads]).long()


def _check_kept_heads(kept_heads: KeptHeads, *, n_layers: int, base_n_heads: int) -> None:
    """Reject head lists that would silently build a different architecture than recorded."""
    if len(kept_heads) != n_layers:
        raise ValueError(f"kept_heads lists {len(kept_heads)} layers but the model has {n_layers}.")
    for layer_index, heads in enumerate(kept_heads):
        if not heads:
            raise ValueError(f"kept_heads[{layer_index}] is empty: every layer needs at least one head.")
        if len(set(heads)) != len(heads) or not all(0 <= h < base_n_heads for h in heads):
            raise ValueError(
                f"kept_heads[{layer_index}]={heads} must hold distinct head indices in 0..{base_n_heads - 1}."
            )
