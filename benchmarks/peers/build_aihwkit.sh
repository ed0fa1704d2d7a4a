#!/usr/bin/env bash
# Build IBM aihwkit 1.2.0 from its PyPI sdist into its own virtual environment, for the side-by-side
# benchmark (benchmarks/peers/side_by_side.py). aihwkit is never a dependency of aimc.
#
#   bash benchmarks/peers/build_aihwkit.sh                 # venv in .peers/aihwkit-venv
#   AIHWKIT_VENV=/tmp/aihwkit-venv bash benchmarks/peers/build_aihwkit.sh
#
# Why this way: no Python 3.11 wheel exists for aihwkit 1.2.0, so it is compiled (C++ tile, about
# 5 minutes on 2 cores). The build needs Debian libopenblas-dev, and pip cmake, scikit-build,
# pybind11, ninja and mypy (its `stubgen` must be on PATH while building); --no-build-isolation makes
# the build use torch from this venv (torch pinned by the project's constraints.txt), so the C++
# extension matches the torch it runs with. The wheel is installed with --no-deps because aihwkit
# lists its build tools as runtime dependencies; the few runtime ones it imports are installed
# explicitly. Finally aimc itself is installed editable so one process can time both.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${AIHWKIT_VENV:-$ROOT/.peers/aihwkit-venv}"
VERSION="${AIHWKIT_VERSION:-1.2.0}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
JOBS="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"

if ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
    echo "error: Debian package libopenblas-dev is missing (aihwkit's C++ tile links OpenBLAS);" \
         "run: apt-get install libopenblas-dev" >&2
    exit 1
fi

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -c "$ROOT/constraints.txt")
"${PIP[@]}" --upgrade pip wheel setuptools
# build tools, and torch (pinned) because the extension compiles against it
"${PIP[@]}" torch cmake scikit-build pybind11 ninja mypy numpy
# runtime dependencies aihwkit imports (scipy: noise models and presets; requests: its
# pretrained-model helper imports it at module level)
"${PIP[@]}" scipy requests tqdm typing-extensions

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export PATH="$VENV/bin:$PATH"   # stubgen (from mypy), cmake, ninja of the venv
export CMAKE_BUILD_PARALLEL_LEVEL="$JOBS"
echo "building aihwkit $VERSION from its sdist with $JOBS job(s) into $VENV"
# --no-binary names aihwkit only: ":all:" would compile its build requirements from source too
"$VENV/bin/python" -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps \
    --no-binary aihwkit -w "$WORK/wheel" "aihwkit==$VERSION"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-deps "$WORK"/wheel/aihwkit-*.whl
# aimc itself with its dependencies (torch stays the pinned one), so side_by_side.py times both in
# one process; aihwkit was installed --no-deps above and is left alone
"${PIP[@]}" -e "$ROOT"
"$VENV/bin/python" -c "import aihwkit, torch; from aihwkit.simulator.rpu_base import tiles; \
print('aihwkit', aihwkit.__version__, 'torch', torch.__version__, 'C++ tiles: ok')"
echo "done: $VENV/bin/python benchmarks/peers/side_by_side.py"
