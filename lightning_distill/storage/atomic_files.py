"""Files and directories that appear whole or not at all.

Runs are killed (preemption, OOM, Ctrl-C) and trials share caches, so a half-written metrics file,
predictions file, feature cache or checkpoint must never be visible under its final name: a reader
would take it for the real thing. Everything is written beside its final place and renamed, which
is atomic within one file system.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_text_atomically(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(staging, _FILE_MODE & ~_UMASK)  # mkstemp's 0600 would make every result file private
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def write_json_atomically(path: str | Path, value: Any, *, allow_nan: bool = False) -> None:
    """Strict JSON by default (no NaN), which every JSON reader accepts."""
    write_text_atomically(path, json.dumps(value, ensure_ascii=False, indent=2, allow_nan=allow_nan) + "\n")


_DIRECTORY_MODE = 0o777
_FILE_MODE = 0o666


def _umask() -> int:
    """Read once at import: os.umask can only be read by setting it, which races with other threads."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


@contextmanager
def staged_directory(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty directory beside ``path`` that becomes ``path`` when the block succeeds.

    With ``replace`` an existing ``path`` is swapped out (a newer checkpoint). Without it an
    existing ``path`` wins: another process published the same content-keyed cache first, and
    ours is discarded. A failing block leaves nothing behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    staging.chmod(_DIRECTORY_MODE & ~_UMASK)  # mkdtemp's 0700 would make the published directory private
    try:
        yield staging
        if replace and path.exists():
            shutil.rmtree(path)
        try:
            os.rename(staging, path)
        except OSError:
            if replace or not path.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


MKDTEMP_SUFFIX = re.compile(r"[a-z0-9_]{8}")
"""What ``tempfile.mkdtemp`` appends to a staging directory's prefix (so ``train-ab``'s never matches ``train-ab-c``'s)."""


def remove_stale_staging(path: str | Path) -> int:
    """Delete the staging directories ``staged_directory`` left beside ``path`` when a build was killed (SIGKILL
    skips its ``finally``); how many. Call it only while holding the lock that serializes builds of ``path``: then no
    staging directory of ``path`` belongs to a live build."""
    path = Path(path)
    stale = [entry for entry in path.parent.glob(f".{path.name}-*")
             if entry.is_dir() and MKDTEMP_SUFFIX.fullmatch(entry.name[len(path.name) + 2 :])]  # fmt: skip
    for entry in stale:
        shutil.rmtree(entry, ignore_errors=True)
    return len(stale)


def respect_umask(directory: str | Path) -> None:
    """Give the files a library wrote under ``directory`` the mode the umask asks for.

    transformers 5 writes ``model.safetensors`` through a private temporary file (mode 0600), so a
    checkpoint would be unreadable to the group that shares the sweep directory.
    """
    for path in Path(directory).rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, _FILE_MODE & ~_UMASK)
