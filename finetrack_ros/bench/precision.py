"""``finetrack bench precision``: what each backend and precision costs in accuracy.

Rows: torch fp32 (the reference), torch bf16, ONNX Runtime fp32 and ONNX Runtime int8
(static quantization by ``finetrack export onnx --int8``'s code, calibrated on frames that are
never scored). Columns, each with its change from torch fp32:

* a MOT sequence (``--seq``, e.g. PETS09 frames 201-397 with ``--frames``; the Re-ID int8 file
  is calibrated on ``--calib-frames``, e.g. 1-200, the part the networks were trained on):
  tracking its public ``det/det.txt`` with the Re-ID network(s) of ``--reid``: HOTA, IDF1,
  IDSW (TrackEval);
* generated scenes (``--sim-seeds``, held out; int8 calibrated on ``--calib-seeds``): the
  whole node pipeline, detector + Re-ID + tracker: HOTA, IDF1, IDSW, and the detector's
  precision and recall at IoU 0.5 (score >= ``--score``).

Speed is ``finetrack bench realtime``'s; this bench runs on one thread and reports accuracy.
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

HELP = ("Accuracy of each backend / precision (torch fp32, bf16; ONNX Runtime fp32, int8): "
        "HOTA, IDF1, detector precision/recall, change from torch fp32.")

# (key, backend, precision)
CONFIGS = (
    ("torch-fp32", "torch", "fp32"),
    ("torch-bf16", "torch", "bf16"),
    ("ort-fp32", "onnxruntime", "fp32"),
    ("ort-int8", "onnxruntime", "int8"),
)
REFERENCE = "torch-fp32"


@dataclass
class Networks:
    """The checkpoints one row runs: .pth files, or int8 .onnx files made for it."""

    detector: Optional[Path]
    reid: list = field(default_factory=list)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reid", type=Path, nargs="+", default=[Path("weights/reid_demo.pth")],
                        help="Re-ID checkpoint(s) (several: mean over them); default the "
                             "demo's")
    parser.add_argument("--detector", type=Path, default=Path("weights/detector_nano_demo.pth"),
                        help="YOLOX checkpoint for the generated scenes (default the demo's)")
    parser.add_argument("--input-size", default="256x320", metavar="HxW",
                        help="detector input (default 256x320, the demo detector's)")
    parser.add_argument("--seq", type=Path, help="MOT sequence scored with its det.txt")
    parser.add_argument("--frames", metavar="FIRST-LAST", help="--seq: frames scored")
    parser.add_argument("--calib-frames", metavar="FIRST-LAST",
                        help="--seq: frames the int8 Re-ID is calibrated on (must not overlap "
                             "--frames)")
    parser.add_argument("--seq-reid", type=Path, nargs="+",
                        help="Re-ID checkpoint(s) for --seq (default --reid)")
    parser.add_argument("--sim-seeds", type=int, nargs="+", default=[],
                        help="held-out generated scenes, tracked with the detector")
    parser.add_argument("--calib-seeds", type=int, nargs="+", default=[9001, 9002],
                        help="generated scenes the int8 networks are calibrated on "
                             "(default 9001 9002)")
    parser.add_argument("--sim-frames", type=int, default=150, help="frames per scene (150)")
    parser.add_argument("--score", type=float, default=0.5,
                        help="detector score threshold of precision/recall (default 0.5)")
    parser.add_argument("--configs", default=",".join(key for key, _, _ in CONFIGS),
                        help="rows, comma separated (default all)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch

    from finetrack_ros.arguments import parse_hw

    if args.seq is None and not args.sim_seeds:
        raise ValueError("bench precision: give --seq and/or --sim-seeds")
    configs = [c for c in CONFIGS if c[0] in args.configs.split(",")]
    if not configs:
        raise ValueError(f"--configs {args.configs}: choose from "
                         f"{[key for key, _, _ in CONFIGS]}")
    args.input_hw = parse_hw(args.input_size)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory(prefix="finetrack_bench_precision_") as name:
        tmp = Path(name)
        results = {key: {} for key, _, _ in configs}
        if args.seq is not None:
            _score_sequence(args, configs, tmp, results)
        if args.sim_seeds:
            _score_scenes(args, configs, tmp, results)
    print(format_table(results, args))
    return 0


def _score_sequence(args, configs, tmp: Path, results: dict) -> None:
    from finetrack_ros.inference.calibration import read_calibration_frames
    from finetrack_ros.mot_cut import cut_sequence, parse_frame_range

    seq = Path(args.seq)
    if args.frames:
        first, last = parse_frame_range(args.frames)
        seq = cut_sequence(seq, tmp / f"{seq.name}-{first}-{last}", first, last)
    networks = list(args.seq_reid or args.reid)
    calib_seq = None
    if any(precision == "int8" for _, _, precision in configs):
        if not args.calib_frames:
            raise ValueError("--calib-frames FIRST-LAST: int8 rows need frames of --seq to "
                             "calibrate on, apart from the scored --frames")
        first, last = parse_frame_range(args.calib_frames)
        calib_seq = cut_sequence(Path(args.seq), tmp / f"calib-{first}-{last}", first, last)
    for key, backend, precision in configs:
        reids = networks
        if precision == "int8":
            calibration = read_calibration_frames(calib_seq)
            reids = [_int8_reid(path, calibration, tmp / f"seq-{i}-reid.onnx")
                     for i, path in enumerate(networks)]
        scores = [_track(seq, None, reid, backend, precision, args, tmp / f"{key}-{i}.txt")
                  for i, reid in enumerate(reids)]
        results[key]["seq"] = _mean(scores)
        print(f"{key}: {seq.name} HOTA {results[key]['seq']['HOTA']:.2f}", flush=True)


def _score_scenes(args, configs, tmp: Path, results: dict) -> None:
    from finetrack_ros.inference.calibration import CalibrationFrames, read_calibration_frames
    from finetrack_ros.sim import SceneConfig, write_sequence
    from finetrack_ros.train.yolox_eval import evaluate_detector

    def scene(seed: int, frames: int) -> Path:
        config = replace(SceneConfig(), seed=seed, frames=frames)
        return write_sequence(tmp / f"SIM-{seed}", config, progress=False)

    scenes = [scene(seed, args.sim_frames) for seed in args.sim_seeds]
    calibration = CalibrationFrames(f"generated scenes {args.calib_seeds}")
    if any(precision == "int8" for _, _, precision in configs):
        for seed in args.calib_seeds:
            part = read_calibration_frames(scene(seed, 60), 32)
            calibration.frames += part.frames
            calibration.boxes += part.boxes
    for key, backend, precision in configs:
        detector, reids = args.detector, list(args.reid)
        if precision == "int8":
            detector = _int8_detector(args, calibration, tmp / "sim-det.onnx")
            reids = [_int8_reid(path, calibration, tmp / f"sim-{i}-reid.onnx")
                     for i, path in enumerate(reids)]
        scores = []
        for i, reid in enumerate(reids):
            per_scene = [_track(seq, detector, reid, backend, precision, args,
                                tmp / f"{key}-{i}-{seq.name}.txt") for seq in scenes]
            scores.append(_mean(per_scene, summed=("IDSW",)))
        results[key]["sim"] = _mean(scores)
        built = _detector(args, detector, backend, precision)
        quality = evaluate_detector(built, scenes, score_threshold=args.score, progress=False)
        results[key]["det"] = {"precision": quality.precision * 100.0,
                               "recall": quality.recall * 100.0}
        print(f"{key}: scenes HOTA {results[key]['sim']['HOTA']:.2f}, detector P "
              f"{quality.precision:.3f} R {quality.recall:.3f}", flush=True)


def _detector(args, checkpoint: Path, backend: str, precision: str):
    from finetrack_ros.detector import YOLOXDetector
    from finetrack_ros.inference.options import InferenceOptions

    return YOLOXDetector(checkpoint, size="auto", input_size=args.input_hw, conf=0.1, nms=0.5,
                         inference=InferenceOptions(backend=backend, precision=precision,
                                                    threads=args.threads))


def _int8_detector(args, calibration, out: Path) -> Path:
    from finetrack_ros.inference.export import export_int8

    if not out.exists():
        detector = _detector(args, args.detector, "torch", "fp32")
        print(export_int8(detector, out, calibration)[1].summary(), flush=True)
    return out


def _int8_reid(path: Path, calibration, out: Path) -> Path:
    from finetrack_ros.inference.export import export_int8
    from finetrack_ros.reid import load_reid

    if not out.exists():
        print(export_int8(load_reid(path, "cpu"), out, calibration)[1].summary(), flush=True)
    return out


def _track(seq: Path, detector: Optional[Path], reid: Path, backend: str, precision: str,
           args, out: Path) -> dict[str, float]:
    """Track one sequence with the node's pipeline; TrackEval scores of the results."""
    from finetrack_ros import settings
    from finetrack_ros.bench.identity import score
    from finetrack_ros.frame_path import FramePath
    from finetrack_ros.mot import load_detections, open_sequence, write_results
    from finetrack_ros.offline import mot_inputs, track_offline

    sequence = open_sequence(seq)
    num_frames = sequence.num_frames()
    params = {"device": "cpu", "backend": backend, "precision": precision,
              "num_threads": args.threads, "reid.checkpoint": str(reid),
              "external_detections": detector is None}
    if detector is not None:
        params.update({"detector.checkpoint": str(detector), "detector.size": "auto",
                       "detector.input_size": list(args.input_hw), "detector.nms": 0.5})
    tracker = settings.tracker_config(settings.defaults()).replace(
        {"frame_rate": sequence.info.frame_rate})
    pipeline = settings.pipeline_from_params(params, tracker)
    frames = FramePath(pipeline, settings.frame_options(params), report=lambda line: None)
    detections = {} if detector is not None else load_detections(sequence.det_path, num_frames)
    inputs = mot_inputs(sequence, detections, num_frames, tracker.frame_rate, with_images=True)
    if detector is not None:  # run the detector: no detections given
        inputs = (replace(item, detections=None) for item in inputs)
    summary = track_offline(inputs, frames, num_frames, seq.name, progress=False)
    write_results(out, summary.rows)
    return score(seq, out)


def _mean(scores: list, summed: tuple = ()) -> dict[str, float]:
    out = {}
    for metric in ("HOTA", "IDF1", "IDSW"):
        values = [s[metric] for s in scores]
        out[metric] = float(np.sum(values) if metric in summed else np.mean(values))
        if metric != "IDSW" and max(values) <= 1.0:
            out[metric] *= 100.0
    return out


def format_table(results: dict, args) -> str:
    """Markdown table: each metric with its change from torch fp32."""
    columns = []
    if args.seq is not None:
        columns += [("seq", "HOTA"), ("seq", "IDF1"), ("seq", "IDSW")]
    if args.sim_seeds:
        columns += [("sim", "HOTA"), ("sim", "IDF1"), ("sim", "IDSW"),
                    ("det", "precision"), ("det", "recall")]
    names = {"seq": Path(args.seq).name if args.seq else "", "sim": "scenes", "det": "detector"}
    lines = ["| backend precision | " + " | ".join(f"{names[g]} {m}" for g, m in columns)
             + " |", "|---" * (len(columns) + 1) + "|"]
    reference = results.get(REFERENCE)
    for key, row in results.items():
        cells = []
        for group, metric in columns:
            value = row[group][metric]
            digits = 0 if metric == "IDSW" else 1
            cell = f"{value:.{digits}f}"
            if reference is not None and key != REFERENCE:
                cell += f" ({value - reference[group][metric]:+.{digits}f})"
            cells.append(cell)
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
