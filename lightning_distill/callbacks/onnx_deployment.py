"""What deploying the student with onnxruntime would cost: batch-1 CPU latency and int8 size.

For sweeps whose second objective is a deployment cost rather than the parameter count (the
source minimized parameters as a proxy for production and edge cost). Logged once, at the first
evaluation, because both depend only on the architecture:
- ``inference_time_onnx``: median milliseconds of one batch-1 request of ``sequence_length``
  tokens through onnxruntime on CPU (fp32 graph; ``threads`` pins the thread count so that trials
  running side by side measure alike);
- ``onnx_int8_size_mb``: the dynamically int8-quantized ONNX file, in MB (10^6 bytes).
The export runs on a CPU copy of the student, so training state and device are untouched.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from lightning_distill.config.checks import require_integer
from lightning_distill.export.latency import measure_latency, single_input
from lightning_distill.export.onnx_model import export_onnx, onnx_logits, quantize_int8
from lightning_distill.metrics import INFERENCE_TIME_ONNX, ONNX_INT8_SIZE_MB

BYTES_PER_MB = 1_000_000
LATENCY_METRIC = INFERENCE_TIME_ONNX.name
SIZE_METRIC = ONNX_INT8_SIZE_MB.name


class OnnxDeployment(pl.Callback):
    def __init__(
        self, sequence_length: int = 384, warmup: int = 5, runs: int = 50, threads: int = 1, seed: int = 0
    ) -> None:
        for key, value, minimum in (
            ("sequence_length", sequence_length, 2), ("warmup", warmup, 0), ("runs", runs, 1), ("threads", threads, 1)
        ):
            require_integer(f"callbacks.onnx_deployment.{key}", value, minimum=minimum)
        self.sequence_length = sequence_length
        self.warmup = warmup
        self.runs = runs
        self.threads = threads
        self.seed = seed
        self.measured: dict[str, float] | None = None

    def measure(self, student: torch.nn.Module) -> dict[str, float]:
        model = copy.deepcopy(student).float().cpu().eval()
        ids = np.random.default_rng(self.seed).integers(model.config.vocab_size, size=self.sequence_length)
        with tempfile.TemporaryDirectory(prefix="onnx-deployment-") as directory:
            fp32, int8 = Path(directory) / "model.onnx", Path(directory) / "model.int8.onnx"
            export_onnx(model, fp32)
            quantize_int8(fp32, int8)
            latency = measure_latency(
                onnx_logits(fp32, self.threads), single_input(ids), warmup=self.warmup, runs=self.runs
            )
            return {LATENCY_METRIC: latency["median_ms"], SIZE_METRIC: int8.stat().st_size / BYTES_PER_MB}

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if self.measured is None:
            self.measured = self.measure(pl_module.student)
        for name, value in self.measured.items():
            pl_module.log(name, value)
