"""The carried wheels: which ``benchmarks/gpu_wheels.txt`` pins have a wheel in ``.whl/``, and their size.

Kept apart from the install so that ``--prepare`` (here) and the install step (there) agree on what
"complete" means: exactly one wheel per pin, at the pinned version, and no other wheels (two versions
of a package stop pip's whole install).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DOWNLOAD_COMMAND = "benchmarks/download_gpu_wheels.sh"
BYTES_PER_MIB = 2**20


def normalize(name: str) -> str:
    """PEP 503 name normalization (wheel file names use underscores)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """{normalized name: version} of the ``name==version`` lines (comments after ``#`` ignored)."""
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        if "==" not in requirement:
            raise SystemExit(f"{path}:{number}: {requirement!r} must pin one version (name==version)")
        name, version = requirement.split("==", 1)
        pins[normalize(name)] = version.strip()
    return pins


@dataclass
class WheelSet:
    found: dict[str, Path] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.unexpected

    @property
    def bytes(self) -> int:
        return sum(path.stat().st_size for path in self.found.values())

    def problem(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"no wheel for {', '.join(self.missing)} (run {DOWNLOAD_COMMAND})")
        if self.unexpected:
            parts.append(f"wheels not in the list: {', '.join(self.unexpected)} (delete them: one version per package)")
        return "; ".join(parts)


def check_wheels(pins: dict[str, str], wheel_dir: Path) -> WheelSet:
    wheels = sorted(wheel_dir.glob("*.whl")) if wheel_dir.is_dir() else []
    result = WheelSet()
    for wheel in wheels:
        name, version = wheel.name.split("-")[:2]
        key = normalize(name)
        if pins.get(key) == version:
            result.found[key] = wheel
        else:
            result.unexpected.append(wheel.name)
    result.missing = [f"{name}=={version}" for name, version in pins.items() if name not in result.found]
    return result
