"""One sweep per directory: an exclusive lock on the sweep directory, held for the sweep's life.

Two processes on one sweep directory (a sweep in the background and the same command with
``resume=true``) would both suggest trial numbers, train into the same trial folders and overwrite
each other's result files. ``fcntl.flock`` on ``.sweep.lock`` is released by the kernel when the
holding process dies however it dies (SIGKILL, OOM killer, power loss of a local disk), so a
crashed sweep never blocks its own resume, and no stale-lock heuristics are needed. The holder
writes its pid, host and start time into the file, for the refusal to name.

``flock`` is advisory and per open file: it holds between processes on one machine and on most
network file systems that support it (NFSv4 maps it to byte-range locks); a sweep directory on a
file system without locking support fails with one clear error instead of running unguarded.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

from typing_extensions import Self

from hydra_plugins.sigopt_sweeper._settings import SweepConfigError

LOCK_NAME = ".sweep.lock"


_HELD: set[int] = set()
"""Descriptors of the sweep locks this process holds."""


def _close_in_child() -> None:
    """A forked child (a trial's DataLoader worker) shares the lock's open file, and an ``flock`` lasts while any
    descriptor of it is open: an orphaned worker of a killed sweep would keep the directory locked (naming a dead
    pid) until it died. The child points its copy at /dev/null at once (the descriptor number stays valid for the
    file object that owns it); the parent's keeps the lock."""
    if not _HELD:
        return
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in _HELD:
        try:
            os.dup2(null, descriptor)
        except OSError:
            pass
    os.close(null)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


class SweepLockedError(SweepConfigError):
    """Another live process holds this sweep directory."""


class SweepLock:
    """``with SweepLock(sweep_dir):`` the body runs as the directory's only sweep, or raises ``SweepLockedError``."""

    def __init__(self, sweep_dir: Path) -> None:
        self.path = Path(sweep_dir) / LOCK_NAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle)
            handle.close()
            raise SweepLockedError(_refusal(self.path.parent, holder)) from None
        except OSError as error:
            handle.close()
            raise SweepConfigError(
                f"cannot lock {self.path} ({error.strerror}): the sweep directory's file system does not support "
                "locks, so a second sweep could not be kept out. Put hydra.sweep.dir on a local or lock-capable disk."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}) + "\n")
        handle.flush()
        self._handle = handle
        _HELD.add(handle.fileno())

    def release(self) -> None:
        if self._handle is not None:
            _HELD.discard(self._handle.fileno())
            self._handle.close()  # closing the last descriptor releases the flock
            self._handle = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def check_unlocked(sweep_dir: Path) -> None:
    """Fail fast (before any shared data is prepared) if a live sweep holds ``sweep_dir``; takes no lock."""
    path = Path(sweep_dir) / LOCK_NAME
    if not path.is_file():
        return
    with path.open("r", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepLockedError(_refusal(path.parent, _read_holder(handle))) from None
        except OSError:
            return  # no lock support: the sweep's own acquire says so
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read_holder(handle: IO[str]) -> dict[str, Any]:
    handle.seek(0)
    try:
        holder = json.loads(handle.read() or "{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _refusal(sweep_dir: Path, holder: dict[str, Any]) -> str:
    who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
    since = holder.get("since")
    if isinstance(since, (int, float)):
        who += f", since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}"
    return (
        f"another sweep ({who}) is running in {sweep_dir}; two sweeps in one directory would train the same "
        "trials and overwrite each other's results. Wait for it to finish (or stop it: Ctrl-C or kill), then "
        "rerun with hydra.sweeper.resume=true; or choose another hydra.sweep.dir. A sweep that died holds no lock."
    )
