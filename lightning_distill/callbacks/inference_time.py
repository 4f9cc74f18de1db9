"""Student inference time under a fixed protocol, plus the dev-loop wall time.

The source timed the whole dev loop at the *tuned* eval batch size, which mixes model speed with a
hyperparameter. ``inference_time`` instead is the median, over ``repeats`` timed forward passes
after ``warmup`` untimed ones, of (batch time / batch_size) in milliseconds, for a batch of
``batch_size`` random full-length sequences of ``sequence_length`` tokens, on the trainer's device
and precision, in eval mode without gradients. ``eval_loop_time`` (seconds) is the wall time of
the validation loop's forward passes, kept as a second, clearly different metric.
"""

from __future__ import annotations

import statistics
import time

import pytorch_lightning as pl
import torch

from lightning_distill.config.checks import require_integer
from lightning_distill.metrics import INFERENCE_TIME
from lightning_distill.portable.model_inputs import forward_inputs

MS_PER_SECOND = 1000.0


class InferenceTime(pl.Callback):
    def __init__(self, batch_size: int = 8, sequence_length: int = 384, warmup: int = 3, repeats: int = 10, seed: int = 0) -> None:
        for key, value, minimum in (("batch_size", batch_size, 1), ("sequence_length", sequence_length, 1), ("warmup", warmup, 0), ("repeats", repeats, 1)):
            require_integer(f"callbacks.inference_time.{key}", value, minimum=minimum)
        self.batch_size = batch_size
        self.sequence_length = sequence_length
        self.warmup = warmup
        self.repeats = repeats
        self.seed = seed
        self.ms_per_example: float | None = None
        self._loop_start = 0.0

    def _synchronize(self, device: torch.device) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    @torch.inference_mode()
    def measure(self, trainer: pl.Trainer, model: torch.nn.Module) -> float:
        device = next(model.parameters()).device
        generator = torch.Generator().manual_seed(self.seed)
        input_ids = torch.randint(model.config.vocab_size, (self.batch_size, self.sequence_length), generator=generator).to(device)
        # random tokens, one segment: the timing depends on shapes only (segment ids where the model takes them)
        inputs = forward_inputs(model.config, {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}, "zeros")
        was_training = model.training
        model.eval()
        timings = []
        with trainer.precision_plugin.forward_context():
            for step in range(self.warmup + self.repeats):
                self._synchronize(device)
                start = time.perf_counter()
                model(**inputs)
                self._synchronize(device)
                if step >= self.warmup:
                    timings.append(time.perf_counter() - start)
        model.train(was_training)
        return statistics.median(timings) / self.batch_size * MS_PER_SECOND

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._loop_start = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pl_module.log("eval_loop_time", time.perf_counter() - self._loop_start)
        if self.ms_per_example is None:  # the architecture is fixed: measuring once is enough
            self.ms_per_example = self.measure(trainer, pl_module.student)
        pl_module.log(INFERENCE_TIME.name, self.ms_per_example)
