"""``StepTimer``: steady-state training step time measured through the real Lightning ``Trainer``.

``benchmarks.throughput`` times its own loop; a user's run also pays for Lightning's hooks, logging,
the precision plugin and the data loader. This callback measures that: the time from the end of one
training step to the end of the next (everything between two optimizer steps), after ``warmup_steps``
(CUDA kernels tuned, allocator warm). On CUDA each step end synchronizes first, so a step's GPU work
is counted in that step. Added to a run as ``+callbacks.step_timer._target_=benchmarks.step_timer.StepTimer
+callbacks.step_timer.path=FILE`` (``benchmarks/gpu_check.sh`` does).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

PERCENTILE_90 = 0.9


class StepTimer(pl.Callback):
    def __init__(self, path: str, warmup_steps: int = 20) -> None:
        if warmup_steps < 1:
            raise ValueError(f"callbacks.step_timer.warmup_steps={warmup_steps}: must be >= 1 (the first step has no start)")
        self.path = Path(path)
        self.warmup_steps = warmup_steps
        self.ends: list[float] = []
        self.examples: list[int] = []
        self.widths: list[int] = []

    def _sync(self, pl_module: pl.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._sync(pl_module)
        self.ends.append(time.perf_counter())
        self.examples.append(int(batch["input_ids"].shape[0]))
        self.widths.append(int(batch["input_ids"].shape[1]))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.summary(trainer, pl_module), indent=2))

    def summary(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        """Steady-state figures over the steps after the warm-up (all steps if there are too few)."""
        durations = [b - a for a, b in zip(self.ends, self.ends[1:])]
        skip = min(self.warmup_steps - 1, max(len(durations) - 1, 0))
        steady, examples = durations[skip:], self.examples[skip + 1 :]
        cuda = pl_module.device.type == "cuda"
        return {
            "steps": len(self.ends),
            "timed_steps": len(steady),
            "warmup_steps": self.warmup_steps,
            "precision": str(trainer.precision),
            "device": torch.cuda.get_device_name(pl_module.device) if cuda else str(pl_module.device),
            "median_step_seconds": statistics.median(steady) if steady else None,
            "mean_step_seconds": statistics.mean(steady) if steady else None,
            "p90_step_seconds": sorted(steady)[int(PERCENTILE_90 * (len(steady) - 1))] if steady else None,
            "examples_per_second": sum(examples) / sum(steady) if steady else None,
            "mean_padded_width": statistics.mean(self.widths) if self.widths else None,
            "cuda_max_memory_allocated_bytes": torch.cuda.max_memory_allocated(pl_module.device) if cuda else None,
        }
