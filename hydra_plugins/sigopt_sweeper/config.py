"""Structured config of ``hydra/sweeper=sigopt``, registered in Hydra's ConfigStore.

Defaults follow the source experiment (SPEC §2): exact maximized with threshold 50, trainable
parameters minimized, f1 and inference time stored, 479 observations, 20 in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class MetricConf:
    name: str = "exact"
    objective: Optional[str] = "maximize"
    """maximize | minimize (ignored for strategy=store)."""
    strategy: str = "optimize"
    """optimize | store (recorded by SigOpt, not optimized)."""
    threshold: Optional[float] = None
    """Values at or beyond it are deprioritized (SigOpt metric threshold)."""


def _default_metrics() -> List[MetricConf]:
    return [
        MetricConf(name="exact", objective="maximize", strategy="optimize", threshold=50.0),
        MetricConf(name="num_params", objective="minimize", strategy="optimize"),
        MetricConf(name="f1", objective="maximize", strategy="store"),
        MetricConf(name="inference_time", objective="minimize", strategy="store"),
    ]


@dataclass
class BaselineConf:
    """A reference point drawn on pareto.png (default: the source's Table 1 result)."""

    label: str = "DistilBERT baseline (Table 1)"
    values: Dict[str, float] = field(default_factory=lambda: {"exact": 67.07, "num_params": 66364418})


@dataclass
class SigOptSweeperConf:
    _target_: str = "hydra_plugins.sigopt_sweeper.sigopt_sweeper.SigOptSweeper"

    driver: str = "auto"
    """auto (api when the token variable is set, else lite) | lite (in-process sigoptlite) | api."""
    experiment_name: str = "lightning-distill"
    budget: int = 479
    """Number of observations (completed + failed trials) to collect."""
    parallelism: int = 20
    """Trials in flight at once (Ray: concurrent tasks; other launchers: batch size)."""
    metrics: List[MetricConf] = field(default_factory=_default_metrics)
    params: Optional[Dict[str, Any]] = "${oc.select:search_space,null}"  # type: ignore[assignment]
    """The search space in Hydra's override grammar; defaults to the job config's ``search_space``."""

    resume: bool = False
    """Continue the sweep journaled in hydra.sweep.dir instead of refusing to overwrite it."""
    experiment_id: Optional[str] = None
    """api driver: attach to this existing experiment instead of creating one."""
    token_env: str = "SIGOPT_API_TOKEN"
    """Name of the environment variable holding the token (the token itself is never in config)."""
    api_url_env: str = "SIGOPT_API_URL"
    """Name of the environment variable holding a non-default API URL."""
    project: Optional[str] = None
    """api driver: SigOpt project id for the experiment (optional)."""

    lie: str = "mean"
    """lite driver: constant-liar value for pending trials: mean | worst | best of completed values."""
    blas_threads: Optional[int] = 1
    """lite driver: BLAS threads while computing a suggestion (small GP matrices: 1 is fastest); null = default."""
    seed: Optional[int] = None
    """lite driver: seed of its random stream (reproducible suggestions); null = fresh entropy."""
    keep_checkpoints: str = "all"
    """all | pareto: after the sweep, delete student checkpoints of trials off the frontier."""
    checkpoint_dir: str = "student"
    """Per-trial subdirectory holding the student checkpoint (StudentCheckpoint's dirpath)."""
    baseline: Optional[BaselineConf] = field(default_factory=BaselineConf)


ConfigStore.instance().store(group="hydra/sweeper", name="sigopt", node=SigOptSweeperConf, provider="sigopt_sweeper")
