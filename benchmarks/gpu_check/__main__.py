"""``python3 -m benchmarks.gpu_check [--prepare | --dry-run] [--out DIR]`` (``benchmarks/gpu_check.sh`` wraps it).

``--prepare``: here, before a device call: copy the shared files, check wheels and size.
(no flag): on the device: install, throughput, train_run, cuda_oom (ray_trials is reported as skipped).
``--dry-run``: the same steps on CPU at toy size (``profiles.dry_run``).
``--only STEP [STEP ...]``: a rerun of some steps (install runs first anyway, on the device: a fresh
scratch folder per run). SIGTERM / Ctrl-C end the running command's process group and still write
``summary.md``, the steps not reached marked as such.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.gpu_check.carry import copy_squad_files, copy_tokenizer, prepare
from benchmarks.gpu_check.install import install
from benchmarks.gpu_check.measurements import cuda_oom, skipped_step, throughput, train_run
from benchmarks.gpu_check.runner import CheckInterrupted, run_step
from benchmarks.gpu_check.settings import Settings, make_settings
from benchmarks.gpu_check.summary import write_summary

DEFAULT_OUT = "gpu_check_out"


def steps(settings: Settings) -> dict[str, Callable[[], dict[str, Any]]]:
    """The steps in order; the skipped ones (``skipped_steps``) still get their file, saying why."""
    measured = {"install": install, "throughput": throughput, "train_run": train_run, "cuda_oom": cuda_oom}
    named = {name: partial(function, settings) for name, function in measured.items()}
    skipped = {name: skipped_step(reason) for name, reason in settings.config.get("skipped_steps", {}).items()}
    return {**named, **skipped}


def selected(all_steps: dict[str, Callable[[], dict[str, Any]]], only: list[str] | None, settings: Settings) -> dict:
    """``--only``'s steps in their usual order, install first where the profile installs (its site folder
    is per run)."""
    if not only:
        return all_steps
    unknown = sorted(set(only) - set(all_steps))
    if unknown:
        raise SystemExit(f"--only: unknown step(s) {unknown}; the steps are {list(all_steps)}")
    keep = set(only) | ({"install"} if settings.profile.get("install") else set())
    return {name: step for name, step in all_steps.items() if name in keep}


def _interrupt(signum: int, _frame: Any) -> None:
    raise CheckInterrupted(signal.Signals(signum).name)


def run_all(chosen: dict[str, Callable[[], dict[str, Any]]], settings: Settings) -> dict[str, dict[str, Any]]:
    """Every chosen step's record; after SIGTERM / SIGINT the rest are recorded as not run."""
    records: dict[str, dict[str, Any]] = {}
    for name, step in chosen.items():
        try:
            records[name] = run_step(name, step, settings)
        except CheckInterrupted as stopped:
            note = f"the check was stopped ({stopped}) during step {name}"
            records[name] = {"step": name, "status": "failed", "error": note, "seconds": 0.0}
            for rest in list(chosen)[list(chosen).index(name) + 1 :]:
                records[rest] = {"step": rest, "status": "skipped", "reason": f"not run: {note}", "seconds": 0.0}
            break
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--prepare", action="store_true", help="copy shared files, check wheels and the travelling size")
    mode.add_argument("--dry-run", action="store_true", help="every step on CPU at toy size")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or DEFAULT_OUT),
                        help=f"results folder (default: $OUT, else ./{DEFAULT_OUT})")
    parser.add_argument("--only", nargs="+", metavar="STEP", help="run only these steps (a rerun of failed ones)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the shared files are copied to / read from (default: work_dir of the config)")
    args = parser.parse_args(argv)
    settings = make_settings("dry_run" if args.dry_run else "device", args.out, work_dir=args.work_dir)
    if args.prepare:
        prepare(settings)
        return 0
    if args.dry_run:  # here, with ../shared at hand: copy what the steps read (the device run carries --prepare's copy)
        copy_squad_files(settings)
        copy_tokenizer(settings)
    chosen = selected(steps(settings), args.only, settings)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    start = time.perf_counter()
    records = run_all(chosen, settings)
    print(write_summary(records, settings, time.perf_counter() - start))
    return 0 if all(record["status"] != "failed" for record in records.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
