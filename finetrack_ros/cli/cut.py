"""``finetrack cut SEQ OUT --frames FIRST-LAST``: a frame range of a MOT sequence as a new one.

For example, train a Re-ID network on frames 1-200 and track and score frames 201-397 of the
same camera (``finetrack_ros.mot_cut``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from finetrack_ros.arguments import add_overwrite_argument

HELP = "Cut frames FIRST-LAST of a MOT sequence into a new sequence folder (renumbered from 1)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sequence", type=Path, help="MOT sequence folder (seqinfo.ini, img1/)")
    parser.add_argument("out", type=Path, help="new sequence folder")
    parser.add_argument("--frames", required=True, metavar="FIRST-LAST",
                        help="1-based frame range, both ends included, e.g. 1-200")
    parser.add_argument("--copy", action="store_true",
                        help="copy the images (default: symbolic links to the source images)")
    add_overwrite_argument(parser, "OUT")


def run(args: argparse.Namespace) -> int:
    import shutil

    from finetrack_ros.mot_cut import cut_sequence, parse_frame_range
    from finetrack_ros.outputs import DIRECTORY, check_output

    first, last = parse_frame_range(args.frames)
    out = check_output(args.out, kind=DIRECTORY, overwrite=args.overwrite, option="OUT")
    if out.exists():
        shutil.rmtree(out)
    cut_sequence(args.sequence, out, first, last, copy=args.copy)
    print(f"{args.sequence} frames {first}-{last} -> {out} ({last - first + 1} frames)")
    return 0
