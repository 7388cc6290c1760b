"""``finetrack bench identity``: what each identity feature of issue #14 buys, and costs.

Rows: IoU-only ByteTrack, FineTrack as in the paper (fused IoU / part-Re-ID distance, all of
ours off), then each feature of ours alone on top of the paper (occlusion-aware part
weighting, the long-term gallery, camera-motion compensation, relink) and the features
together, with and without relink; adaptive Re-ID (issue 15: skip the embedding of boxes
whose match is unambiguous) alone and with the gallery. Columns: HOTA, AssA, IDF1
(TrackEval), ID switches and the tracking time per frame (image decode + Re-ID + tracker,
one thread by default). When an adaptive Re-ID row is shown, a second table gives each row's
Re-ID time per frame and the share of high boxes whose embedding was skipped.

Inputs: a MOT sequence (``--seq``, optionally only a frame range ``--frames``: the part not
used to train the network) and/or generated scenes (``--sim-seeds``, optionally panning).
With several ``--reid`` networks (e.g. training seeds) each cell is the mean over networks
± their standard deviation. Every row starts from the node's tracker defaults with all
features off, ``--set`` on top; feature values are :data:`FEATURE_VALUES` (``--with``
changes them, e.g. to tune on data that is not scored).
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

HELP = ("Identity features (issue 14): HOTA / AssA / IDF1 / IDSW / ms per frame of IoU only, "
        "the paper and each feature of ours, on a MOT sequence or generated scenes.")

# Everything of ours off: the paper's association (and ByteTrack's for IoU only), with
# ByteTrack's track memory (track_buffer frames), as when these rows were chosen (issue 14).
FEATURES_OFF = {"part_weighting": "none", "gallery_seconds": 0.0, "camera_motion": "none",
                "relink_thresh": 0.0, "reid_skip_iou": 0.0, "lost_track_seconds": 0.0}
# The value(s) each feature row turns on. relink: the demo's values (chosen on seeds
# 9001-9003); gallery: chosen on seeds 9001-9003 (weights/README.md, "Identity features").
FEATURE_VALUES = {
    "part": {"part_weighting": "visibility"},
    "gallery": {"gallery_seconds": 30.0, "gallery_thresh": 0.45},
    "cmc": {"camera_motion": "sparse"},
    "relink": {"relink_thresh": 0.5, "relink_max_dist": 3.0},
    # adaptive Re-ID: values set before measuring (a walking person's box keeps IoU ~0.8
    # with its prediction; 0.5 is ByteTrack's usual "same box" level)
    "skip": {"reid_skip_iou": 0.5, "reid_refresh_frames": 5},
}
# (row key, label, features on; None = IoU only, no Re-ID)
ROWS = (
    ("iou", "ByteTrack, IoU only", None),
    ("paper", "FineTrack (paper)", ()),
    ("part", "+ part weighting", ("part",)),
    ("gallery", "+ gallery", ("gallery",)),
    ("cmc", "+ camera motion", ("cmc",)),
    ("relink", "+ relink", ("relink",)),
    ("gallery-cmc", "+ gallery + camera motion", ("gallery", "cmc")),
    ("all-but-relink", "+ part + gallery + camera motion", ("part", "gallery", "cmc")),
    ("all", "+ all four", ("part", "gallery", "cmc", "relink")),
    ("skip", "+ adaptive Re-ID", ("skip",)),
    ("gallery-skip", "+ gallery + adaptive Re-ID", ("gallery", "skip")),
)
METRICS = ("HOTA", "AssA", "IDF1")  # fractions, shown in %


@dataclass
class RowResult:
    """One row over networks: per network, the scene-mean metrics, summed IDSW, ms/frame."""

    label: str
    per_network: list = field(default_factory=list)  # [{"HOTA":..., "IDSW":..., "ms":...}]
    skips: bool = False  # an adaptive Re-ID row


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reid", type=Path, nargs="+", required=True,
                        help="Re-ID checkpoint(s); several (e.g. training seeds): mean ± sd")
    parser.add_argument("--seq", type=Path, help="MOT sequence (seqinfo.ini, img1/, det, gt)")
    parser.add_argument("--frames", metavar="FIRST-LAST",
                        help="--seq: score only these frames (e.g. 201-397, the part the "
                             "network was not trained on); default all")
    parser.add_argument("--sim-seeds", type=int, nargs="+", default=[],
                        help="generated scenes (finetrack_ros.sim) with these seeds")
    parser.add_argument("--sim-frames", type=int, default=150, help="frames per scene (150)")
    parser.add_argument("--sim-people", type=int, default=10, help="people per scene (10)")
    parser.add_argument("--pan", type=float, default=0.0,
                        help="camera pan of the generated scenes, pixels per frame (0)")
    parser.add_argument("--rows", nargs="+", choices=[key for key, _, _ in ROWS],
                        help="only these rows (default all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="tracker setting for every row "
                        "(e.g. track_buffer=60)")
    parser.add_argument("--with", dest="feature_overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="feature value of the rows that turn it on "
                        "(e.g. gallery_thresh=0.2)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and OpenCV threads (default 1: comparable on a busy CPU)")


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch

    if args.seq is None and not args.sim_seeds:
        raise ValueError("bench identity: give --seq and/or --sim-seeds")
    for path in args.reid:
        if not Path(path).is_file():
            raise FileNotFoundError(f"--reid {path}: no such file")
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory(prefix="finetrack_bench_identity_") as tmp:
        scenes, title = _inputs(args, Path(tmp))
        results = [_row(key, label, features, scenes, args, Path(tmp))
                   for key, label, features in ROWS if not args.rows or key in args.rows]
    print(title)
    print(format_table(results, len(args.reid)))
    if any(r.skips for r in results):
        print()
        print(format_reid_table(results))
    return 0


def _inputs(args: argparse.Namespace, tmp: Path) -> tuple[list[Path], str]:
    """Return the sequences to track (cut / generated under ``tmp``) and the title."""
    from finetrack_ros.mot_cut import cut_sequence, parse_frame_range
    from finetrack_ros.sim import SceneConfig, write_sequence

    scenes, parts = [], []
    if args.seq is not None:
        seq = Path(args.seq)
        if args.frames:
            first, last = parse_frame_range(args.frames)
            seq = cut_sequence(seq, tmp / f"{seq.name}-{first}-{last}", first, last)
            parts.append(f"{args.seq.name} frames {first}-{last}")
        else:
            parts.append(seq.name)
        scenes.append(seq)
    for seed in args.sim_seeds:
        config = replace(SceneConfig(), seed=seed, frames=args.sim_frames,
                         people=args.sim_people, pan_px_per_frame=args.pan)
        scenes.append(write_sequence(tmp / f"SIM-{seed}", config, progress=False))
    if args.sim_seeds:
        pan = f", pan {args.pan:g} px/frame" if args.pan else ", static camera"
        parts.append(f"generated scenes seeds {' '.join(map(str, args.sim_seeds))} "
                     f"({args.sim_frames} frames{pan})")
    nets = ", ".join(p.name if p.name != "reid.pt" else str(p) for p in args.reid)
    title = (f"{'; '.join(parts)}: HOTA / AssA / IDF1 mean over sequences, IDSW summed; "
             f"Re-ID {nets}" + (" (mean ± sd over networks)" if len(args.reid) > 1 else ""))
    return scenes, title


def row_tracker(features: Optional[tuple], overrides: list[str], feature_overrides: list[str],
                frame_rate: float):
    """Build a row's TrackerConfig: node defaults, features off, ``--set``, its own."""
    from finetrack_ros import settings
    from finetrack_ros.tracker import TrackerConfig

    base = settings.tracker_config(settings.defaults()).replace(FEATURES_OFF)
    base = base.with_overrides(overrides).replace({"frame_rate": frame_rate})
    if features is None:
        return base.replace({"use_appearance": False})
    tuned = TrackerConfig().with_overrides(feature_overrides)  # checked values of --with
    values = {"use_appearance": True}
    for feature in features:
        for key, value in FEATURE_VALUES[feature].items():
            values[key] = value
        for item in feature_overrides:
            key = item.partition("=")[0].strip()
            if any(key.startswith(p) for p in _FEATURE_PREFIX[feature]):
                values[key] = getattr(tuned, key)
    return base.replace(values)


# which --with keys belong to which feature
_FEATURE_PREFIX = {"part": ("part_",), "gallery": ("gallery_",), "cmc": ("camera_",),
                   "relink": ("relink_",), "skip": ("reid_skip_", "reid_refresh_")}


def _row(key: str, label: str, features: Optional[tuple], scenes: list[Path],
         args: argparse.Namespace, tmp: Path) -> RowResult:
    networks = [None] if features is None else list(args.reid)
    result = RowResult(label, skips=bool(features) and "skip" in features)
    for index, network in enumerate(networks):
        scores, seconds, frames, reid = [], 0.0, 0, ReidCount()
        for seq in scenes:
            out = tmp / f"{key}-{index}-{seq.name}.txt"
            elapsed, count = track_sequence(seq, network, features, args, out, reid)
            seconds, frames = seconds + elapsed, frames + count
            scores.append(score(seq, out))
        cell = {m: float(np.mean([s[m] for s in scores])) * 100.0 for m in METRICS}
        cell["IDSW"] = float(sum(s["IDSW"] for s in scores))
        cell["ms"] = seconds / max(frames, 1) * 1000.0
        cell["reid_ms"] = reid.ms / max(reid.frames, 1)
        cell["skipped"] = reid.skipped / max(reid.skipped + reid.embedded, 1) * 100.0
        result.per_network.append(cell)
    return result


@dataclass
class ReidCount:
    """Re-ID work summed over frames: frames, ms, embeddings computed and skipped."""

    frames: int = 0
    ms: float = 0.0
    embedded: int = 0
    skipped: int = 0

    def add(self, result) -> None:
        """Count one ``FrameResult``."""
        self.frames += 1
        self.ms += result.timings_ms.get("reid", 0.0)
        self.embedded += result.reid_embedded
        self.skipped += result.reid_skipped


def track_sequence(seq: Path, network: Optional[Path], features: Optional[tuple],
                   args: argparse.Namespace, out: Path,
                   reid: Optional[ReidCount] = None) -> tuple[float, int]:
    """Track ``seq`` from its det.txt with one row's settings; (seconds, frames tracked).

    ``reid``, when given, counts the Re-ID work of every frame.
    """
    def count_reid(pipeline) -> None:
        if reid is not None:
            pipeline.process = _counted(pipeline.process, reid)

    summary = track_mot(seq, lambda rate: row_tracker(features, args.overrides,
                                                      args.feature_overrides, rate),
                        network, args.threads, out, count_reid)
    return summary.seconds, summary.tracked


def track_mot(seq: Path, tracker_at: Callable, network: Optional[Path], threads: int,
              out: Path, prepare: Optional[Callable] = None):
    """Track a MOT sequence from its det.txt as ``finetrack track`` does; write ``out``.

    Args:
        tracker_at: the sequence's frame rate -> the TrackerConfig to track with.
        network: Re-ID checkpoint, or None for IoU only.
        prepare: called with the pipeline before the first frame (wrap or count its parts).
    Returns:
        The :class:`~finetrack_ros.offline.OfflineSummary`.
    """
    from finetrack_ros import settings
    from finetrack_ros.frame_path import FramePath
    from finetrack_ros.mot import load_detections, open_sequence, write_results
    from finetrack_ros.offline import mot_inputs, track_offline

    sequence = open_sequence(seq)
    num_frames = sequence.num_frames()
    tracker = tracker_at(sequence.info.frame_rate)
    params = {"device": "cpu", "external_detections": True, "num_threads": threads,
              "reid.enabled": network is not None, "reid.checkpoint": str(network or "")}
    pipeline = settings.pipeline_from_params(params, tracker)
    if prepare is not None:
        prepare(pipeline)
    frames = FramePath(pipeline, settings.frame_options(params), report=lambda line: None)
    inputs = mot_inputs(sequence, load_detections(sequence.det_path, num_frames), num_frames,
                        tracker.frame_rate, with_images=pipeline.needs_images)
    summary = track_offline(inputs, frames, num_frames, seq.name, progress=False)
    write_results(out, summary.rows)
    return summary


def _counted(process, reid: ReidCount):
    """Wrap ``TrackingPipeline.process`` so that each frame's Re-ID work is counted."""
    def counted(*args, **kwargs):
        result = process(*args, **kwargs)
        reid.add(result)
        return result
    return counted


def score(seq: Path, results: Path) -> dict[str, float]:
    from finetrack_ros.eval.metrics import SequencePair, evaluate_sequences

    return evaluate_sequences([SequencePair(seq.name, seq / "gt" / "gt.txt", results)])[seq.name]


def _cell(values: list[float], digits: int) -> str:
    mean = f"{np.mean(values):.{digits}f}"
    if len(values) < 2:
        return mean
    return f"{mean} ± {np.std(values, ddof=1):.{digits}f}"


def format_table(results: list[RowResult], num_networks: int) -> str:
    """Markdown table: one row per RowResult, cells mean (± sd over networks)."""
    lines = ["| tracker | HOTA | AssA | IDF1 | IDSW | ms/frame |", "|---|---|---|---|---|---|"]
    for result in results:
        cells = [_cell([c[m] for c in result.per_network], 1) for m in METRICS]
        cells.append(_cell([c["IDSW"] for c in result.per_network], 1 if num_networks > 1
                           and len(result.per_network) > 1 else 0))
        cells.append(f"{np.mean([c['ms'] for c in result.per_network]):.1f}")
        lines.append(f"| {result.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_reid_table(results: list[RowResult]) -> str:
    """Markdown table of each row's Re-ID ms per frame and share of skipped embeddings."""
    lines = ["| tracker | Re-ID ms/frame | embeddings skipped |", "|---|---|---|"]
    for result in results:
        cells = result.per_network
        if "reid_ms" not in cells[0]:
            continue
        lines.append(f"| {result.label} | {np.mean([c['reid_ms'] for c in cells]):.1f} | "
                     f"{np.mean([c['skipped'] for c in cells]):.1f} % |")
    return "\n".join(lines)
