"""Command line of ``lightning_distill.export`` (see the package docstring and README "Use your student").

Bad input is one line naming the path or flag and exit code 2, before any work is done where it
can be checked up front (flags, the student, the output directory). The output is written into a
staging directory and renamed, so ``--out`` holds a whole export or nothing new.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lightning_distill.config.checks import require_integer
from lightning_distill.errors import USER_ERROR_EXIT_CODE, ConfigError, ExportError, LightningDistillError
from lightning_distill.export.exporter import REPORT_FILE, ExportSettings, export_student
from lightning_distill.export.onnx_model import INT8_GRANULARITIES
from lightning_distill.export.run_directory import read_run_inputs
from lightning_distill.storage.atomic_files import staged_directory, write_json_atomically

FORMATS = ("onnx", "pytorch")
QUANTIZATIONS = ("int8",)
MIN_RECOMMENDED_RUNS = 50

log = logging.getLogger("lightning_distill.export")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lightning_distill.export",
        description="Export a run's student (ONNX, optionally int8) with parity, exact/f1 and latency checks.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run directory of train.py (or its student/)")
    parser.add_argument("--format", required=True, choices=FORMATS, help="onnx, or pytorch (a portable HF checkpoint)")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, help="also write a dynamic int8 model (needs --format onnx)")
    parser.add_argument(
        "--int8-granularity", choices=INT8_GRANULARITIES, default="per_channel",
        help="int8 weight scales per output channel (default; keeps accuracy) or per tensor",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory (new, empty, or an earlier export)")
    parser.add_argument("--eval-file", action="append", help="score on this SQuAD 2.0 file (default: the run's eval files)")
    parser.add_argument("--max-eval-examples", type=int, help="score on a seeded subset of this many questions")
    parser.add_argument("--eval-batch-size", type=int, default=32)
    parser.add_argument("--latency-runs", type=int, default=MIN_RECOMMENDED_RUNS, help="timed runs per shape (default 50)")
    parser.add_argument("--latency-warmup", type=int, default=10, help="untimed runs first (default 10)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch and onnxruntime (default: their own)")
    return parser


def check_arguments(args: argparse.Namespace) -> None:
    if args.quantize and args.format != "onnx":
        raise ExportError(f"--quantize {args.quantize} needs --format onnx (got --format {args.format}).")
    try:
        for flag, value, minimum in (
            ("--eval-batch-size", args.eval_batch_size, 1),
            ("--latency-runs", args.latency_runs, 1),
            ("--latency-warmup", args.latency_warmup, 0),
            ("--threads", args.threads, 1),
            ("--max-eval-examples", args.max_eval_examples, 1),
        ):
            if value is not None:  # an optional flag left out
                require_integer(flag, value, minimum=minimum)
    except ConfigError as error:  # the project's range checks, for flags instead of config keys
        raise ExportError(str(error)) from None
    if args.latency_runs < MIN_RECOMMENDED_RUNS:
        log.warning("--latency-runs=%d: fewer than %d runs make p90 unreliable.", args.latency_runs, MIN_RECOMMENDED_RUNS)
    check_output_directory(args.out)


def check_output_directory(out: Path) -> None:
    """Refuse before any work: an ``--out`` that cannot be written, or that holds something else."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {str(out)!r} is a file; give a directory.")
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT_FILE).is_file():
        raise ExportError(f"--out {str(out)!r} is not empty and holds no earlier export; choose a new directory.")
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        reason = "is not a directory" if existing is not None and not existing.is_dir() else "is not writable"
        raise ExportError(f"--out {str(out)!r} cannot be written ({str(existing)!r} {reason}); choose another directory.")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("lightning_distill").setLevel(logging.INFO)  # not the exporters' per-node chatter
    args = _parser().parse_args(argv)
    try:
        check_arguments(args)
        inputs = read_run_inputs(
            args.run_dir, args.eval_file, args.max_eval_examples, needs_eval=args.format == "onnx"
        )
        settings = ExportSettings(
            format=args.format,
            quantize=args.quantize,
            int8_granularity=args.int8_granularity,
            eval_batch_size=args.eval_batch_size,
            latency_warmup=args.latency_warmup,
            latency_runs=args.latency_runs,
            threads=args.threads,
        )
        with staged_directory(args.out, replace=True) as staging:
            report = export_student(inputs, staging, settings)
            write_json_atomically(staging / REPORT_FILE, report)
    except LightningDistillError as error:
        print(f"error: {error}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    except OSError as error:
        print(f"error: --out {str(args.out)!r}: {error}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    print(json.dumps(_summary(report), indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _summary(report: dict) -> dict:
    """The headline of the report for the terminal; the file has everything."""
    keys = ("parity", "metrics", "int8_change", "size_bytes")
    return {key: report[key] for key in keys if key in report}


if __name__ == "__main__":
    sys.exit(main())
