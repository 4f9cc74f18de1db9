"""The plugin's public Python surface, for code that uses its parts outside a Hydra sweep
(benchmarks, tests, notebooks): the search space and metrics as the sweeper reads them, the
experiment they define, observations and the result files written from them, and the in-process
lite driver, and a sweep directory read back (``read_sweep``: the one reader of the sweeper's files outside the
sweep). Everything else (modules starting with ``_``) is private and may change with the
sweeper.
"""

from hydra_plugins.sigopt_sweeper._command_line import shell_override
from hydra_plugins.sigopt_sweeper._experiment import ExperimentSpec, Suggestion
from hydra_plugins.sigopt_sweeper._lite_driver import LiteDriver
from hydra_plugins.sigopt_sweeper._metrics import Metric, parse_metrics
from hydra_plugins.sigopt_sweeper._projects import ensure_project
from hydra_plugins.sigopt_sweeper._result_files import write_observations, write_pareto
from hydra_plugins.sigopt_sweeper._search_space import Parameter, SearchSpace, parse_search_space
from hydra_plugins.sigopt_sweeper._settings import SweepConfigError
from hydra_plugins.sigopt_sweeper._sweep_files import MODEL_STRATEGY, SWEEP_FILE_NAMES, SweepFiles, read_sweep
from hydra_plugins.sigopt_sweeper._trial import (
    COMPLETED,
    FAILED,
    INFRASTRUCTURE_MARKER,
    STOPPED_EARLY,
    Observation,
)
from hydra_plugins.sigopt_sweeper._warm_start import WarmStart, read_warm_start

__all__ = [
    "COMPLETED",
    "FAILED",
    "INFRASTRUCTURE_MARKER",
    "MODEL_STRATEGY",
    "STOPPED_EARLY",
    "SWEEP_FILE_NAMES",
    "ExperimentSpec",
    "LiteDriver",
    "Metric",
    "Observation",
    "Parameter",
    "SearchSpace",
    "Suggestion",
    "SweepConfigError",
    "SweepFiles",
    "WarmStart",
    "ensure_project",
    "parse_metrics",
    "parse_search_space",
    "read_sweep",
    "read_warm_start",
    "shell_override",
    "write_observations",
    "write_pareto",
]
