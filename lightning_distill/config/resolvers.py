"""OmegaConf resolvers used by ``conf/`` (registered on ``import lightning_distill``).

``${project_root:}`` lets shipped presets name data and artifact paths relative to the checkout
rather than to wherever the user launched from; ``${package_path:pkg,sub/dir}`` locates files
shipped inside an installed package (the offline MiniLM weights) without hard-coding site-packages.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from lightning_distill.errors import ConfigError
from lightning_distill.metrics import check_search_metrics, optimized

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def package_path(package: str, relative: str = "") -> str:
    if importlib.util.find_spec(package) is None:
        raise ConfigError(
            f"${{package_path:{package},{relative}}}: package {package!r} is not installed. "
            f"Install it (pip install --no-deps {package.replace('_', '-')}) or override the config key "
            "that uses it with a local path."
        )
    return str(importlib.resources.files(package) / relative)


def is_multirun() -> bool:
    """Whether this job is a trial of a multirun (``-m``): search-only behaviour keys off it, and it is
    False wherever Hydra's runtime config is not set (the compose API, tests, plain Python)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def is_search_trial() -> bool:
    """Whether this job is a trial of a search: a multirun whose sweeper chooses the settings (SigOpt, Optuna),
    not Hydra's basic sweeper running a grid the user wrote (``seed=0,1,2``), where every run is wanted whole."""
    from hydra.core.hydra_config import HydraConfig

    return is_multirun() and str(HydraConfig.get().sweeper.get("_target_", "")) != BASIC_SWEEPER


def _search_metrics(metrics: Any) -> list[dict[str, Any]]:
    entries = OmegaConf.to_container(metrics, resolve=True) if isinstance(metrics, (DictConfig, ListConfig)) else metrics
    check_search_metrics(entries)
    return optimized(entries)


def search_objectives(metrics: Any) -> list[str]:
    """``${search_objectives:${search.metrics}}``: the optimized metrics' names, in order, so a preset that takes a
    list of objectives (Optuna's) derives it from the search's one ``metrics`` list instead of naming them again."""
    return [entry["name"] for entry in _search_metrics(metrics)]


def search_directions(metrics: Any) -> list[str]:
    """``${search_directions:${search.metrics}}``: each optimized metric's objective, in the same order."""
    return [entry["objective"] for entry in _search_metrics(metrics)]


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("multirun", is_multirun, replace=True)
    OmegaConf.register_new_resolver("search_trial", is_search_trial, replace=True)
    OmegaConf.register_new_resolver("single_run", lambda: not is_multirun(), replace=True)
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)
    OmegaConf.register_new_resolver("package_path", package_path, replace=True)
    OmegaConf.register_new_resolver("search_objectives", search_objectives, replace=True)
    OmegaConf.register_new_resolver("search_directions", search_directions, replace=True)
