"""``python -m lightning_distill.search.rescore RUN_DIR --out OUT [KEY=VALUE ...]``.

Scores a finished run's saved student again, with the run's own evaluation (featurization,
post-processing, SQuAD 2.0 metrics incl. best_f1, parameter count, inference time) on other
evaluation data: e.g. a search trial scored on a 2,000-question slice, re-scored on all of split B
with ``data.max_eval_examples=null``.

Why not ``train.py``: a trial's student is pruned and trained; seeding a new run from it would
re-seed, not reload. This loads ``RUN_DIR/student`` whole and runs only Lightning's validation
loop with the callbacks of the run's composed config (``RUN_DIR/.hydra/config.yaml``), so the
numbers are the ones the run would have logged on that data. The overrides are applied to that
config (dotted keys, as on the command line). Writes ``OUT/metrics.json``, ``predictions.json``
and ``null_odds.json``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lightning_distill.errors import USER_ERROR_EXIT_CODE, LightningDistillError
from lightning_distill.storage.atomic_files import write_json_atomically

STUDENT_DIR = "student"
TOKENIZER_FILE = "tokenizer.json"
EVALUATION_CALLBACKS = ("parameter_count", "inference_time", "squad_evaluation")
"""The callbacks that produce a run's evaluation metrics; the others write training artifacts."""

log = logging.getLogger(__name__)


class RescoreError(LightningDistillError):
    """A run directory or override that cannot be re-scored."""


def run_config(run_dir: Path, out: Path, overrides: Sequence[str]) -> DictConfig:
    """The run's composed config, written to ``out`` instead of the run, with ``overrides`` applied."""
    config_path = run_dir / ".hydra" / "config.yaml"
    if not config_path.is_file():
        raise RescoreError(f"{config_path} does not exist: RUN_DIR must be a run directory made by train.py")
    bad = [item for item in overrides if "=" not in item]
    if bad:
        raise RescoreError(f"override {bad[0]!r} is not KEY=VALUE (e.g. data.max_eval_examples=null)")
    try:
        cfg = OmegaConf.load(config_path)
        cfg.paths.output_dir = str(out)  # the run's own is ${hydra:runtime.output_dir}: no Hydra run here
        cfg.merge_with(OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as error:
        raise RescoreError(f"{config_path}: {error}") from error
    return cfg


def rescore(run_dir: Path, out: Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    import pytorch_lightning as pl

    from lightning_distill.config.instantiate import instantiate
    from lightning_distill.data.tokenizer import load_tokenizer
    from lightning_distill.models.checkpoint import load_qa_model
    from lightning_distill.training.distillation_module import DistillationModule
    from lightning_distill.training.pipeline import logged_metrics
    from lightning_distill.training.precision import resolve_precision

    student_dir = run_dir / STUDENT_DIR
    if not (student_dir / "config.json").is_file():
        raise RescoreError(f"{student_dir} holds no saved student (config.json): the run did not finish, or its checkpoint was deleted")
    cfg = run_config(run_dir, out, overrides)
    out.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)
    # The student's own tokenizer where it ships one: a trimmed vocabulary (student.vocab) is the student's, not cfg.tokenizer's.
    tokenizer = load_tokenizer(str(student_dir)) if (student_dir / TOKENIZER_FILE).is_file() else instantiate(cfg.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer)
    model = load_qa_model(student_dir, role="student")
    module = DistillationModule(model, None, instantiate(cfg.distillation), instantiate(cfg.optimizer))
    callbacks = [instantiate(cfg.callbacks[name]) for name in EVALUATION_CALLBACKS if cfg.callbacks.get(name) is not None]
    precision = resolve_precision(cfg.trainer.get("precision", "32-true"), str(cfg.trainer.get("accelerator", "auto")))
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=False, precision=precision)
    trainer.validate(module, datamodule=datamodule, verbose=False)
    metrics = logged_metrics(trainer)
    document = {"status": "finished", "final": metrics, "source": {"run": str(run_dir), "overrides": list(overrides)}}
    write_json_atomically(out / "metrics.json", document)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lightning_distill.search.rescore", description=__doc__.split("\n\n")[1])
    parser.add_argument("run_dir", type=Path, help="a finished run (or sweep trial) directory with .hydra/ and student/")
    parser.add_argument("--out", type=Path, required=True, help="directory for metrics.json, predictions.json, null_odds.json")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE changes to the run's config, e.g. data.max_eval_examples=null")
    args = parser.parse_intermixed_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        metrics = rescore(args.run_dir, args.out, args.overrides)
    except LightningDistillError as error:
        print(f"rescore: {error}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    shown = ", ".join(f"{name} {metrics[name]:.2f}" for name in ("exact", "f1", "HasAns_f1", "best_f1") if name in metrics)
    print(f"wrote {args.out / 'metrics.json'}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
