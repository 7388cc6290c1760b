"""The ``finetrack`` command line: one sub-command per module of ``finetrack_ros.cli``.

Each sub-command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules import heavy dependencies (torch, rosbags) inside ``run`` so
that ``finetrack --help`` stays fast.

Errors: bad input raises ``ValueError`` / ``FileNotFoundError`` (or another ``OSError``)
naming the file, field or value; :func:`main` prints it as one line on stderr and returns 2.
Any other exception is a bug: one line saying so, exit code 1. ``finetrack --debug`` (or
``FINETRACK_DEBUG=1``) shows the traceback instead. Warnings print as one line each.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from finetrack_ros.arguments import add_module_commands

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
    "cut": "cut",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetrack",
        description="FineTrack multi-object tracking: offline tools of finetrack_ros.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also: FINETRACK_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_module_commands(sub, "finetrack_ros.cli", SUBCOMMANDS, "run")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("FINETRACK_DEBUG", "") not in ("", "0")
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _one_line_warning
        try:
            return int(args.run(args) or 0)
        except KeyboardInterrupt:
            return 130
        except (ValueError, OSError) as err:
            # Bad input: say what was wrong, without a traceback from deep inside.
            if debug:
                raise
            print(f"finetrack {args.command}: error: {_one_line(err)}", file=sys.stderr)
            return 2
        except Exception as err:  # noqa: BLE001 - a bug: still one line unless --debug
            if debug:
                raise
            print(f"finetrack {args.command}: internal error: {type(err).__name__}: "
                  f"{_one_line(err)} (run with --debug for the traceback)", file=sys.stderr)
            return 1


def _one_line(err: BaseException) -> str:
    """Return the message on one line (an OSError without text still names its file)."""
    text = " ".join(str(err).split())
    return text or type(err).__name__


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"finetrack: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
