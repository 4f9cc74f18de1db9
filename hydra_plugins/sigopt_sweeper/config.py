"""Structured config of ``hydra/sweeper=sigopt``, registered in Hydra's ConfigStore as ``sigopt_schema``.

The defaults are generic: no metrics (a sweep must say what to optimize), no baseline point, every
checkpoint kept. A project's settings belong in its own config: a ``conf/hydra/sweeper/sigopt.yaml``
extending ``sigopt_schema`` (in this repository it reads the job config's ``search`` group, so
``python train.py -m hydra/sweeper=sigopt`` runs the project's search) or a preset.

Choices are Enums, as in Hydra's Optuna sweeper. Like its ``direction``, those fields are typed
``Any`` (an Enum member or its name): a bad value then reaches the sweeper's own check, which names
the key and the valid values and exits with status 2 before anything runs. An Enum-typed field
would be refused by Hydra's composition instead (exit status 1, and for a metric without its index
in ``hydra.sweeper.metrics``).

Selecting this sweeper also adds ``hydra.callbacks.sigopt_settings_check`` (see ``defaults``): it
checks these settings when the multirun starts, before the application's own callbacks (which may
spend hours preparing data) run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore


class DriverType(Enum):
    auto = "auto"
    """api when the token variable is set, else lite."""
    lite = "lite"
    """The in-process sigoptlite optimizer (offline)."""
    api = "api"
    """The SigOpt service."""


class Lie(Enum):
    """lite driver: the values pending trials are observed at (constant liar), from completed trials;
    each is a plausible real outcome (see ``LiteDriver._lie_values``)."""

    mean = "mean"
    """Per metric, the mean of the completed trials meeting every threshold (all completed while none does)."""
    worst = "worst"
    """Per metric, the worst completed value."""
    best = "best"
    """The values of one real Pareto-front trial (the best on the first optimized metric)."""


class KeepCheckpoints(Enum):
    all = "all"
    pareto = "pareto"


class Objective(Enum):
    maximize = "maximize"
    minimize = "minimize"


class Strategy(Enum):
    optimize = "optimize"
    store = "store"


@dataclass
class MetricConf:
    name: str = ""
    """Required: the key of the metric in the dict the task returns."""
    objective: Any = Objective.maximize
    """An ``Objective``: maximize | minimize (ignored for strategy=store)."""
    strategy: Any = Strategy.optimize
    """A ``Strategy``: optimize (one or two metrics) | store (recorded, not optimized)."""
    threshold: float | None = None
    """SigOpt metric threshold, inclusive: values at it or better meet it; worse ones are deprioritized
    and never on the Pareto front."""


@dataclass
class BaselineConf:
    """A reference point drawn on pareto.png and recorded in pareto.json."""

    label: str = "baseline"
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class SigOptSweeperConf:
    _target_: str = "hydra_plugins.sigopt_sweeper.sigopt_sweeper.SigOptSweeper"
    defaults: list[Any] = field(
        default_factory=lambda: [{"callbacks@_global_.hydra.callbacks.sigopt_settings_check": "settings_check"}]
    )
    """Adds the settings check to ``hydra.callbacks`` (composed before the application's config, so it runs first)."""

    driver: Any = DriverType.auto
    """A ``DriverType``: auto (api when the token variable is set, else lite) | lite | api."""
    experiment_name: str = "hydra-sigopt-sweep"
    """The SigOpt experiment's name."""
    budget: int = 20
    """Number of observations (completed + failed trials) to collect (20: as the Optuna sweeper's n_trials)."""
    parallelism: int = 2
    """Trials in flight at once (Ray: concurrent tasks; other launchers: batch size; 2: as Optuna's n_jobs)."""
    metrics: Any = field(default_factory=list)
    """Required: what the sweep optimizes (one or two) and stores, read from the task's returned dict: a
    list of ``MetricConf`` mappings. Typed ``Any`` (as ``baseline``) so that a project may interpolate the
    list from its own config; the sweeper checks every entry, unknown keys included."""
    store: list[str] = field(default_factory=list)
    """Names of further metrics to record (strategy=store) beside ``metrics``: a list a config group can
    set as a whole, since Hydra cannot append to ``metrics``. Names already in ``metrics`` are skipped."""
    params: dict[str, Any] | None = "${oc.select:search_space,null}"  # type: ignore[assignment]
    """The search space in Hydra's override grammar; defaults to the job config's ``search_space``."""

    resume: bool = False
    """Continue the sweep journaled in hydra.sweep.dir instead of refusing to overwrite it."""
    inputs: Any = field(default_factory=dict)
    """What every trial reads, as ``{name: fingerprint}`` the application computes (e.g. its data files' content and
    its teacher's): journaled in the sweep's header, and a resume with any of them changed is refused, naming it, so
    one front never mixes trials that trained or scored on different inputs. Empty: nothing checked."""
    metrics_hint: str | None = None
    """Where the application sets ``metrics`` (its presets), added to the error when they are empty."""
    warm_start: list[str] = field(default_factory=list)
    """Earlier sweeps whose observations the new experiment starts from: sweep directories (their
    ``observations.jsonl``, also what an application writes with ``api.write_observations``) or observation
    files (``observations.jsonl`` / ``observations.csv``). Observations outside this search space or without
    this sweep's metrics are skipped and counted. Read once, when the sweep starts, and journaled."""
    experiment_id: str | None = None
    """api driver: attach to this existing experiment instead of creating one."""
    token_env: str = "SIGOPT_API_TOKEN"
    """Name of the environment variable holding the token (the token itself is never in config)."""
    api_url_env: str = "SIGOPT_API_URL"
    """Name of the environment variable holding a non-default API URL."""
    project: str | None = None
    """api driver: SigOpt project id for the experiment (optional)."""

    lie: Any = Lie.mean
    """lite driver, a ``Lie``: pending trials are observed at the mean of trials meeting the thresholds |
    the worst completed values | a real front trial's values."""
    blas_threads: int | None = 1
    """lite driver: BLAS threads while computing a suggestion (small GP matrices: 1 is fastest); null = default."""
    refit_every: int = 1
    """lite driver: refit the GP hyperparameters on every k-th GP suggestion only, reusing them in
    between (a refit is ~60 % of a GP suggestion at hundreds of observations); 1 = every time. 5 cut
    the GP phase's optimizer time ~35 % but lost 4-18 % hypervolume in all four budget-100 benchmark cells
    (within seed noise each; docs/results/search-quality), and SPE already meets the latency target."""
    spe_beyond: int | None = 200
    """lite driver: beyond this many observations, suggest with lite's SPE (``kde_only``, ~0.05 s)
    instead of the GP (whose acquisition step alone takes 3-6 s at 479); null = lite's own rule (600)."""
    seed: int | None = None
    """lite driver: seed of its random stream (reproducible suggestions); null = fresh entropy."""
    keep_checkpoints: Any = KeepCheckpoints.all
    """A ``KeepCheckpoints``: all | pareto (after the sweep, delete the checkpoints of trials off the front)."""
    checkpoint_dir: str | None = None
    """Per-trial subdirectory holding its checkpoint (listed in pareto.json; keep_checkpoints=pareto needs it)."""
    baseline: Any = None
    """A reference point for pareto.png / pareto.json, shaped as ``BaselineConf`` (label, values); null =
    none. Typed ``Any`` so that a project may interpolate it from its own config (OmegaConf resolves an
    interpolation merged into a typed mapping at composition, before the job config is there); the
    sweeper checks its shape."""

    trial_timeout_s: float | None = None
    """Seconds a trial may take (on Ray from submission, so queueing counts); past it the trial is
    cancelled and recorded as failed with reason ``timeout: ...``. null = no limit."""
    waiting_log_s: float | None = 600.0
    """With Ray, while no trial finishes for this long, log which trials are running and for how long (one line per
    interval), so a hung trial without ``trial_timeout_s`` is seen in the log, not only as silence. null = never."""
    first_failures_alike: int | None = 3
    """Stop the sweep (exit 2) when the first this-many trials it runs all fail with the same error (digits
    aside): a setting that breaks every trial (``trainer.precision=bogus``, a logger without its token), not a
    region of the space, and every further trial would spend budget on it. null = never stop for that."""
    max_attempts: int = 2
    """Times a trial is started before it is recorded as failed: a trial in flight when the sweep
    process died, or whose worker died, is started again until then (a trial that crashes the sweep
    cannot block every resume)."""
    max_infrastructure_failures: int = 5
    """Circuit breaker: this many consecutive infrastructure failures (Ray worker or node died,
    object lost, out of disk, runtime env setup, Ray's OOM killer) stop the sweep, trials kept
    pending for ``resume``. Such failures are requeued, not observed."""
    check_timeout_s: float = 10.0
    """api driver: seconds the server gets to answer the check made before anything else of a multirun
    (``SigOptServerCheck``); a server that accepts connections but never answers fails in this time, not after the
    client's 150 s request timeout."""
    report_retries: int = 5
    """api driver: retries of a request that got a 5xx answer or no answer (the client retries 429 only)."""
    retry_backoff_s: float = 1.0
    """api driver: wait before the first retry, doubled after each. A report that still fails stays
    unreported: it is retried after the next trial finishes and on resume."""


@dataclass
class SettingsCheckConf:
    _target_: str = "hydra_plugins.sigopt_sweeper.sigopt_sweeper.SettingsCheck"


# ``hydra/sweeper=sigopt`` itself is the YAML file conf/hydra/sweeper/sigopt.yaml extending this schema
# (see search_path.py), so that a project can replace it with its own file extending ``sigopt_schema``.
ConfigStore.instance().store(
    group="hydra/sweeper", name="sigopt_schema", node=SigOptSweeperConf, provider="sigopt_sweeper"
)
ConfigStore.instance().store(
    group="hydra/sweeper/callbacks", name="settings_check", node=SettingsCheckConf, provider="sigopt_sweeper"
)
