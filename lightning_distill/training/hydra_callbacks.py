"""A Hydra callback that builds what every trial of a multirun shares, once, before the first trial.

Trials of a sweep differ only in student, optimizer, loss and batch settings, none of which
changes the featurized data or the teacher's logits (``pipeline.prepare``'s contract). Building
them here rather than in the first trials means parallel trials never wait on each other's
featurization or teacher pass, and with any sweeper (sigopt, optuna, basic), since it hooks
Hydra's ``on_multirun_start`` rather than one sweeper. On a Ray cluster, put
``paths.cache_dir`` on storage the workers share, or each node rebuilds it once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from omegaconf.errors import InterpolationResolutionError

from lightning_distill.errors import USER_ERROR_EXIT_CODE, LightningDistillError, first_line

log = logging.getLogger(__name__)

INFRASTRUCTURE_EXIT_CODE = 1
PER_JOB_VALUE = "HydraConfig was not set"
"""What resolving ``${hydra:job.num}`` (or any per-job Hydra value) raises before the first job."""


class PrepareSharedData(Callback):
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.enabled:
            return
        from lightning_distill.training.pipeline import prepare

        started = time.perf_counter()
        try:
            prepare(config)
        except LightningDistillError as error:
            log.error("%s", error)  # before any trial: one clear line, no trial wasted
            raise SystemExit(USER_ERROR_EXIT_CODE) from None
        except InterpolationResolutionError as error:
            if PER_JOB_VALUE not in str(error):
                raise SystemExit(self._failed(error)) from None
            log.warning(  # e.g. data.train_batch_size=${...${hydra:job.num}}: nothing is shared to build ahead
                "The data or teacher settings depend on per-trial values (%s), so each trial prepares its own "
                "features and teacher cache.",
                first_line(error),
            )
            return
        except Exception as error:  # noqa: BLE001 - Hydra would only warn and start every trial on broken data
            raise SystemExit(self._failed(error)) from None
        log.info("Shared features and teacher cache ready in %.1f s", time.perf_counter() - started)

    @staticmethod
    def _failed(error: Exception) -> int:
        log.error(
            "Preparing the shared features and teacher cache failed, so no trial was started: %s: %s",
            type(error).__name__,
            error,
        )
        return INFRASTRUCTURE_EXIT_CODE
