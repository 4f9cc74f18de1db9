"""``python train.py [experiment=smoke] [key=value ...]``: one distillation run (see README)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import lightning_distill  # noqa: F401  (registers the config resolvers)
from hydra_plugins.sigopt_sweeper.api import shell_override
from lightning_distill.errors import USER_ERROR_EXIT_CODE, LightningDistillError
from lightning_distill.training.pipeline import select_objectives, train

log = logging.getLogger(__name__)

RESUME_CHECKPOINT = "checkpoints/last.ckpt"
"""Where callbacks.resume_checkpoint keeps a single run's checkpoint (conf/callbacks/default.yaml)."""
INTERRUPTED_EXIT_CODE = 130
"""Ctrl-C: 128 + SIGINT, as a shell reports it and as the sweeper exits (README, "Exit codes")."""


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> dict[str, float] | list[float]:
    """Returns the run's metrics: the dict a sweeper reads (or ``objectives`` as a list, for Optuna)."""
    single = HydraConfig.get().mode != RunMode.MULTIRUN  # a sweeper handles its trials' errors and interrupts
    try:
        return select_objectives(train(cfg), cfg.get("objectives"))
    except LightningDistillError as error:
        if not single:
            raise  # a sweeper records the failed trial and goes on
        log.error("%s", error)
        sys.exit(USER_ERROR_EXIT_CODE)
    except (KeyboardInterrupt, SystemExit) as stop:
        # Lightning turns Ctrl-C during fit into sys.exit(1) after its graceful shutdown
        interrupted = isinstance(stop, KeyboardInterrupt) or isinstance(stop.__context__, KeyboardInterrupt)
        if not (single and interrupted):
            raise
        run_dir = HydraConfig.get().runtime.output_dir
        if (Path(run_dir) / RESUME_CHECKPOINT).is_file():
            log.error("Interrupted (Ctrl-C): the run stopped; its metrics.json says so (status: interrupted). Resume it "
                      "with the same overrides plus %s ckpt_path=last", shell_override("hydra.run.dir", run_dir))
        else:
            log.error("Interrupted (Ctrl-C) before its first checkpoint: the run stopped; start it again")
        sys.exit(INTERRUPTED_EXIT_CODE)


if __name__ == "__main__":
    main()
