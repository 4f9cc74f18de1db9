"""Issue 35, target 2: the library's packages form floors, and no import runs back up.

Each package may import only from its own floor's package or from floors below it, so each can be read (and
tested) knowing only what is under it: SQuAD scoring under the callbacks and export that use it, the teacher-logit
cache in the data layer that reads it, search analysis on top where nothing imports it. Checked on the source,
statically, including imports inside functions (a lazy import is still an arrow).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LIBRARY = REPO_ROOT / "lightning_distill"

# Lowest first. ``errors`` and ``metrics`` are the shared vocabulary (root modules); the root ``__init__`` only
# registers the config resolvers.
FLOORS = (
    "errors",
    "metrics",
    "config",
    "storage",
    "portable",
    "models",
    "data",
    "squad",
    "export",
    "callbacks",
    "loggers",
    "training",
    "search",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> list[tuple[int, str]]:
    """Every ``lightning_distill`` module the file imports, relative imports resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names] if not node.module else []
            found.append((node.lineno, module))
    return [(line, name) for line, name in found if name.split(".")[0] == "lightning_distill"]


def floor_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def library_files() -> list[Path]:
    return sorted(LIBRARY.rglob("*.py"))


def test_every_package_and_root_module_has_a_floor():
    names = {path.relative_to(LIBRARY).parts[0].removesuffix(".py") for path in library_files()}
    assert names - {"__init__"} <= set(FLOORS), f"place {sorted(names - set(FLOORS) - {'__init__'})} in FLOORS"


@pytest.mark.parametrize("path", library_files(), ids=lambda path: str(path.relative_to(LIBRARY)))
def test_no_import_runs_back_up(path: Path):
    source = floor_of(module_name(path))
    if source is None:
        return  # the package root: registers resolvers for every floor
    rank = FLOORS.index(source)
    upward = [f"line {line}: {name} ({floor_of(name)} is above {source})"
              for line, name in imported(path)
              if floor_of(name) is not None and FLOORS.index(floor_of(name)) > rank]  # fmt: skip
    assert upward == []


def test_the_check_sees_a_lazy_upward_import(tmp_path: Path):
    """The check must fail on what it is for: an import inside a function, relative or absolute."""
    fake = LIBRARY / "data" / "_layering_probe.py"
    fake.write_text("def f():\n    from ..search import report\n    import lightning_distill.training.pipeline\n")
    try:
        names = {name for _, name in imported(fake)}
    finally:
        fake.unlink()
    assert {"lightning_distill.search", "lightning_distill.training.pipeline"} <= names
