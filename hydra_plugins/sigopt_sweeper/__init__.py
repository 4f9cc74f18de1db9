"""Hydra sweeper plugin: multimetric Bayesian optimization with SigOpt (service or sigoptlite).

Implementation modules start with ``_``: Hydra's plugin scanner re-executes every other module
of a ``hydra_plugins`` package, which would redefine their classes (breaking ``except`` and
``isinstance`` across modules). Only ``config`` (ConfigStore entry) and ``sigopt_sweeper`` (the
Sweeper class) are meant to be found by the scan, as in Hydra's own plugins.
"""

from hydra_plugins.sigopt_sweeper import config as _config  # noqa: F401 - registers hydra/sweeper=sigopt
