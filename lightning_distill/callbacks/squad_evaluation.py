"""SQuAD 2.0 evaluation at the end of every validation epoch.

Collects the student's logits batch by batch, turns them into answers (n-best, max answer length,
null-score threshold), scores them with the official SQuAD 2.0 semantics and writes
``predictions.json`` and ``null_odds.json`` in the official formats, so that any official evaluator
can re-score a run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytorch_lightning as pl

from lightning_distill.config.checks import require_integer
from lightning_distill.metrics import EXACT, F1
from lightning_distill.squad.postprocess import score_logits, write_predictions


class SquadEvaluation(pl.Callback):
    def __init__(self, output_dir: str, n_best_size: int = 20, max_answer_length: int = 30, null_score_diff_threshold: float = 0.0) -> None:
        for key, value in (("n_best_size", n_best_size), ("max_answer_length", max_answer_length)):
            require_integer(f"callbacks.squad_evaluation.{key}", value, minimum=1)
        self.output_dir = Path(output_dir)
        self.n_best_size = n_best_size
        self.max_answer_length = max_answer_length
        self.null_score_diff_threshold = null_score_diff_threshold
        self._start: list[np.ndarray] = []
        self._end: list[np.ndarray] = []
        self._index: list[int] = []
        self._features: list[dict] | None = None
        self.metrics: dict[str, float] = {}

    def answer_settings(self) -> dict[str, float]:
        """How logits become answers here; a saved student's pipeline answers the same way."""
        return {
            "n_best_size": self.n_best_size,
            "max_answer_length": self.max_answer_length,
            "null_score_diff_threshold": self.null_score_diff_threshold,
        }

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._end, self._index = [], [], []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._start.extend(outputs["start_logits"].float().cpu().numpy())
        self._end.extend(outputs["end_logits"].float().cpu().numpy())
        if "feature_index" in outputs:  # batches in another order than the features (sorted by length)
            self._index.extend(outputs["feature_index"].cpu().tolist())

    def _in_feature_order(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if len(self._index) != len(self._start):
            return self._start, self._end
        order = np.argsort(self._index, kind="stable")
        return [self._start[i] for i in order], [self._end[i] for i in order]

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = trainer.datamodule
        if self._features is None:  # offsets are fixed; converting them to Python once is enough
            self._features = datamodule.eval_features.select_columns(["example_id", "offset_mapping"]).to_list()
        if len(self._start) != len(self._features):
            return  # a partial loop (e.g. limit_val_batches): answers would be missing, metrics meaningless
        start_logits, end_logits = self._in_feature_order()
        predictions, self.metrics = score_logits(
            datamodule.eval_examples, self._features, start_logits, end_logits, **self.answer_settings()
        )
        write_predictions(predictions, self.output_dir)
        for name, value in self.metrics.items():
            pl_module.log(name, float(value), prog_bar=name in (EXACT.name, F1.name))
