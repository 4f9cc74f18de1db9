"""One resumable queue of cells: what every study's ``run`` is.

A cell is a name, the command(s) that make it and how to tell that it is done: a marker file (``.done``, the
``heldout.json`` its last command writes) or a test of its own files (a sweep that holds its budget). Cells run one
after the other in the order given; a done cell is skipped, so a stopped queue continues where it stopped when it
is started again. Its commands run in order, each only if the one before succeeded (a training run, then its
scoring); a cell whose command fails is reported and not marked done, and the queue goes on to the next cell (or,
with ``stop_on_failure``, stops there). A study's ``run`` takes these options (:func:`add_arguments`)::

    python -m studies.<study> run                  # every cell not done yet, in order
    python -m studies.<study> run --list           # the queue, each cell done or to do; runs nothing
    python -m studies.<study> run --only A B       # only these cells (done ones are still skipped)

Progress goes to standard output, one timestamped line per start, command and end.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from studies.layout import ROOT

DONE = "done"
"""Done before the queue reached it: skipped."""
RAN = "ran"
"""Its commands ran and succeeded."""
FAILED = "failed"
"""A command failed (or, for a cell that ``must_be_done``, it succeeded and the cell is still not done)."""
SKIPPED = "skipped"
"""Not done, and not among ``--only``."""
NOT_REACHED = "not reached"
"""After a failure that stopped the queue."""


@dataclass(frozen=True)
class Cell:
    """One step of a study: a name, its commands, and how to tell that it is done."""

    name: str
    commands: Sequence[Sequence[str]]
    """Run in order from the repository root, each only if the one before succeeded."""
    done: Path | Callable[[], bool]
    """A marker file (the cell is done when it exists) or a test of the cell's files."""
    run_dir: Path | None = None
    """The cell's directory: where ``record_command`` writes and ``restart`` removes."""
    record_command: bool = False
    """Write ``run_dir/command.txt``: the first command, less the interpreter (what to run again by hand)."""
    log: Path | None = None
    """Append the commands' output here; ``None``: this process's standard output and error."""
    restart: bool = False
    """Remove an unfinished ``run_dir`` first: the cell starts from scratch, not from what a stop left."""
    mark_done: bool = False
    """Create the marker file ``done`` once every command succeeded (for commands that write no marker)."""
    must_be_done: bool = False
    """Success that leaves the cell not done counts as a failure (e.g. a search that lost a trial: run again)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment variables set for the commands, over this process's."""
    note: str = ""
    """What ``--list`` and the log show beside the name (its settings)."""

    def is_done(self) -> bool:
        return self.done() if callable(self.done) else self.done.exists()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The queue's options, on a study's ``run`` command."""
    parser.add_argument("--list", action="store_true", help="print the queue, each cell done or to do, and run nothing")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these cells (done ones are still skipped)")


def say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {message}", flush=True)


def check_names(cells: Iterable[Cell], only: Iterable[str] | None) -> None:
    unknown = sorted(set(only or ()) - {cell.name for cell in cells})
    if unknown:
        raise SystemExit(f"--only: no cell named {', '.join(unknown)} (--list shows the queue)")


def listing(cells: Iterable[Cell], only: Iterable[str] | None = None, strict: bool = True) -> list[str]:
    """One line per cell (those of ``only``, if given): done or todo, its name and its note. ``strict``: every name
    in ``only`` must be a cell's (a queue run in parts, e.g. stage by stage, checks its names itself)."""
    cells = list(cells)
    if strict:
        check_names(cells, only)
    return [f"{'done' if cell.is_done() else 'todo'}  {cell.name}{f': {cell.note}' if cell.note else ''}"
            for cell in cells if not only or cell.name in only]  # fmt: skip


def run_cell(cell: Cell, cwd: Path = ROOT) -> bool:
    """Run one cell's commands; whether it succeeded (and, where it must, is done)."""
    if cell.restart and cell.run_dir is not None and cell.run_dir.exists():
        shutil.rmtree(cell.run_dir)
    if cell.record_command:
        if cell.run_dir is None:
            raise ValueError(f"cell {cell.name}: record_command needs a run_dir")
        cell.run_dir.mkdir(parents=True, exist_ok=True)
        (cell.run_dir / "command.txt").write_text(" ".join(cell.commands[0][1:]) + "\n")
    if cell.log is not None:
        cell.log.parent.mkdir(parents=True, exist_ok=True)
    say(f"start {cell.name}{f': {cell.note}' if cell.note else ''}")
    env = os.environ | dict(cell.env) if cell.env else None
    code = 0
    with open(cell.log, "a") if cell.log is not None else nullcontext() as log:
        for command in cell.commands:
            say(f"  $ {shlex.join(command)}")
            code = subprocess.call(list(command), cwd=cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT if log is not None else None)  # fmt: skip
            if code != 0:
                break
    if code != 0:
        say(f"end {cell.name} rc={code}: FAILED, not marked done")
        return False
    if cell.mark_done:
        if callable(cell.done):
            raise ValueError(f"cell {cell.name}: mark_done needs a marker file as done")
        cell.done.touch()
    if cell.must_be_done and not cell.is_done():
        say(f"end {cell.name} rc=0: FAILED, not done yet (run the queue again to continue it)")
        return False
    say(f"end {cell.name} rc=0")
    return True


def run_cells(cells: Iterable[Cell], only: Iterable[str] | None = None, stop_on_failure: bool = False,
              cwd: Path = ROOT, strict: bool = True) -> dict[str, str]:  # fmt: skip
    """Every cell in order, done ones skipped (and, with ``only``, those not named): each cell's name -> what
    became of it (:data:`DONE`, :data:`RAN`, :data:`FAILED`, :data:`SKIPPED` or :data:`NOT_REACHED`). ``strict``:
    as for :func:`listing`."""
    cells = list(cells)
    if strict:
        check_names(cells, only)
    outcome: dict[str, str] = {}
    for cell in cells:
        if FAILED in outcome.values() and stop_on_failure:
            outcome[cell.name] = NOT_REACHED
        elif cell.is_done():
            outcome[cell.name] = DONE
        elif only and cell.name not in only:
            outcome[cell.name] = SKIPPED
        else:
            outcome[cell.name] = RAN if run_cell(cell, cwd) else FAILED
            if outcome[cell.name] == FAILED and stop_on_failure:
                say(f"stopped at {cell.name}: run the queue again to continue")
    return outcome


def run_queue(cells: Iterable[Cell], args: argparse.Namespace, stop_on_failure: bool = False, cwd: Path = ROOT) -> int:
    """A study's ``run``: ``--list``, or the queue; 0 if no cell failed, else 1 (the failed ones are named)."""
    if args.list:
        print("\n".join(listing(cells, args.only)), flush=True)
        return 0
    outcome = run_cells(cells, args.only, stop_on_failure, cwd)
    failed = [name for name, what in outcome.items() if what == FAILED]
    ran = sum(what == RAN for what in outcome.values())
    say(f"queue: {ran} cell(s) ran, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}, "
        f"{sum(what == DONE for what in outcome.values())} done before")  # fmt: skip
    return 1 if failed else 0
