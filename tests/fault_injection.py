"""A Lightning callback that breaks chosen sweep trials on purpose (tests put tests/ on PYTHONPATH).

``cuda_oom_jobs`` raise the exception PyTorch raises when a GPU allocation fails; ``nan_jobs``
poison the student's weights so the *real* NaN-loss detection of the training step must end the
trial. Jobs are chosen by Hydra job number (``${hydra:job.num}``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytorch_lightning as pl
import torch


class FaultInjection(pl.Callback):
    def __init__(self, job_num: int, cuda_oom_jobs: Sequence[int] = (), nan_jobs: Sequence[int] = ()) -> None:
        self.job_num = int(job_num)
        self.cuda_oom_jobs = set(cuda_oom_jobs)
        self.nan_jobs = set(nan_jobs)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if self.job_num in self.cuda_oom_jobs:
            raise torch.cuda.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 1.50 GiB. GPU 0 has a total capacity of 15.77 GiB (simulated)"
            )
        if self.job_num in self.nan_jobs:
            with torch.no_grad():
                for parameter in pl_module.student.parameters():
                    parameter.fill_(float("nan"))
