"""``finetrack bench WHAT``: benchmarks that print tables (tracker, models, node, soak)."""
from __future__ import annotations

import argparse
import importlib

HELP = ("Benchmarks: time the tracker, the networks or the node, or soak the node "
        "(memory over thousands of frames); print a table.")

# bench target -> module under finetrack_ros.bench with add_arguments(parser) and run(args)
TARGETS = {"tracker": "tracker", "models": "models", "node": "node", "soak": "soak",
           "camera-motion": "camera_motion"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="WHAT", required=True)
    for name, module_name in TARGETS.items():
        try:
            module = importlib.import_module(f"finetrack_ros.bench.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"finetrack_ros.bench.{module_name}":
                raise
            continue
        target = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(target)
        target.set_defaults(bench_run=module.run)


def run(args: argparse.Namespace) -> int:
    return args.bench_run(args)
