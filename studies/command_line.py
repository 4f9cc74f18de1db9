"""A study's command line: ``python -m studies.<study> run`` (its queue) and ``summarize`` (its published tables)."""

from __future__ import annotations

import argparse
from pathlib import Path

from studies import cell_queue
from studies.layout import ROOT


def shown(path: Path) -> str:
    """A path as a command line or a help text names it: relative to the repository where it is inside."""
    return str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) else str(path)


def study_parser(module: str, doc: str, *, run: str | None, summarize: str, outputs: Path, results: Path,
                 outputs_flag: str = "--outputs") -> tuple[argparse.ArgumentParser, argparse.ArgumentParser | None,
                                                           argparse.ArgumentParser]:  # fmt: skip
    """The parser (its description: the module's docstring) and its ``run`` (with the queue's ``--list`` and
    ``--only``; none for ``run=None``) and ``summarize`` commands; ``summarize`` reads the runs from
    ``outputs_flag`` (``args.outputs``) and writes into ``--results-dir`` (``args.results_dir``). Each command's own
    options go on the parsers returned."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = None
    if run is not None:
        run_parser = commands.add_parser("run", help=run)
        cell_queue.add_arguments(run_parser)
    report = commands.add_parser("summarize", help=summarize)
    report.add_argument(outputs_flag, dest="outputs", type=Path, default=outputs, metavar="DIR",
                        help=f"where the runs are (default: {shown(outputs)})")  # fmt: skip
    report.add_argument("--results-dir", type=Path, default=results, metavar="DIR",
                        help=f"where the results go (default: {shown(results)})")  # fmt: skip
    return parser, run_parser, report
