"""Stop a search trial that is still at the trivial level part-way through its training.

Most of an offline search's budget went to students that never left the all-no-answer floor (89 of 95
full-space trials ended within 0.5 of it), each running its whole recipe. This callback probes the student
once, after ``at_fraction`` of the planned optimizer steps, on the first ``probe_questions`` evaluation
questions; if the search's objective there is below the search's threshold and less than ``margin`` above
what answering nothing scores on the same questions (the trivial level: 100 x their unanswerable share, which is
exact, f1 and best_f1 of a student that never answers), training stops. The run then ends as any run does:
its final model is evaluated on the whole evaluation set, so the trial reports *its values at stop*, real
measurements of a real student, flagged ``stopped_early``.

Why values at stop rather than a failed observation: a failure tells SigOpt the point is infeasible and
carries no metric values, and lite counts only valid observations towards leaving its random phase
(valid <= max(2 x dimensions, 4)): in a search where most trials are hopeless, failing them would keep lite
random for most of the budget. A floor value is also what such trials ended with when they ran to the end.
The rule never stops a trial at or above the threshold, so a stopped trial cannot be on the front.

Active only in search trials (``${search_trial:}``: a multirun whose sweeper chooses the settings) with
``search.early_stopping`` set: a single run, or a grid of runs (``-m seed=0,1,2``), always trains to the end.
The threshold, set for the whole evaluation set, is moved to the probe's questions by the difference of the
two trivial levels (the probe's unanswerable share differs from the whole set's).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from hydra_plugins.sigopt_sweeper.api import (
    STOPPED_EARLY,  # the key of a stopped trial's reason in its returned metrics
)
from lightning_distill.callbacks.squad_evaluation import SquadEvaluation
from lightning_distill.config.checks import require_integer, require_number
from lightning_distill.errors import ConfigError
from lightning_distill.portable.model_inputs import qa_logits
from lightning_distill.squad.postprocess import score_logits

log = logging.getLogger(__name__)

RULE_KEY = "search.early_stopping"
RULE_FIELDS = ("at_fraction", "probe_questions", "margin")


class HopelessTrialStopping(pl.Callback):
    def __init__(
        self,
        rule: Mapping[str, Any] | None,
        monitor: str,
        threshold: float | None = None,
        active: bool = True,
    ) -> None:
        self.rule = _checked_rule(rule)
        self.monitor = monitor
        self.threshold = threshold
        self.active = bool(active) and self.rule is not None
        self.checked = False
        self.reason: str | None = None
        self.details: dict[str, float] = {}

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._train_start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:  # fmt: skip
        if not self.active or self.checked:
            return
        planned = int(trainer.estimated_stepping_batches)
        check_at = max(1, math.ceil(self.rule["at_fraction"] * planned))
        if trainer.global_step < check_at:
            return
        self.checked = True
        if check_at >= planned:  # nothing left to save: the run ends here anyway
            return
        value, trivial, questions = self._probe(trainer, pl_module)
        threshold = None if self.threshold is None else self.threshold + trivial - _trivial_level(trainer.datamodule.eval_examples)
        below_threshold = threshold is None or value < threshold
        margin = self.rule["margin"]
        log.info("Early-stopping probe at step %d/%d on %d questions: %s %.2f, trivial level %.2f",
                 trainer.global_step, planned, questions, self.monitor, value, trivial)  # fmt: skip
        if value - trivial < margin and below_threshold:
            elapsed = time.perf_counter() - self._train_start
            self.reason = (
                f"{STOPPED_EARLY}: {self.monitor} {value:.2f} on {questions} probe questions at step "
                f"{trainer.global_step}/{planned}, not {margin:g} above answering nothing ({trivial:.2f})"
            )
            self.details = {"stopped_at_step": float(trainer.global_step), "planned_steps": float(planned),
                            "train_seconds_at_stop": elapsed}  # fmt: skip
            log.warning("Hopeless trial stopped early (%s = %s)", RULE_KEY, dict(self.rule))
            trainer.should_stop = True

    def result(self) -> dict[str, Any]:
        """What the run returns beside its metrics: the reason and the steps, if it stopped early."""
        return {STOPPED_EARLY: self.reason, **self.details} if self.reason else {}

    def _probe(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> tuple[float, float, int]:
        datamodule = trainer.datamodule
        examples, features, loader = datamodule.eval_subset(self.rule["probe_questions"])
        was_training = pl_module.training
        pl_module.eval()
        starts: list[np.ndarray] = [None] * len(features)  # type: ignore[list-item]
        ends: list[np.ndarray] = [None] * len(features)  # type: ignore[list-item]
        try:
            with torch.no_grad():
                for batch in loader:
                    batch = {key: value.to(pl_module.device) for key, value in batch.items()}
                    output = qa_logits(pl_module.student, batch)
                    for row, index in enumerate(batch["feature_index"].tolist()):
                        starts[index] = output[0][row].float().cpu().numpy()
                        ends[index] = output[1][row].float().cpu().numpy()
        finally:
            pl_module.train(was_training)
        offsets = features.select_columns(["example_id", "offset_mapping"]).to_list()
        _, metrics = score_logits(examples, offsets, starts, ends, **_answer_settings(trainer))
        if self.monitor not in metrics:
            raise ConfigError(f"{RULE_KEY}: the search's objective {self.monitor!r} is not a SQuAD metric the probe "
                              f"computes ({sorted(metrics)}); set {RULE_KEY}=null for this search.")  # fmt: skip
        return float(metrics[self.monitor]), _trivial_level(examples), len(examples)


def _trivial_level(examples: Any) -> float:
    """What answering nothing scores on ``examples`` (exact, f1 and best_f1 alike): 100 x unanswerable share."""
    unanswerable = sum(1 for example in examples if not example["answers"]["text"])
    return 100.0 * unanswerable / len(examples)


def _answer_settings(trainer: pl.Trainer) -> dict[str, Any]:
    """The run's own SQuAD evaluation settings (n-best, answer length, null threshold), so the probe answers
    as the final evaluation will; postprocessing's defaults where the run has no SquadEvaluation."""
    for callback in trainer.callbacks:
        if isinstance(callback, SquadEvaluation):
            return callback.answer_settings()
    return {}


def _checked_rule(rule: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    if not isinstance(rule, Mapping):
        raise ConfigError(f"{RULE_KEY}={rule!r} must be null (off) or a mapping with {list(RULE_FIELDS)}.")
    unknown = sorted(set(rule) - set(RULE_FIELDS))
    if unknown:
        raise ConfigError(f"{RULE_KEY} has unknown keys {unknown}; it takes {list(RULE_FIELDS)}.")
    missing = [key for key in RULE_FIELDS if key not in rule]
    if missing:
        raise ConfigError(f"{RULE_KEY} lacks {missing}; it takes {list(RULE_FIELDS)} (or null: off).")
    require_number(f"{RULE_KEY}.at_fraction", rule["at_fraction"], above=0, below=1)
    require_integer(f"{RULE_KEY}.probe_questions", rule["probe_questions"], minimum=1)
    require_number(f"{RULE_KEY}.margin", rule["margin"], minimum=0)
    return dict(rule)
