"""Issue 35, target 1: the sweeper plugin stands alone, and the library reaches it only through its public api.

``hydra_plugins/sigopt_sweeper/`` imports nothing from ``lightning_distill`` (what it needs is its own or comes in
through its settings, e.g. an application's infrastructure errors carry ``api.INFRASTRUCTURE_MARKER``), so it can be
read, tested and released alone; ``lightning_distill``, ``benchmarks``, ``studies`` and ``train.py`` import only
``hydra_plugins.sigopt_sweeper.api`` of it, never a private ``_`` module. Checked on the source, statically.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PLUGIN = REPO_ROOT / "hydra_plugins" / "sigopt_sweeper"
LIBRARY_SIDE = [REPO_ROOT / "lightning_distill", REPO_ROOT / "benchmarks", REPO_ROOT / "studies", REPO_ROOT / "train.py"]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def python_files(root: Path) -> list[Path]:
    return [root] if root.is_file() else sorted(root.rglob("*.py"))


def test_the_plugin_imports_nothing_from_the_library():
    offending = [f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
                 for path in python_files(PLUGIN) for line, module in imported_modules(path)
                 if module == "lightning_distill" or module.startswith("lightning_distill.")]  # fmt: skip
    assert offending == []


def test_the_library_uses_only_the_plugins_public_api():
    offending = [f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
                 for root in LIBRARY_SIDE for path in python_files(root) for line, module in imported_modules(path)
                 if module.startswith("hydra_plugins.sigopt_sweeper") and module != "hydra_plugins.sigopt_sweeper.api"]  # fmt: skip
    assert offending == []


def test_an_application_error_marked_as_infrastructure_is_requeued_not_observed():
    from hydra_plugins.sigopt_sweeper._trial import is_infrastructure_failure
    from hydra_plugins.sigopt_sweeper.api import INFRASTRUCTURE_MARKER
    from lightning_distill.storage.cache_manifest import CacheDamagedError

    assert getattr(CacheDamagedError, INFRASTRUCTURE_MARKER) is True
    assert is_infrastructure_failure(CacheDamagedError("damaged"))
    try:
        raise RuntimeError("trial failed") from CacheDamagedError("damaged")
    except RuntimeError as wrapped:
        assert is_infrastructure_failure(wrapped)  # anywhere in the chain, as Ray's own
    assert not is_infrastructure_failure(ValueError("a bad setting"))
