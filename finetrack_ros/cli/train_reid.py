"""``finetrack train-reid``: train the FineTrack Re-ID network on MOTChallenge ground truth.

Single process: ``finetrack train-reid --data MOT17/train --out runs/reid``.
Several GPUs: ``torchrun --nproc_per_node 4 --no-python finetrack train-reid ...``
(each rank reads RANK / WORLD_SIZE / LOCAL_RANK from the environment and trains with DDP).
"""
from __future__ import annotations

import argparse
import json

from finetrack_ros.arguments import add_overwrite_argument

HELP = "train the FineTrack Re-ID network on MOTChallenge ground-truth crops"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", required=True, metavar="PATH",
                        help="MOT root(s) (e.g. MOT17/train) or sequence directories")
    parser.add_argument("--out", required=True, help="output directory (checkpoints, logs)")
    parser.add_argument("--config", default=None,
                        help="training YAML (e.g. config/reid_small.yaml); default: built-in")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. optim.lr=1e-3 "
                        "(repeatable; value parsed as YAML)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/last.pt when it exists")
    add_overwrite_argument(parser, "an earlier run in OUT (without --resume)")


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.outputs import DIRECTORY, check_output
    from finetrack_ros.train.reid_config import load_train_config
    from finetrack_ros.train.reid_trainer import ReIDTrainer

    # --resume continues the run in OUT, so an existing OUT is expected there
    check_output(args.out, kind=DIRECTORY, overwrite=args.overwrite or args.resume)
    cfg = load_train_config(args.config, args.overrides)
    trainer = ReIDTrainer(cfg, args.data, args.out, resume=args.resume)
    summary = trainer.fit()
    if trainer.rank == 0:
        last = summary["epochs"][-1] if summary["epochs"] else {}
        val = {k: last[k] for k in ("rank1", "mAP", "num_queries") if k in last}
        print(json.dumps({"out": str(args.out), "steps": summary["steps"],
                          "first_loss": summary["first_loss"], "last_loss": summary["last_loss"],
                          "val_at_init": summary["val_at_init"], "val": val,
                          "match_distance": summary["match_distance"]}))
    return 0
