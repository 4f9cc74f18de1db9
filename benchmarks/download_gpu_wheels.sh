#!/usr/bin/env bash
# Download (or build) the wheels of benchmarks/gpu_wheels.txt into .whl/ for the device machine (Python 3.12,
# x86-64 manylinux): `benchmarks/download_gpu_wheels.sh` from the repository root.
# Lines marked "# build:" have no cp312 wheel on PyPI and are built here with a Python 3.12 interpreter
# ($GPU_WHEELS_PYTHON, default: python3.12 on PATH, else pyenv's 3.12).
set -euo pipefail
cd "$(dirname "$0")/.."
LIST=benchmarks/gpu_wheels.txt
DEST=${GPU_WHEELS_DIR:-.whl}
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)

requirements() {  # $1 = grep mode: -v (downloadable wheels) or "" (to build)
  grep -E '^[A-Za-z0-9]' "$LIST" | grep $1 -E '# build:' | sed 's/ *#.*//' || true
}

find_python312() {
  if [[ -n "${GPU_WHEELS_PYTHON:-}" ]]; then echo "$GPU_WHEELS_PYTHON"; return; fi
  if command -v python3.12 >/dev/null && python3.12 --version >/dev/null 2>&1; then command -v python3.12; return; fi
  local candidate
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return; }
  done
  echo "no Python 3.12 found to build $(requirements "" | tr '\n' ' '); set GPU_WHEELS_PYTHON=/path/to/python3.12" >&2
  exit 1
}

mkdir -p "$DEST"
platform_args=(); for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
mapfile -t wheels < <(requirements -v)
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platform_args[@]}" -d "$DEST" "${wheels[@]}"
mapfile -t builds < <(requirements "")
if (( ${#builds[@]} )); then
  # qmcpy's setup.py runs `pip install -e .` while its wheel builds: build_wheels.sh keeps it out of any venv
  python312=$(find_python312)  # on its own line: a failed lookup stops the script (set -e)
  PYTHON="$python312" scripts/build_wheels.sh "$DEST" "${builds[@]}"
fi
du -cb "$DEST"/*.whl | tail -1 | awk '{printf "%s: %.1f MiB of wheels\n", "'"$DEST"'", $1 / 1048576}'
