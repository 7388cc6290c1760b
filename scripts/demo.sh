#!/usr/bin/env bash
# The main job, one command on a fresh machine: set up, then run `finetrack demo`.
#
#   scripts/demo.sh                        # held-out synthetic scene, shipped demo weights
#   scripts/demo.sh --out outputs/demo     # any `finetrack demo` option passes through
#   scripts/demo.sh --video my.mp4 --detector my_yolox.pth --reid my_reid.pth
#
# 1. scripts/setup_env.sh: venv, Python deps, ROS 2 (from /opt/ros or PyPI wheels), colcon
#    build of finetrack_ros (seconds when already done);
# 2. sources the colcon install and runs `finetrack demo`: generates a scene, writes it as a
#    rosbag, runs the installed ROS 2 finetrack_node on it with real rclpy, records its
#    outputs and writes annotated.mp4, results/, metrics.txt/.csv and comparison.png
#    (FineTrack vs IoU-only ByteTrack on the same detections) to the output folder.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"

"$REPO/scripts/setup_env.sh"

# colcon's setup.bash also sources the prefixes it was built on (/opt/ros or the underlay).
set +u
# shellcheck disable=SC1091
source "$REPO/install/setup.bash"
set -u
cd "$REPO"
exec "$VENV/bin/finetrack" demo "$@"
