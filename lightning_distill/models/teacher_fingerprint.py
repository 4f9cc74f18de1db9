"""A content fingerprint of the configured teacher, computed without loading it.

The teacher-logit cache must never serve logits of another teacher, and a trial that finds the
cache built must not have to load the teacher at all (that is the memory win). So the fingerprint
is taken from files, not from a loaded state dict:

- a checkpoint teacher (``teacher.name_or_path``, local directory or hub id resolved through the
  local Hugging Face cache): SHA-256 of ``config.json`` and of every weight file's *content*
  (``*.safetensors``, ``*.bin``, sharded indexes), plus the other teacher settings. The path
  itself is left out, so a copied or moved checkpoint keeps its cache, and a checkpoint
  overwritten in place (same path, new weights) gets a new one. Hashing reads the weights once
  per process (about 1 s for BERT-base's 440 MB); results are memoized by (path, size, mtime).
- a generated teacher (no ``name_or_path``, e.g. ``teacher=tiny_random``): the resolved teacher
  config (its ``_target_`` and every argument, including the seed) plus the torch and
  transformers versions, since the generated weights depend on their RNG and init code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers.utils import CONFIG_NAME, cached_file

from lightning_distill.errors import CheckpointError

WEIGHT_FILE_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
HASH_CHUNK_BYTES = 1 << 22


def teacher_fingerprint(teacher_config: Mapping[str, Any]) -> str:
    """SHA-256 hex digest identifying what the configured teacher computes (see module doc)."""
    settings = {key: value for key, value in teacher_config.items() if key != "name_or_path"}
    name_or_path = teacher_config.get("name_or_path")
    if name_or_path:
        identity: dict[str, Any] = {"settings": settings, "files": checkpoint_file_digests(str(name_or_path))}
    else:
        identity = {"settings": settings, "torch": torch.__version__, "transformers": transformers.__version__}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def checkpoint_file_digests(name_or_path: str) -> dict[str, str]:
    """{file name: sha256} of a checkpoint's config and weights (local dir or locally cached hub id)."""
    directory = _checkpoint_directory(name_or_path)
    files = sorted({path for pattern in WEIGHT_FILE_PATTERNS for path in directory.glob(pattern)})
    if not files:
        raise CheckpointError(
            f"teacher.name_or_path={name_or_path!r}: no weight files ({', '.join(WEIGHT_FILE_PATTERNS)}) in "
            f"{directory}. Give a directory holding config.json and model weights."
        )
    return {path.name: _file_digest(path) for path in [directory / CONFIG_NAME, *files]}


def _checkpoint_directory(name_or_path: str) -> Path:
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        if not (local / CONFIG_NAME).is_file():
            raise CheckpointError(f"teacher.name_or_path={name_or_path!r} has no {CONFIG_NAME}: not a checkpoint.")
        return local
    try:  # a hub id: its snapshot directory in the local Hugging Face cache (downloaded if allowed)
        config = cached_file(name_or_path, CONFIG_NAME)
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"teacher.name_or_path={name_or_path!r} cannot be located ({str(error).splitlines()[0]}). Give an "
            "existing local directory or a hub id available in the local cache."
        ) from None
    return Path(config).parent


def _file_digest(path: Path) -> str:
    resolved = path.resolve()
    stat = resolved.stat()
    return _digest(str(resolved), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
