"""Caches that prove themselves: a manifest of every file's size and SHA-256, checked on open.

The features cache and the teacher-logit cache are content-keyed: a key says *what* a directory
should hold, not that its bytes still do. A cache zeroed, truncated or partly overwritten (a full
disk, a copy interrupted, a bad sector, a hand edit) otherwise reads as valid data: trials train on
garbage and blame their settings ("non-finite loss: learning rate too high?"). The manifest is
written last, inside the staged directory, so a published cache always has one; a directory
without it (an older format, or a copy that never finished) counts as damaged.

Hashing reads every byte once per open: ~0.1 s for the offline presets' caches (~10-50 MB),
about a second for full SQuAD 2.0's, against minutes of training per trial.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lightning_distill.errors import DataError

MANIFEST_NAME = "manifest.json"
CHUNK_BYTES = 1 << 22


class CacheDamagedError(DataError):
    """A cache directory's files are not the ones its manifest lists (the sweeper requeues, not blames the trial)."""

    sweep_infrastructure_failure = True
    """A search re-runs a trial that met a damaged shared cache rather than observe it as failed: the cache is
    rebuilt, the settings were not at fault (``hydra_plugins.sigopt_sweeper.api.INFRASTRUCTURE_MARKER``)."""


def write_manifest(directory: Path) -> None:
    """List every regular file under ``directory`` with its size and SHA-256 (call after the last write)."""
    directory = Path(directory)
    files = {
        str(path.relative_to(directory)): {"size": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }
    (directory / MANIFEST_NAME).write_text(json.dumps({"files": files}, indent=2, sort_keys=True) + "\n")


def damage(directory: Path) -> str | None:
    """What is wrong with ``directory`` against its manifest (naming the file), or None if it is intact."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_NAME
    try:
        listed = json.loads(manifest_path.read_text())["files"]
    except FileNotFoundError:
        return f"{manifest_path} is missing (an unfinished copy, or a cache of an older format)"
    except (ValueError, KeyError, TypeError) as error:
        return f"{manifest_path} is unreadable ({error})"
    for name, expected in listed.items():
        path = directory / name
        if not path.is_file():
            return f"{path} is missing"
        size = path.stat().st_size
        if size != expected.get("size"):
            return f"{path} has {size} bytes, its manifest says {expected.get('size')} (truncated or overwritten)"
        if file_sha256(path) != expected.get("sha256"):
            return f"{path} does not match its manifest's SHA-256 (its bytes changed: zeroed, overwritten or corrupt)"
    return None


def verify(directory: Path, what: str) -> None:
    """Raise ``CacheDamagedError`` naming the damaged file of the ``what`` cache in ``directory``."""
    problem = damage(directory)
    if problem is not None:
        raise CacheDamagedError(
            f"the {what} at {directory} is damaged: {problem}. Delete the directory; the next run (or the sweep's "
            "start) rebuilds it."
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
