"""``finetrack sim``: render a synthetic street sequence in MOTChallenge layout."""
from __future__ import annotations

import argparse

from finetrack_ros.arguments import add_overwrite_argument, parse_wh

HELP = "render a seeded synthetic street sequence (images, gt, det) in MOTChallenge layout"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="sequence folder to write (seqinfo.ini, img1/, gt/, det/)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--frames", type=int, default=150, help="sequence length (default 150)")
    parser.add_argument("--size", type=parse_wh, default=(640, 480), metavar="WxH",
                        help="image width x height (default 640x480)")
    parser.add_argument("--fps", type=float, default=15.0, help="frame rate (default 15)")
    parser.add_argument("--people", type=int, default=10, help="identities (default 10)")
    parser.add_argument("--occluders", type=int, default=3,
                        help="poles, trees and parked vehicles (default 3)")
    parser.add_argument("--crossing-fraction", type=float, default=0.5,
                        help="share of people in crossing pairs (default 0.5)")
    parser.add_argument("--turn-when-hidden", type=float, default=0.0,
                        help="probability that a person hidden behind something turns around "
                             "when changing speed (default 0)")
    parser.add_argument("--pan", type=float, default=0.0,
                        help="camera pan in pixels per frame (default 0 = static)")
    parser.add_argument("--noise", type=float, default=3.0,
                        help="sensor noise std in grey levels (default 3)")
    parser.add_argument("--blur", type=int, default=2,
                        help="horizontal motion blur length in pixels (default 2)")
    parser.add_argument("--name", default=None, help="sequence name (default: folder name)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_overwrite_argument(parser, "an existing sequence in OUT (its frames, gt, det)")


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.sim import SceneConfig, write_sequence

    width, height = args.size
    config = SceneConfig(
        width=width, height=height, fps=args.fps, frames=args.frames, people=args.people,
        occluders=args.occluders, crossing_fraction=args.crossing_fraction,
        pan_px_per_frame=args.pan, hidden_turn_probability=args.turn_when_hidden,
        noise_std=args.noise, blur_px=args.blur, seed=args.seed,
    )
    out = write_sequence(args.out, config, name=args.name, progress=not args.quiet,
                         overwrite=args.overwrite)
    print(f"wrote {config.frames} frames of {width}x{height} to {out}")
    return 0
