"""``finetrack eval-reid``: rank-1 / mAP of a Re-ID checkpoint on MOT ground-truth crops."""
from __future__ import annotations

import argparse
import json

HELP = "rank-1 and mAP of a Re-ID checkpoint on the val split of MOT ground-truth crops"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", required=True, metavar="PATH",
                        help="MOT root(s) or sequence directories")
    parser.add_argument("--ckpt", required=True,
                        help="train-reid output: last.pt (full checkpoint) or reid.pt")
    parser.add_argument("--config", default=None,
                        help="training YAML for the data.* settings; default: the checkpoint's")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. data.split=none")
    parser.add_argument("--split", choices=("val", "train"), default="val",
                        help="which split to evaluate (default: val)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.train.reid_eval import evaluate_checkpoint

    result = evaluate_checkpoint(args.ckpt, args.data, args.config, args.overrides,
                                 args.split, args.device)
    print(json.dumps(result))
    return 0
