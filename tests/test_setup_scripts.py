"""scripts/build_wheels.sh: a package's build cannot run the environment's pip (the qmcpy 1.2 hazard).

qmcpy 1.2's setup.py runs ``os.system('pip install -e .')`` inside its ``install`` command, which
``bdist_wheel`` runs; built from its sdist with a plain ``pip install``, that installs qmcpy editable into
the user's venv, pointing at a build folder pip then deletes. The stand-in package below does the same
thing harmlessly (``pip --version``) and records what that returned.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_WHEELS = REPO_ROOT / "scripts" / "build_wheels.sh"

SETUP_PY = """
import os
from pathlib import Path

import setuptools
from setuptools.command.install import install


class CustomInstall(install):
    def run(self):
        status = os.system("pip --version")
        Path(os.environ["PIP_STATUS_FILE"]).write_text(str(status))
        super().run()


setuptools.setup(name="pipcaller", version="1.0", py_modules=["pipcaller"], cmdclass={"install": CustomInstall})
"""


@pytest.fixture
def sdist(tmp_path: Path) -> Path:
    source = tmp_path / "pipcaller"
    source.mkdir()
    (source / "setup.py").write_text(textwrap.dedent(SETUP_PY))
    (source / "pipcaller.py").write_text("VALUE = 1\n")
    return source


def test_a_build_that_runs_pip_is_refused_and_the_wheel_still_builds(sdist, tmp_path):
    status_file = tmp_path / "pip-status"
    env = {**os.environ, "PYTHON": sys.executable, "PIP_STATUS_FILE": str(status_file)}
    # --no-build-isolation: setuptools from this environment, so the test needs no index
    result = subprocess.run(
        ["bash", str(BUILD_WHEELS), str(tmp_path / "wheels"), str(sdist), "--no-build-isolation", "-v"],
        env=env, check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert status_file.read_text() != "0", "the package's build reached a working pip"
    assert "refused" in result.stdout + result.stderr
    (wheel,) = (tmp_path / "wheels").glob("pipcaller-1.0-*.whl")
    assert "pipcaller.py" in zipfile.ZipFile(wheel).namelist()


def test_without_the_guard_the_same_build_reaches_pip(sdist, tmp_path):
    """The stand-in is a real test of the guard: a plain `pip wheel` lets its setup.py run pip."""
    status_file = tmp_path / "pip-status"
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PIP_STATUS_FILE": str(status_file), "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "w"),
         str(sdist)],
        env=env, check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert status_file.read_text() == "0"


def test_build_wheels_without_a_requirement_prints_its_usage(tmp_path):
    result = subprocess.run(["bash", str(BUILD_WHEELS), str(tmp_path)], check=False, capture_output=True, text=True)
    assert result.returncode == 2 and "usage: scripts/build_wheels.sh DEST REQUIREMENT" in result.stderr
