"""``finetrack eval``: HOTA / CLEAR / Identity of tracking results against ground truth."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from finetrack_ros.arguments import add_overwrite_argument

HELP = "Score MOTChallenge tracking results (HOTA, DetA, AssA, MOTA, IDF1, IDSW, FP, FN)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", nargs="+", required=True, type=Path,
                        help="ground truth: MOT sequence folders, gt.txt files or rosbag2 bags")
    parser.add_argument("--results", nargs="+", required=True, type=Path,
                        help="results: one txt (or bag) per --gt, or one folder of <seq>.txt")
    parser.add_argument("--benchmark", default="auto",
                        choices=["auto", "MOT15", "MOT16", "MOT17", "MOT20"],
                        help="TrackEval preprocessing rules (auto: MOT15 if GT has no classes)")
    parser.add_argument("--gt-topic", default="/ground_truth",
                        help="Detection2DArray topic holding ground truth when --gt is a bag")
    parser.add_argument("--results-topic", default="/finetrack/tracks",
                        help="Detection2DArray topic holding tracks when --results is a bag")
    parser.add_argument("--3d", dest="world", action="store_true",
                        help="score ground positions the 3D MOT 2015 way: wx, wy (columns 8-9, "
                             "2DMOT2015 layout; results of track --camera) matched within "
                             "--max-distance metres: MOTA, IDF1, IDSW, position error")
    parser.add_argument("--max-distance", type=float, default=1.0,
                        help="--3d: largest ground distance of a match, metres (default 1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--csv", type=Path, help="also write all metrics to this CSV file")
    parser.add_argument("--plot", type=Path, help="also save a bar chart (PNG) here")
    add_overwrite_argument(parser, "--csv / --plot files")


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.eval.metrics import evaluate_sequences
    from finetrack_ros.eval.report import format_table, plot_metrics, write_csv
    from finetrack_ros.outputs import check_output

    for option in ("csv", "plot"):  # before the evaluation, which may take minutes
        if getattr(args, option):
            check_output(getattr(args, option), overwrite=args.overwrite, option=f"--{option}")
    with tempfile.TemporaryDirectory(prefix="finetrack_eval_bag_") as tmp:
        pairs = build_pairs(args.gt, args.results, args.gt_topic, args.results_topic, Path(tmp))
        if args.world:
            results = _evaluate_world(pairs, args.max_distance)
        else:
            results = evaluate_sequences(pairs, benchmark=args.benchmark)
    if args.json:
        print(json.dumps(results, indent=2))
    elif args.world:
        print(_world_table(results))
    else:
        print(format_table(results if len(pairs) > 1 else {pairs[0].name: results[pairs[0].name]}))
    if args.csv:
        print(f"wrote {write_csv(results, args.csv)}")
    if args.plot:
        print(f"wrote {plot_metrics(results, args.plot)}")
    return 0


def _evaluate_world(pairs: list, max_distance: float) -> dict:
    from finetrack_ros.eval.world import WorldPair, evaluate_world

    return evaluate_world([WorldPair(p.name, p.gt_path, p.results_path) for p in pairs],
                          max_distance)


def _world_table(results: dict) -> str:
    """One row per sequence: MOTA, IDF1 in %, counts, position errors in metres."""
    from finetrack_ros.eval.report import format_table

    table = format_table(results, ("MOTA", "IDF1", "IDSW", "FP", "FN"))
    lines = table.splitlines()
    lines[0] += "  err50_m  err90_m"
    for i, row in enumerate(results.values(), start=1):
        lines[i] += f"  {row['median_error_m']:7.3f}  {row['p90_error_m']:7.3f}"
    return "\n".join(lines)


def build_pairs(gts, results, gt_topic: str, results_topic: str, tmp: Path) -> list:
    """Match each --gt with its results file (bags are first exported to MOT text)."""
    from finetrack_ros.eval.metrics import SequencePair
    from finetrack_ros.mot import is_sequence_dir, open_sequence

    if len(results) == 1 and results[0].is_dir() and not is_bag(results[0]):
        folder = results[0]
        results = [folder / f"{_seq_name(g)}.txt" for g in gts]
    if len(results) != len(gts):
        raise ValueError(f"--results: got {len(results)} paths for {len(gts)} --gt paths")
    pairs = []
    for gt, res in zip(gts, results):
        name, num_frames = _seq_name(gt), None
        if is_bag(gt):
            gt = _export(gt, gt_topic, tmp / f"{name}_gt.txt")
        elif is_sequence_dir(gt):
            seq = open_sequence(gt)
            name, gt, num_frames = seq.name, seq.gt_path, seq.num_frames()
        if is_bag(res):
            res = _export(res, results_topic, tmp / f"{name}_results.txt")
        pairs.append(SequencePair(name, gt, res, num_frames))
    return pairs


def is_bag(path: Path) -> bool:
    """Check whether ``path`` is a rosbag2: a folder with metadata.yaml, or an .mcap / .db3 file."""
    path = Path(path)
    return (path.is_dir() and (path / "metadata.yaml").is_file()) or \
        path.suffix in (".mcap", ".db3")


def _export(bag: Path, topic: str, out_txt: Path) -> Path:
    from finetrack_ros.bag.mot_export import bag_topic_to_mot

    return bag_topic_to_mot(bag, topic, out_txt)


def _seq_name(path: Path) -> str:
    path = Path(path)
    if path.name == "gt.txt" and path.parent.name == "gt":
        return path.parent.parent.name
    return path.stem if path.is_file() else path.name
