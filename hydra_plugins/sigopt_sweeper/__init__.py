"""Hydra sweeper plugin: multimetric Bayesian optimization with SigOpt (service or sigoptlite).

Laid out as Hydra's own plugins: ``config`` (the settings' dataclasses, registered in the
ConfigStore as ``hydra/sweeper=sigopt``), ``sigopt_sweeper`` (the thin Sweeper and its settings
check), ``api`` (the public surface for code outside a sweep), and private modules:

- ``_settings``: the sweeper's own settings checked; the error a user fixes in config
- ``_search_space``, ``_metrics``: Hydra sweep overrides -> SigOpt parameters; metrics, Pareto front
- ``_experiment``: the experiment they define, and the driver interface
- ``_drivers``, ``_lite_driver``, ``_api_driver``: which optimizer, sigoptlite, the SigOpt service
- ``_trial``: suggested trial, its outcome, its observation, failure reasons
- ``_trial_pool``: running trials (Ray tasks, or batches through any Hydra launcher)
- ``_journal``: the crash-safe record a sweep resumes from
- ``_sweep``: start-up, then the suggest -> run -> observe loop
- ``_result_files``, ``_checkpoints``: observations and Pareto front on disk; checkpoints off the front

Implementation modules start with ``_``: Hydra's plugin scanner re-executes every other module
of a ``hydra_plugins`` package, which would redefine their classes (breaking ``except`` and
``isinstance`` across modules).
"""

from hydra_plugins.sigopt_sweeper import config as _config  # noqa: F401 - registers hydra/sweeper=sigopt
