"""Running the check's steps: each isolated, timed, and written to ``$OUT/<step>.json``.

A step is a function returning a JSON-ready result; ``StepFailed`` (or any exception) marks it
failed with its message, ``StepSkipped`` marks it skipped, and the next step runs either way: on a
15-minute device lease one broken step must not cost the others' numbers. Commands run in their own
process group (not their own session: the device tool ends a command's leftover processes unless they
start a new session), so a timeout, or the check itself being stopped, ends a whole sweep (its trials
included), not just the parent. Every command's timeout is cut to what is left of the profile's
``deadline_s``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.gpu_check.settings import REPO_ROOT, Settings

OUTPUT_TAIL_CHARS = 4000
KILL_GRACE_S = 5
# Its own process group, in the caller's session (Popen's process_group needs Python 3.11).
NEW_GROUP = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}


class StepFailed(Exception):
    """The step ran and its check failed (the message says which and why)."""


class StepSkipped(Exception):
    """The step cannot run here (the message says why and what would let it run)."""


class CheckInterrupted(BaseException):
    """SIGTERM / SIGINT: the running command's group is ended and the summary still written."""


@dataclass
class CommandResult:
    returncode: int
    output: str
    seconds: float
    timed_out: bool

    def tail(self) -> str:
        return self.output[-OUTPUT_TAIL_CHARS:]

    def check(self, what: str) -> None:
        """Raise ``StepFailed`` naming ``what`` if the command timed out or exited non-zero."""
        if self.timed_out:
            raise StepFailed(f"{what}: timed out after {self.seconds:.0f} s (raise its timeout_s in "
                             f"benchmarks/conf/gpu_check.yaml)\n{self.tail()}")
        if self.returncode != 0:
            raise StepFailed(f"{what}: exit code {self.returncode}\n{self.tail()}")


def run_command(command: Sequence[str], settings: Settings, env: dict[str, str], timeout_s: float) -> CommandResult:
    """Run ``command`` from the repository root; its output is appended to ``$OUT/gpu_check.log``."""
    left = settings.seconds_left()
    if left is not None and left <= 0:
        raise StepFailed(f"{command[1] if len(command) > 1 else command[0]}: not started, the profile's deadline_s "
                         "is spent (benchmarks/conf/gpu_check.yaml)")
    timeout_s = timeout_s if left is None else min(timeout_s, left)
    log_path = settings.out_dir / "gpu_check.log"
    start = time.perf_counter()
    with log_path.open("a") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(list(command), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, **NEW_GROUP)
        try:
            output, _ = process.communicate(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(process)
            output, _ = process.communicate()
            timed_out = True
        except BaseException:
            _kill_group(process)
            raise
        log.write(output)
    return CommandResult(process.returncode, output, time.perf_counter() - start, timed_out)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the group is gone already
        pass


def run_step(name: str, function: Callable[[], dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """Run one step and write ``$OUT/<name>.json``: ``status`` ok / failed / skipped, ``seconds``, ``result`` or ``error``."""
    print(f"== gpu check step {name}", flush=True)
    start = time.perf_counter()
    record: dict[str, Any] = {"step": name}
    try:
        record.update(status="ok", result=function())
    except StepSkipped as skipped:
        record.update(status="skipped", reason=str(skipped))
    except StepFailed as failed:
        record.update(status="failed", error=str(failed))
    except Exception:  # noqa: BLE001 - any bug in a step is that step's failure, not the check's
        record.update(status="failed", error=traceback.format_exc()[-OUTPUT_TAIL_CHARS:])
    record["seconds"] = round(time.perf_counter() - start, 1)
    (settings.out_dir / f"{name}.json").write_text(json.dumps(record, indent=2, default=str))
    print(f"== {name}: {record['status']} in {record['seconds']} s"
          + (f": {(record.get('error') or record.get('reason', '')).splitlines()[0]}" if record["status"] != "ok" else ""),
          flush=True)
    return record
