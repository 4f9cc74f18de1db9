"""Hydra sweeper plugin: multimetric Bayesian optimization with SigOpt (service or sigoptlite)."""

from hydra_plugins.sigopt_sweeper import config as _config  # noqa: F401 - registers hydra/sweeper=sigopt
