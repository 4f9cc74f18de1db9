"""Cheap problems the search quality benchmark runs every contender on.

- ``synthetic``: a stand-in for our search (SPEC §2): Table 2's space and the sweeper's metrics as
  ``conf/`` defines them (``hparams_search=sigopt``), ``num_params`` from SPEC's exact arithmetic,
  and a smooth noisy ``exact`` with interactions and two failure regions, so that a search can
  only do well by learning the trade-off, the irrelevant dimensions and where trials fail.
- ``dtlz2``: the standard bi-objective DTLZ2 at 18 dimensions (Deb et al. 2002), whose true front
  is known (a quarter circle), as a check that is not of our making.

Trials take simulated time (``Outcome.duration``, hours): the synthetic one in proportion to the
model's size, so large models occupy workers longer, as on the cluster.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.sigopt_sweeper.api import Metric, SearchSpace, parse_metrics, parse_search_space

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

EMBEDDINGS_AND_QA_HEAD = 23_837_186
"""SPEC arithmetic (hidden 768, vocab 30,522): word + 512 position embeddings + LayerNorm
(23,835,648) and the QA head (768 x 2 + 2)."""
LAYER = 7_087_872
"""One transformer layer: q, k, v, out (4 x (768^2 + 768)), FFN 768 <-> 3072, two LayerNorms."""
HEAD = 196_800
"""What pruning one head removes from a layer: 64 rows of q, k, v with biases, 64 columns of out."""
BASELINE_PARAMS = 66_364_418
"""6 layers, 12 heads: DistilBERT, the unit of simulated trial duration."""

Evaluate = Callable[[dict[str, Any], np.random.Generator], "Outcome"]


@dataclass(frozen=True)
class Outcome:
    values: dict[str, float] | None
    """Every metric of the problem; None when the trial failed."""
    reason: str | None
    """Why it failed, category first, as the sweeper records it (``cuda_oom: ...``)."""
    duration: float
    """Simulated hours the trial occupies its worker."""


@dataclass(frozen=True)
class Problem:
    name: str
    params: dict[str, str]
    """The search space in Hydra's sweep grammar, as every sweeper reads it."""
    space: SearchSpace
    metrics: tuple[Metric, ...]
    reference: tuple[float, float]
    """Hypervolume reference point, as costs (maximized metrics negated), optimized metrics in order."""
    evaluate: Evaluate


def num_params(layers: int, heads: int) -> int:
    """Trainable parameters of a student (SPEC: 6/12 -> 66,364,418; 1/1 -> 28.76 M; 20/12 -> 165.6 M)."""
    return EMBEDDINGS_AND_QA_HEAD + layers * (LAYER - (12 - heads) * HEAD)


def synthetic(settings: DictConfig) -> Problem:
    """Table 2 from ``conf/``; ``settings``: the ``synthetic`` node of the benchmark's config."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["hparams_search=sigopt", "size_objective=num_params"], return_hydra_config=True)
    params = {str(key): str(value) for key, value in cfg.search_space.items()}
    metrics = parse_metrics([OmegaConf.to_container(metric, resolve=True) for metric in cfg.hydra.sweeper.metrics])
    exact = next(metric for metric in metrics if metric.name == "exact")
    largest = num_params(20, 12)
    reference = (-float(exact.threshold), float(largest))

    def evaluate(assignments: dict[str, Any], rng: np.random.Generator) -> Outcome:
        return synthetic_outcome(assignments, rng, settings)

    return Problem("synthetic", params, parse_search_space(params), metrics, reference, evaluate)


def synthetic_outcome(assignments: dict[str, Any], rng: np.random.Generator, settings: DictConfig) -> Outcome:
    """One simulated training run of Table 2's configuration ``assignments``."""
    a = {name.rsplit(".", 1)[-1]: value for name, value in assignments.items()}
    layers, heads = int(a["n_layers"]), int(a["n_heads"])
    size = num_params(layers, heads)
    duration = size / BASELINE_PARAMS * float(rng.lognormal(0.0, settings.duration_sd))
    if a["learning_rate"] * a["temperature"] > settings.non_finite_lr_x_temperature:
        return Outcome(None, "non_finite_loss: simulated (learning_rate x temperature)", duration * 0.2)
    if layers * a["train_batch_size"] > settings.oom_layers_x_batch:
        return Outcome(None, "cuda_oom: simulated (n_layers x train_batch_size)", duration * 0.02)
    exact = synthetic_exact(a) + float(rng.normal(0.0, settings.noise_sd))
    return Outcome(
        {
            "exact": exact,
            "num_params": float(size),
            "f1": exact + 3.0,
            "inference_time": 0.01 * layers * (0.3 + 0.7 * heads / 12),
        },
        None,
        duration,
    )


def synthetic_exact(a: dict[str, Any]) -> float:
    """Noise-free exact: capacity (layers, heads: diminishing returns) times training quality.

    Quality falls off around optima (learning rate ~5e-5, temperature ~3, soft + hard weight ~1
    with soft ~0.6; temperature matters in proportion to the soft weight), and with dropout above
    0.5, large initializer ranges, low beta2 and heavy weight decay; Adam's epsilon, beta1, warmup,
    pruning seed and eval batch size do nothing. Table 1's baseline scores ~65 (the source: 67.07).
    """
    capacity = (1 - math.exp(-a["n_layers"] / 3)) * (1 - math.exp(-a["n_heads"] / 4))
    soft, hard = a["soft_weight"], a["hard_weight"]
    penalty = (
        0.5 * ((math.log10(a["learning_rate"]) + 4.3) / 1.2) ** 2
        + 0.4 * soft * ((a["temperature"] - 3) / 3) ** 2
        + (soft + hard - 1) ** 2
        + 0.5 * (soft - 0.6) ** 2
        + 4 * max(0.0, a["dropout"] - 0.5) ** 2
        + 2 * max(0.0, a["attention_dropout"] - 0.5) ** 2
        + 2 * max(0.0, a["qa_dropout"] - 0.5) ** 2
        + 0.2 * a["dropout"]
        + 0.5 * a["initializer_range"]
        + 2 * max(0.0, 0.9 - a["beta2"])
        + 0.2 * max(0.0, math.log10(a["weight_decay"]) + 3)
    )
    return 40.0 + 35.0 * capacity * math.exp(-penalty)


def dtlz2(settings: DictConfig) -> Problem:
    """DTLZ2 with two objectives over ``settings.dimensions`` variables in [0, 1]."""
    names = [f"x{index:02d}" for index in range(settings.dimensions)]
    params = {name: "interval(0.0, 1.0)" for name in names}
    metrics = parse_metrics([{"name": name, "objective": "minimize", "strategy": "optimize"} for name in ("f1", "f2")])
    reference = (float(settings.reference), float(settings.reference))

    def evaluate(assignments: dict[str, Any], rng: np.random.Generator) -> Outcome:
        x = np.array([float(assignments[name]) for name in names])
        g = float(np.sum((x[1:] - 0.5) ** 2))
        angle = x[0] * math.pi / 2
        values = {"f1": (1 + g) * math.cos(angle), "f2": (1 + g) * math.sin(angle)}
        return Outcome(values, None, float(rng.uniform(0.5, 1.5)))

    return Problem("dtlz2", params, parse_search_space(params), metrics, reference, evaluate)


def _offline_surrogate(settings: DictConfig) -> Problem:
    from benchmarks.search.surrogate import offline_surrogate  # scikit-learn, only when this problem runs

    return offline_surrogate(settings)


PROBLEMS: dict[str, Callable[[DictConfig], Problem]] = {
    "synthetic": synthetic,
    "dtlz2": dtlz2,
    "offline_surrogate": _offline_surrogate,
}
