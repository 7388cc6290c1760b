"""The ``finetrack`` command line: one sub-command per module of ``finetrack_ros.cli``.

Each sub-command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules import heavy dependencies (torch, rosbags) inside ``run`` so
that ``finetrack --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name on the command line -> module under finetrack_ros.cli
SUBCOMMANDS = {
    "track": "track",
    "eval": "evaluate",
    "detect": "detect",
    "bench": "bench",
    "export": "export",
    "train-reid": "train_reid",
    "eval-reid": "eval_reid",
    "train-detector": "train_detector",
    "bag": "bag",
    "sim": "sim",
    "demo": "demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetrack",
        description="FineTrack multi-object tracking: offline tools of finetrack_ros.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(f"finetrack_ros.cli.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"finetrack_ros.cli.{module_name}":
                raise
            continue  # sub-command not built yet
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError) as err:
        # Bad input: say what was wrong, without a traceback from deep inside.
        print(f"finetrack {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
