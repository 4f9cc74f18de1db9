"""The studies package: one resumable queue of cells, runnable modules, and only the library's public names.

The queue is tested with trivial commands (``python -c`` writing a marker), never a training run; the modules by
their ``--help`` and their ``--list`` (which runs nothing); the imports statically, on the source.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import studies
from studies import cell_queue
from studies.cell_queue import DONE, FAILED, NOT_REACHED, RAN, SKIPPED, Cell

REPO_ROOT = Path(__file__).resolve().parent.parent
STUDIES = REPO_ROOT / "studies"
MODULES = sorted(info.name for info in pkgutil.iter_modules(studies.__path__))


# --- the queue ------------------------------------------------------------------------------------------------------


def step(tmp_path: Path, name: str, fail: bool = False, **settings) -> Cell:
    """A cell whose command appends its name to order.txt and, unless it fails, writes its marker."""
    marker = tmp_path / name / "marker"
    code = (f"import pathlib; open({str(tmp_path / 'order.txt')!r}, 'a').write({name!r} + '\\n'); "
            + ("raise SystemExit(3)" if fail else f"p = pathlib.Path({str(marker)!r}); p.parent.mkdir(exist_ok=True); p.touch()"))  # fmt: skip
    return Cell(name, [[sys.executable, "-c", code]], done=marker, **settings)


def order(tmp_path: Path) -> list[str]:
    path = tmp_path / "order.txt"
    return path.read_text().split() if path.is_file() else []


def queue_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cell_queue.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cells_run_in_order_and_a_second_run_skips_the_done_ones(tmp_path, capsys):
    cells = [step(tmp_path, name) for name in ("c", "a", "b")]
    assert cell_queue.run_cells(cells, cwd=tmp_path) == {"c": RAN, "a": RAN, "b": RAN}
    assert order(tmp_path) == ["c", "a", "b"]
    assert cell_queue.run_cells(cells, cwd=tmp_path) == {"c": DONE, "a": DONE, "b": DONE}
    assert order(tmp_path) == ["c", "a", "b"]  # nothing ran again
    log = capsys.readouterr().out
    assert re.search(r"^\S+Z start c$", log, re.MULTILINE) and re.search(r"^\S+Z end b rc=0$", log, re.MULTILINE)


def test_a_failed_cell_is_reported_not_marked_done_and_the_queue_goes_on(tmp_path, capsys):
    cells = [step(tmp_path, "a"), step(tmp_path, "broken", fail=True), step(tmp_path, "c")]
    assert cell_queue.run_queue(cells, queue_args(), cwd=tmp_path) == 1
    assert order(tmp_path) == ["a", "broken", "c"]
    assert not cells[1].is_done() and cells[2].is_done()
    log = capsys.readouterr().out
    assert "end broken rc=3: FAILED, not marked done" in log and "1 failed: broken" in log
    # the next run tries the failed cell again, and only it
    assert cell_queue.run_cells(cells, cwd=tmp_path) == {"a": DONE, "broken": FAILED, "c": DONE}


def test_stop_on_failure_leaves_the_rest_for_the_next_run(tmp_path, capsys):
    cells = [step(tmp_path, "broken", fail=True), step(tmp_path, "b")]
    assert cell_queue.run_cells(cells, stop_on_failure=True, cwd=tmp_path) == {"broken": FAILED, "b": NOT_REACHED}
    assert order(tmp_path) == ["broken"]
    assert "stopped at broken: run the queue again to continue" in capsys.readouterr().out


def test_a_cells_later_commands_run_only_after_the_earlier_succeed(tmp_path):
    marker = tmp_path / "scored"
    train_fails = Cell("x", [[sys.executable, "-c", "raise SystemExit(1)"], [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]],
                       done=marker)  # fmt: skip
    assert cell_queue.run_cells([train_fails], cwd=tmp_path) == {"x": FAILED}
    assert not marker.exists()
    trains = Cell("x", [[sys.executable, "-c", "pass"], [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]], done=marker)
    assert cell_queue.run_cells([trains], cwd=tmp_path) == {"x": RAN} and marker.exists()


def test_only_runs_the_named_cells_and_rejects_unknown_names(tmp_path):
    cells = [step(tmp_path, name) for name in ("a", "b", "c")]
    assert cell_queue.run_queue(cells, queue_args("--only", "c", "a"), cwd=tmp_path) == 0
    assert order(tmp_path) == ["a", "c"]  # in the queue's order, not --only's
    assert cell_queue.run_cells(cells, ["b"], cwd=tmp_path) == {"a": DONE, "b": RAN, "c": DONE}
    assert cell_queue.run_cells([step(tmp_path, "d")], ["d"], cwd=tmp_path) == {"d": RAN}
    assert cell_queue.run_cells([step(tmp_path, "e")], ["a"], cwd=tmp_path, strict=False) == {"e": SKIPPED}
    with pytest.raises(SystemExit, match="no cell named nope"):
        cell_queue.run_queue(cells, queue_args("--only", "nope"), cwd=tmp_path)


def test_list_shows_the_queue_and_what_is_done_and_runs_nothing(tmp_path, capsys):
    cells = [step(tmp_path, "a", note="seed=1"), step(tmp_path, "b", note="seed=2"), step(tmp_path, "c")]
    cell_queue.run_cells(cells[:1], cwd=tmp_path)
    capsys.readouterr()
    assert cell_queue.run_queue(cells, queue_args("--list"), cwd=tmp_path) == 0
    assert capsys.readouterr().out.splitlines() == ["done  a: seed=1", "todo  b: seed=2", "todo  c"]
    assert order(tmp_path) == ["a"]
    assert cell_queue.listing(cells, ["c"]) == ["todo  c"]


def test_a_cell_records_its_command_logs_its_output_and_restarts_from_scratch(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "left-by-a-stop").parent.mkdir()
    (run_dir / "left-by-a-stop").touch()
    command = [sys.executable, "-c", "import sys; print('to the log'); print('err', file=sys.stderr)"]
    cell = Cell("r", [command], done=run_dir / ".done", run_dir=run_dir, record_command=True,
                log=run_dir / "driver.log", restart=True, mark_done=True)  # fmt: skip
    assert cell_queue.run_cells([cell], cwd=tmp_path) == {"r": RAN}
    assert not (run_dir / "left-by-a-stop").exists()
    assert (run_dir / ".done").exists()  # mark_done: the commands write no marker of their own
    assert (run_dir / "command.txt").read_text() == " ".join(command[1:]) + "\n"
    assert (run_dir / "driver.log").read_text().split() == ["to", "the", "log", "err"]


def test_a_cell_that_must_be_done_fails_when_its_commands_leave_it_unfinished(tmp_path, capsys):
    cell = Cell("sweep", [[sys.executable, "-c", "pass"]], done=lambda: False, must_be_done=True,
                env={"STUDIES_TEST": "1"})  # fmt: skip
    assert cell_queue.run_cells([cell], cwd=tmp_path) == {"sweep": FAILED}
    assert "FAILED, not done yet" in capsys.readouterr().out


# --- the modules ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports_and_its_help_exits_0(name, capsys):
    module = importlib.import_module(f"studies.{name}")
    if not hasattr(module, "main"):
        return  # a shared module (the queue, the layout, the tables): no command of its own
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert f"python -m studies.{name}" in usage
    commands = re.search(r"\{([a-z_,-]+)\}", usage.splitlines()[0])  # run, summarize
    for command in commands.group(1).split(",") if commands else []:
        with pytest.raises(SystemExit) as exit_:
            module.main([command, "--help"])
        assert exit_.value.code == 0


def test_the_queues_list_their_cells_and_run_nothing(tmp_path, capsys, monkeypatch):
    from studies import early_stopping, offline_students, search_comparison_real, shrink

    assert shrink.main(["run", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(shrink.cells()) and listed[0].endswith("teacher-untrained: +trainer.max_steps=0")
    assert all(cell.done == cell.run_dir / "heldout.json" and cell.record_command for cell in shrink.queue())
    assert early_stopping.main(["run", "--list"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(early_stopping.cells())
    assert offline_students.main(["run", "--list", "--out", str(tmp_path / "students")]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [f"todo  pilot-layers/{rule}: " + " ".join(
        [*offline_students.PILOT, "student.n_layers=3", "teacher=none", offline_students.TEACHER_SEED,
         f"student.layer_seeding={rule}", "seed=1"]) for rule in offline_students.LAYER_RULES]  # fmt: skip
    monkeypatch.setattr(search_comparison_real, "OUT", tmp_path / "real")
    assert search_comparison_real.PAID.is_file()  # published: --list does not write it
    assert search_comparison_real.main(["run", "--list"]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == [
        "todo  warm-random", *(f"todo  {s}-seed{seed}" for seed in (1, 2) for s in ("lite", "random", "motpe"))]


# --- public names only ----------------------------------------------------------------------------------------------


def violations(source: str, filename: str = "<probe>") -> list[str]:
    """Private library names, private plugin modules and sys.path changes in one module's source."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        names = []  # what is imported, in full: module.name
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "lightning_distill" and any(part.startswith("_") for part in parts):
                found.append(f"line {node.lineno}: {name} is private to the library")
            if parts[0] == "hydra_plugins" and (parts[:3] != ["hydra_plugins", "sigopt_sweeper", "api"]
                                                or any(part.startswith("_") for part in parts[3:])):  # fmt: skip
                found.append(f"line {node.lineno}: {name} is not of hydra_plugins.sigopt_sweeper.api")
            if name == "sys.path":
                found.append(f"line {node.lineno}: imports sys.path")
        if isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) and node.value.id == "sys":
            found.append(f"line {node.lineno}: touches sys.path")
    return found


@pytest.mark.parametrize("path", sorted(STUDIES.rglob("*.py")), ids=lambda path: path.name)
def test_studies_use_only_public_names_and_leave_sys_path_alone(path: Path):
    assert violations(path.read_text(), str(path)) == []


def test_the_check_sees_what_it_is_for():
    source = ("import sys\n"
              "from lightning_distill.export.exporter import _metrics\n"
              "def f():\n"
              "    from lightning_distill._private import thing\n"
              "    from hydra_plugins.sigopt_sweeper._journal import x\n"
              "    import hydra_plugins.sigopt_sweeper._trial\n"
              "    from hydra_plugins.sigopt_sweeper.api import read_sweep\n"
              "    from lightning_distill.search.report import load_sweep\n"
              "    from hydra_plugins.sigopt_sweeper import api\n"
              "    from sys import path\n"
              "    sys.path.insert(0, '.')\n")  # fmt: skip
    found = violations(source)
    assert sorted(int(line.split(":")[0].split()[1]) for line in found) == [2, 4, 5, 6, 10, 11], found
