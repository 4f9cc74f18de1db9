#!/usr/bin/env bash
# Build wheels from sdists without letting a package's setup.py touch the environment that runs the build:
#   scripts/build_wheels.sh DEST [pip wheel arguments...]      (the Python: $PYTHON, default python3)
#
# Why: qmcpy 1.2 (libsigopt's pin, sdist only on PyPI) has a custom `install` command that runs
# `os.system('pip install -e .')`. Building its wheel therefore runs whichever `pip` is first on PATH, which
# installs qmcpy *editable* into the user's environment, pointing at pip's temporary build folder; once pip
# deletes that folder, `import qmcpy` fails ("No module named 'qmcpy'") and so does every lite search.
# Here the build runs with a PATH whose `pip`/`pip3` refuse and say so; the wheel itself is built by
# setuptools' bdist_wheel as usual (its C extension included), and nothing outside DEST changes.
set -euo pipefail
if (( $# < 2 )); then
  echo "usage: scripts/build_wheels.sh DEST REQUIREMENT... [pip wheel options]" >&2
  exit 2
fi
dest=$1; shift
python=${PYTHON:-python3}
guard=$(mktemp -d)
trap 'rm -rf "$guard"' EXIT
for name in pip pip3; do
  cat > "$guard/$name" <<'STUB'
#!/bin/sh
echo "scripts/build_wheels.sh: a package's build ran 'pip $*' in $(pwd); refused (it would modify the environment running the build)" >&2
exit 1
STUB
  chmod +x "$guard/$name"
done
status=0
"$guard/pip" >/dev/null 2>&1 || status=$?
if (( status != 1 )); then  # e.g. a noexec temp dir: the shell would go on to the real pip
  echo "scripts/build_wheels.sh: cannot run the pip guard in $guard (status $status; a noexec mount?): set TMPDIR to a directory that allows executables" >&2
  exit 1
fi
mkdir -p "$dest"
PATH="$guard:$PATH" "$python" -m pip wheel --no-deps -w "$dest" "$@"
