#!/usr/bin/env bash
# THE test command of finetrack_ros, on a fresh machine or a developer's:
#
#   scripts/test.sh [PYTEST_ARGS...]      e.g. scripts/test.sh -x -k image
#
# 1. scripts/setup_env.sh: venv, Python and ROS 2 dependencies, colcon build (idempotent,
#    seconds when nothing changed);
# 2. sources the venv and the colcon install;
# 3. runs pytest (all of test/ unless told otherwise) with FINETRACK_REQUIRE_ROS=1, so ROS tests fail instead of
#    skipping when the build or rclpy is broken.
# Exits non-zero on any failure (set-up, build or test).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
export VENV

"$REPO/scripts/setup_env.sh"

set +u  # the activate and colcon setup scripts read unset variables
source "$VENV/bin/activate"
source "$REPO/install/setup.bash"
set -u

export FINETRACK_REQUIRE_ROS=1
cd "$REPO"
# `python -m pytest` from the repository root puts the source package first on sys.path;
# finetrack_ros/__init__.py merges in the installed copy with the generated messages.
# No arguments: pytest.ini's testpaths (test/). Arguments: pytest's (files, -k, -x, ...).
# Two pytest-xdist workers (one per core of the 2-core reference machine; FINETRACK_TEST_WORKERS
# or a later `-n N` changes it, `-n 0` runs in this process), one test file at a time each, so
# a module's node and fixtures stay in one process. Fast lane: scripts/test.sh -m "not slow".
exec python -m pytest -n "${FINETRACK_TEST_WORKERS:-2}" --dist loadfile "$@"
