"""The driver a sweep's settings ask for: ``lite`` (sigoptlite in process), ``api`` (the SigOpt
service), or ``auto``: api when the token variable is set, lite otherwise.

The token is read from the environment here and handed to the api driver only; it never enters a
config, so Hydra never saves it.
"""

from __future__ import annotations

import os

from omegaconf import DictConfig

from hydra_plugins.sigopt_sweeper._api_driver import ApiDriver
from hydra_plugins.sigopt_sweeper._experiment import Driver, ExperimentSpec
from hydra_plugins.sigopt_sweeper._lite_driver import LiteDriver
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
from hydra_plugins.sigopt_sweeper.config import DriverType


def make_driver(settings: DictConfig, spec: ExperimentSpec) -> Driver:
    """``settings``: as ``read_settings`` returns them."""
    token = os.environ.get(settings.token_env, "").strip()
    driver = settings.driver
    if driver == DriverType.auto.value:
        driver = DriverType.api.value if token else DriverType.lite.value
    if driver == DriverType.lite.value:
        return LiteDriver(
            spec,
            lie=settings.lie,
            seed=settings.seed,
            blas_threads=settings.blas_threads,
            refit_every=settings.refit_every,
            spe_beyond=settings.spe_beyond,
        )
    if not token:
        raise SweepConfigError(
            f"hydra.sweeper.driver=api needs a SigOpt API token in ${settings.token_env} "
            "(export it; it is never read from config). Use driver=lite to run offline."
        )
    api_url = os.environ.get(settings.api_url_env) or None
    return ApiDriver(
        spec,
        token,
        token_env=settings.token_env,
        api_url=api_url,
        project=settings.project,
        retries=settings.report_retries,
        backoff_s=settings.retry_backoff_s,
    )
