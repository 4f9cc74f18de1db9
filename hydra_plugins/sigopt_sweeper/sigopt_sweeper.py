"""Hydra's entry point for ``hydra/sweeper=sigopt`` (kept small, as Hydra's own sweeper plugins are)."""

from __future__ import annotations

import logging
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

USER_ERROR_EXIT_CODE = 2


class SigOptSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from hydra_plugins.sigopt_sweeper._sweep import SigOptSweep

        self.sweep_impl = SigOptSweep(OmegaConf.create(settings))

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.sweep_impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        from hydra_plugins.sigopt_sweeper._errors import ClusterLostError, SigOptAccessError, SweepConfigError

        try:
            return self.sweep_impl.sweep(arguments)
        except (SweepConfigError, SigOptAccessError) as error:
            # A user-fixable problem: one clear line (and exit status 2), not a stack trace.
            log.error("sigopt sweeper: %s", error)
            raise SystemExit(USER_ERROR_EXIT_CODE) from None
        except ClusterLostError as error:
            log.error("sigopt sweeper stopped: %s", error)
            raise SystemExit(1) from None
