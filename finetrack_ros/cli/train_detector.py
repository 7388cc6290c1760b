"""``finetrack train-detector``: train a YOLOX person detector on MOT-layout sequences."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from finetrack_ros.arguments import add_overwrite_argument, parse_hw

HELP = "train a YOLOX detector (SimOTA loss) on MOT sequences or freshly generated scenes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="*", default=[], metavar="SEQ",
                        help="training sequence folders (seqinfo.ini, img1/, gt/gt.txt)")
    parser.add_argument("--sim", type=int, default=0, metavar="N",
                        help="also generate N synthetic scenes (seeds seed+1..seed+N) into "
                             "OUT/sim and train on them")
    parser.add_argument("--sim-frames", type=int, default=150, help="frames per generated scene")
    parser.add_argument("--out", required=True, help="output folder (checkpoint, log.csv)")
    parser.add_argument("--model-size", default="nano", help="YOLOX size (default nano)")
    parser.add_argument("--input-size", type=parse_hw, metavar="HxW", default=(384, 512),
                        help="network input HxW while training, multiples of 32 (384x512)")
    parser.add_argument("--iterations", type=int, default=2000, help="optimiser steps (2000)")
    parser.add_argument("--batch-size", type=int, default=8, help="images per step (8)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak AdamW lr (2e-3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    parser.add_argument("--min-visibility", type=float, default=0.1,
                        help="GT boxes less visible than this are not targets (0.1)")
    parser.add_argument("--warmup", type=int, default=100, help="lr warm-up iterations (100)")
    parser.add_argument("--init", default=None, help="checkpoint to start from")
    parser.add_argument("--fp16", action="store_true", help="store weights as float16")
    parser.add_argument("--val", nargs="*", default=[], metavar="SEQ",
                        help="held-out sequences: report precision/recall at IoU 0.5")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_overwrite_argument(parser, "an earlier run in OUT (checkpoint, log.csv, sim/)")


def _generate(out: Path, count: int, frames: int, seed: int, progress: bool,
              overwrite: bool) -> list[Path]:
    from finetrack_ros.sim import SceneConfig, write_sequence

    return [write_sequence(out / "sim" / f"SIM-{seed + i:03d}",
                           SceneConfig(frames=frames, seed=seed + i), progress=progress,
                           overwrite=overwrite)
            for i in range(1, count + 1)]


def run(args: argparse.Namespace) -> int:
    import torch

    from finetrack_ros.detector import YOLOXDetector
    from finetrack_ros.outputs import DIRECTORY, check_output
    from finetrack_ros.train.yolox_eval import evaluate_detector
    from finetrack_ros.train.yolox_trainer import DetectorTrainConfig, DetectorTrainer

    out = check_output(args.out, kind=DIRECTORY, overwrite=args.overwrite)
    if args.init:  # a bad --init is refused before scenes are generated and data is read
        from finetrack_ros.detector.checkpoint import read_state_dict

        read_state_dict(args.init)
    config = DetectorTrainConfig(
        model_size=args.model_size, input_size=args.input_size, batch_size=args.batch_size,
        iterations=args.iterations, lr=args.lr, seed=args.seed, threads=args.threads,
        fp16_checkpoint=args.fp16, min_visibility=args.min_visibility,
        warmup_iterations=args.warmup,
    )
    torch.set_num_threads(args.threads)
    sequences = [Path(p) for p in args.data]
    sequences += _generate(out, args.sim, args.sim_frames, args.seed, not args.quiet,
                       args.overwrite)
    checkpoint = DetectorTrainer(config, sequences, init=args.init).train(
        out, progress=not args.quiet)
    print(f"wrote {checkpoint}")
    if args.val:
        detector = YOLOXDetector(checkpoint, size=args.model_size, input_size=args.input_size,
                                 conf=0.05)
        quality = evaluate_detector(detector, [Path(p) for p in args.val],
                                    progress=not args.quiet)
        (out / "val_metrics.json").write_text(json.dumps(vars(quality), indent=2))
        print(f"val: precision {quality.precision:.3f} recall {quality.recall:.3f} at score "
              f">= {quality.score_threshold}; best recall at precision >= "
              f"{quality.target_precision}: {quality.best_recall_at_precision:.3f} "
              f"({quality.num_gt} GT boxes, IoU 0.5)")
    return 0
