"""Step ``install``: the carried wheels, then the project itself, with no dependencies.

On the device the wheels go into a separate ``--target`` folder put first on the steps' path, so no
package of the image is replaced, and the project is installed editable (``--no-deps``; the image has
setuptools, so no build isolation, which would need an index). Every step also has the checkout on
its path, so a failed project install still leaves the steps runnable (it is reported). In the dry run
nothing is installed: pip resolves the wheels for the device's platform (``--dry-run`` with cp312 /
manylinux tags) and builds the project's metadata, which catches a missing or mismatched wheel and a
broken ``pyproject.toml`` here.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from benchmarks.gpu_check.runner import StepFailed, StepSkipped, run_command
from benchmarks.gpu_check.settings import REPO_ROOT, Settings, step_env
from benchmarks.gpu_check.wheels import BYTES_PER_MIB, check_wheels, read_pins

DEVICE_PYTHON = "3.12"
DEVICE_PLATFORMS = (  # as benchmarks/download_gpu_wheels.sh downloads them, plus plain linux builds
    "manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
    "manylinux1_x86_64", "linux_x86_64",
)
PROBE_TIMEOUT_S = 60  # the import probe and pip check/list: seconds each, not an install's
IMPORT_PROBE = """
import importlib, json, sys
report = {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    report[name] = {"file": getattr(module, "__file__", None), "version": getattr(module, "__version__", None)}
import torch
report["torch"] = {"version": torch.__version__, "cuda": torch.cuda.is_available(),
                   "device": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
print("IMPORTS " + json.dumps(report))
"""


def install(settings: Settings) -> dict[str, Any]:
    wheels = check_wheels(read_pins(settings.path("wheel_list")), settings.path("wheel_dir"))
    if not wheels.complete and settings.dry_run:
        raise StepSkipped(f"{wheels.problem()}; the dry run checks the wheels only when they are there")
    if not wheels.complete:
        raise StepFailed(f"{wheels.problem()} (prepare on the development machine: benchmarks/gpu_check.sh --prepare)")
    env = step_env(settings)
    timeout = settings.profile["install_timeout_s"]
    files = [str(path) for path in wheels.found.values()]
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-cache-dir"]
    if settings.dry_run:
        platforms = [arg for platform in DEVICE_PLATFORMS for arg in ("--platform", platform)]
        run_command([*pip, "--dry-run", "--only-binary=:all:", "--python-version", DEVICE_PYTHON, "--implementation",
                     "cp", *platforms, "--target", str(settings.site_dir), *files], settings, env, timeout
                    ).check("pip --dry-run of the carried wheels for the device's Python and platform")
        project = run_command([*pip, "--dry-run", "--no-build-isolation", str(REPO_ROOT)], settings, env, timeout)
    else:
        run_command([*pip, "--no-compile", "--upgrade", "--target", str(settings.site_dir), *files], settings, env,
                    timeout).check("pip install of the carried wheels")
        project = run_command([*pip, "--no-build-isolation", "-e", str(REPO_ROOT)], settings, env, timeout)
    imports = run_command([sys.executable, "-c", IMPORT_PROBE, *settings.config["imports"]], settings, env,
                          PROBE_TIMEOUT_S)
    imports.check("importing the carried packages and the project")
    checked = run_command([sys.executable, "-m", "pip", "check"], settings, env, PROBE_TIMEOUT_S)
    # what the image holds, so that one failed run can be diagnosed without another
    listed = run_command([sys.executable, "-m", "pip", "list", "--format=freeze"], settings, env, PROBE_TIMEOUT_S)
    return {
        "wheels": sorted(path.name for path in wheels.found.values()),
        "wheels_mib": round(wheels.bytes / BYTES_PER_MIB, 2),
        "site_dir": None if settings.dry_run else str(settings.site_dir),
        "project_install": "ok" if project.returncode == 0 else f"failed (steps use the checkout on PYTHONPATH): {project.tail()}",
        "imports": _imports(imports.output),
        "pip_check": checked.output.strip().splitlines()[-40:],
        "pip_list": [line for line in listed.output.splitlines() if "==" in line or " @ " in line],
        "python": sys.version.split()[0],
    }


def _imports(output: str) -> dict[str, Any]:
    line = next(line for line in output.splitlines() if line.startswith("IMPORTS "))
    return json.loads(line.removeprefix("IMPORTS "))
