"""``finetrack bench WHAT``: benchmarks that print tables (tracker, models, node, soak)."""
from __future__ import annotations

import argparse

from finetrack_ros.arguments import add_module_commands

HELP = ("Benchmarks: time the tracker, the networks or the node, or soak the node "
        "(memory over thousands of frames); print a table.")

# bench target -> module under finetrack_ros.bench with add_arguments(parser) and run(args)
TARGETS = {"tracker": "tracker", "models": "models", "node": "node", "soak": "soak",
           "camera-motion": "camera_motion", "identity": "identity", "defaults": "defaults",
           "precision": "precision",
           "realtime": "realtime", "storm": "storm"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="WHAT", required=True)
    add_module_commands(sub, "finetrack_ros.bench", TARGETS, "bench_run")


def run(args: argparse.Namespace) -> int:
    return args.bench_run(args)
