"""Search analysis, the top floor: reading sweeps and runs into the ``report``, ``hypervolume``, the
Optuna presets' helpers (``optuna_sweep``, ``optuna_warm_start``, ``constraints``) and ``rescore`` (a saved
student on other data). It may use every other package; none uses it."""
