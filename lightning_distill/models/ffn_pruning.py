"""Feed-forward width pruning: a student's FFN keeps ``ffn_dim`` of its intermediate neurons.

At MiniLM scale a layer's FFN is 2/3 of the layer (lin1 dim x hidden + lin2 hidden x dim), so after
the embeddings it is where a student's parameters are. One width for every layer, because a
standard ``DistilBertConfig`` has one ``hidden_dim``: a pruned student is then a plain DistilBERT
config (``hidden_dim = ffn_dim``) that any transformers version loads.

Which neurons stay: weight magnitude, ``‖lin1.weight[j, :]‖₂ · ‖lin2.weight[:, j]‖₂`` per neuron j,
from the seeded weights. Chosen over activation × gradient (TextPruner's score) because it needs no
data, no teacher and no backward pass at build time, so it is deterministic, cheap and the same
whether or not the run has a teacher; both scores pick neurons to *start* from, and pruning
without the distillation run after it collapses a model either way (issue 32: halving the
reference teacher's FFN by magnitude, untrained, answered "no answer" everywhere). Ties are
broken by the lower index, so the choice is reproducible.

Hand-written on ``transformers.pytorch_utils.prune_linear_layer`` (what transformers itself uses
for head pruning): see ``docs/results/shrink/README.md`` for why not TextPruner or Torch-Pruning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from transformers.pytorch_utils import prune_linear_layer

IMPORTANCE = "weight_magnitude"
ROWS, COLUMNS = 0, 1


@dataclass
class FfnPruning:
    """What the pruning kept, for ``seeding_report.json``."""

    width_from: int
    width_to: int
    importance: str = IMPORTANCE
    kept: list[list[int]] = field(default_factory=list)
    """Per layer, the sorted indices of the intermediate neurons that survive."""

    def as_dict(self) -> dict:
        return {"width_from": self.width_from, "width_to": self.width_to, "importance": self.importance, "kept": self.kept}


def neuron_importance(lin1: nn.Linear, lin2: nn.Linear) -> torch.Tensor:
    """Per intermediate neuron: L2 norm of its input weights times that of its output weights."""
    with torch.no_grad():
        return lin1.weight.float().norm(dim=1) * lin2.weight.float().norm(dim=0)


def most_important(scores: torch.Tensor, keep: int) -> list[int]:
    """The ``keep`` highest-scoring indices, sorted; ties go to the lower index (stable sort)."""
    order = torch.sort(-scores, stable=True).indices
    return sorted(order[:keep].tolist())


def prune_ffn(model: nn.Module, ffn_dim: int) -> FfnPruning:
    """Cut every layer's FFN to ``ffn_dim`` neurons in place and set ``config.hidden_dim``.

    ``ffn_dim`` must not exceed the current width (checked by the caller's config validation).
    """
    layers = model.distilbert.transformer.layer
    width = model.config.hidden_dim
    report = FfnPruning(width_from=width, width_to=ffn_dim)
    for layer in layers:
        ffn = layer.ffn
        if ffn.lin1.out_features != width:
            raise ValueError(f"prune_ffn needs every layer at width {width}; one has {ffn.lin1.out_features}.")
        kept = most_important(neuron_importance(ffn.lin1, ffn.lin2), ffn_dim)
        index = torch.tensor(kept, dtype=torch.long)
        ffn.lin1 = prune_linear_layer(ffn.lin1, index, dim=ROWS)
        ffn.lin2 = prune_linear_layer(ffn.lin2, index, dim=COLUMNS)
        report.kept.append(kept)
    model.config.hidden_dim = ffn_dim
    return report
