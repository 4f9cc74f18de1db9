"""Samplers that put features of similar length in one batch, so dynamic padding pads little.

Training: transformers' ``LengthGroupedSampler`` (shuffle, cut into mega-batches of
``mega_batch_mult × batch_size``, sort each mega-batch by length, longest batch first). Reused
rather than rewritten; the subclass only exposes ``mega_batch_mult``, which transformers'
``__iter__`` hard-codes to ``min(n // (4 × batch_size), 50)``. Randomness comes from the global
torch RNG (seeded by ``seed`` through ``seed_everything``, exactly like the default shuffle) unless
a generator is given, so runs are reproducible.

Evaluation: features sorted by length (longest first, stable). The order only changes how
features are batched; the SQuAD evaluation callback puts logits back in feature order by
``feature_index``, so predictions are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler
from transformers.trainer_pt_utils import LengthGroupedSampler as _TransformersLengthGroupedSampler
from transformers.trainer_pt_utils import get_length_grouped_indices


class LengthGroupedSampler(_TransformersLengthGroupedSampler):
    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        mega_batch_mult: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(batch_size, lengths=[int(length) for length in lengths], generator=generator)
        self.mega_batch_mult = mega_batch_mult

    def __iter__(self) -> Iterator[int]:
        return iter(
            get_length_grouped_indices(
                self.lengths, self.batch_size, mega_batch_mult=self.mega_batch_mult, generator=self.generator
            )
        )


class SortedByLengthSampler(Sampler[int]):
    """Longest feature first, ties in dataset order: deterministic, no randomness."""

    def __init__(self, lengths: Sequence[int]) -> None:
        self.order = np.argsort(-np.asarray(lengths), kind="stable").tolist()

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)
