"""Fingerprints of what every trial of a search reads, for the sweeper's resume check (``hydra.sweeper.inputs``).

A sweep resumed after its data directory changed (``LIGHTNING_DISTILL_SQUAD_DIR``) or its teacher was replaced would
mix trials trained and scored on different inputs into one front. ``conf/hydra/sweeper/sigopt.yaml`` sets
``inputs: {data: ${data_fingerprint:${data}}, teacher: ${teacher_fingerprint:${teacher}}}``: resolved when the sweep
starts, journaled in its header, and compared on resume by the plugin (which names what changed).

Content, not paths: a moved copy of the same files resumes, a file edited in place does not. The heavy imports
(file hashing, the teacher's fingerprint) happen inside the resolvers, so registering them costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

NO_TEACHER = "none"


def _container(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else node


def _files(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(value)] if isinstance(value, str) else [str(item) for item in value]


def data_fingerprint(data: Any) -> str:
    """The train and eval files' content (local files), or the hub dataset and splits (``data.hub_dataset``)."""
    from lightning_distill.data.squad_reader import fingerprint_files

    settings: Mapping[str, Any] = _container(data) or {}
    parts = []
    for split in ("train", "eval"):
        files = _files(settings.get(f"{split}_files"))
        if files:
            parts.append(f"{split}:{fingerprint_files(files)[:16]}")
        else:
            parts.append(f"{split}:hub:{settings.get('hub_dataset')}:{settings.get(f'hub_{split}_split')}")
    return " ".join(parts)


def teacher_fingerprint(teacher: Any) -> str:
    """The configured teacher's content fingerprint and how it is fed (``teacher.segment_ids``); ``none`` without."""
    from lightning_distill.models.teacher_fingerprint import teacher_fingerprint as fingerprint
    from lightning_distill.training.teacher_setup import SEGMENT_IDS_KEY, TEACHER_SETTINGS

    settings: Mapping[str, Any] | None = _container(teacher)
    if not settings:
        return NO_TEACHER
    loader = {key: value for key, value in settings.items() if key not in TEACHER_SETTINGS}
    return f"{fingerprint(loader)[:16]} segment_ids={settings.get(SEGMENT_IDS_KEY, 'tokenizer')}"


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("data_fingerprint", data_fingerprint, replace=True)
    OmegaConf.register_new_resolver("teacher_fingerprint", teacher_fingerprint, replace=True)
