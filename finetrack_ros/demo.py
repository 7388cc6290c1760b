"""``finetrack demo``: the whole product on one held-out scene, end to end.

1. **Input**: a freshly generated synthetic street (:mod:`finetrack_ros.sim`, a seed no
   shipped weights were trained on) written as a rosbag (compressed images, camera info,
   ground truth, GT-derived noisy detections); or a user's bag; or a user's video.
2. **Online**: the installed ROS 2 ``finetrack_node`` runs on the bag with real rclpy
   (:func:`finetrack_ros.ros.online_replay.replay_into_node`: lock-step replay with
   ``use_sim_time``, no frame dropped); its ``~/tracks`` are recorded to a bag and its
   ``~/annotated_image`` to an MP4.
3. **Baseline**: IoU-only ByteTrack on the same detections (offline replay with
   ``reid.enabled: false``, same detector or the same detections topic, same tracker
   parameters) — :func:`finetrack_ros.bag.replay.replay_bag`.
4. **Metrics** (when there is ground truth): HOTA / MOTA / IDF1 / IDSW of both with
   :func:`finetrack_ros.eval.evaluate_sequences`, a table and a PNG chart.

Output folder layout::

    scene/            the generated MOT sequence (generated input only)
    input_bag/        the bag the node was fed (generated or video input)
    node_output_bag/  the node's recorded ~/tracks and ~/tracked_objects (+ _node.log)
    annotated.mp4     the node's ~/annotated_image
    results/          finetrack.txt (node), bytetrack_iou.txt (baseline), MOTChallenge
    metrics.txt, metrics.csv, comparison.png, summary.json

Heavy and ROS imports happen inside the functions; importing this module needs neither.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from finetrack_ros import package_paths

# Shipped demo weights (weights/README.md says how each was trained): the sourced install's
# share/finetrack_ros/weights, else the source checkout's weights/ (package_paths). None:
# looked up when the demo runs (importing this module touches no file); tests set them.
WEIGHTS_DIR: Optional[Path] = None
DEFAULT_REID: Optional[Path] = None  # None: WEIGHTS_DIR's reid_demo.pth
# Tracker parameters of both methods in the demo (see weights/README.md for how they were
# chosen): ByteTrack's buffer doubled (60 frames at 30 fps: 2 s), so people hidden behind an
# occluder for a while can be re-found, and our appearance-only relink stage (off by default).
DEMO_TRACKER = {"track_buffer": 60, "relink_thresh": 0.5, "relink_max_dist": 3.0}
DEFAULT_DETECTOR_GLOB = "detector_*_demo.pth"
# Method names in the table, chart and results files.
FINETRACK = "FineTrack (Re-ID)"
BYTETRACK_IOU = "ByteTrack (IoU only)"
RESULT_FILES = {FINETRACK: "finetrack.txt", BYTETRACK_IOU: "bytetrack_iou.txt"}
# Metrics shown in the chart: percentages on the left axis, ID switches on the right.
CHART_FRACTIONS = ("HOTA", "MOTA", "IDF1")
CHART_COUNTS = ("IDSW",)


@dataclass
class DemoConfig:
    """Everything ``finetrack demo`` needs; the CLI fills it from its arguments.

    Attributes:
        out: output folder (created; must be empty or absent).
        video, bag: a user's input instead of a generated scene (at most one).
        detector: YOLOX checkpoint; None = the shipped ``weights/detector_*_demo.pth`` if
            present, else the bag's detections topic (external-detections mode).
        detector_size, detector_input, detector_nms: architecture, network input (H, W) and
            NMS IoU of ``detector`` (defaults: the shipped YOLOX-nano, weights/README.md).
        reid: FineTrack Re-ID checkpoint; None = ``weights/reid_demo.pth`` if present.
        use_bag_detections: use the bag's detections topic even when detector weights exist.
        frames, seed, size, fps, people: the generated scene (size = (width, height)).
        device: torch device of the node and the baseline ("cpu", "cuda", "auto").
        image_topic, detections_topic, gt_topic: topics of a user's bag.
        tracker: tracker parameters for both methods (``tracker.frame_rate`` comes from the
            bag); the lost-track buffer is raised from ByteTrack's 30 frames so that people
            hidden behind an occluder for a couple of seconds can be re-identified.
        params: other node parameters for both methods (e.g. ``backend``, ``precision``).
    """

    out: Path
    video: Optional[Path] = None
    bag: Optional[Path] = None
    detector: Optional[Path] = None
    detector_size: str = "nano"
    detector_input: tuple = (256, 320)
    detector_nms: float = 0.5
    reid: Optional[Path] = None
    use_bag_detections: bool = False
    frames: int = 150
    seed: int = 9004  # no weights trained and no setting chosen on it (weights/README.md)
    size: tuple = (640, 480)
    fps: float = 15.0
    people: int = 10
    device: str = "cpu"
    image_topic: str = "/camera/image_raw"
    detections_topic: str = "/detections"
    gt_topic: str = "/ground_truth"
    tracker: dict = field(default_factory=lambda: dict(DEMO_TRACKER))
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.video is not None and self.bag is not None:
            raise ValueError("demo: give --video or --bag, not both")
        if self.frames < 2:
            raise ValueError(f"demo: --frames must be >= 2, got {self.frames}")


@dataclass
class DemoInput:
    """The bag the demo runs on: topics, frame rate, ground truth (MOT text) if any."""

    bag: Path
    name: str
    image_topic: str
    detections_topic: Optional[str]
    gt_txt: Optional[Path]
    fps: float
    frames: int


@dataclass
class DemoModels:
    """Which networks run, and a sentence per choice for the report."""

    detector: Optional[Path]
    reid: Optional[Path]
    notes: list = field(default_factory=list)


def prepare_output(out: Path) -> Path:
    """Create ``out``; refuse a non-empty folder so no earlier result is overwritten."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"demo: output folder {out} exists and is not empty; pick another --out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def prepare_input(config: DemoConfig, out: Path) -> DemoInput:
    """Generate the scene (or convert the video) into ``out/input_bag``; describe the bag."""
    from finetrack_ros.bag.writer import BagTopics, write_mot_bag, write_video_bag

    topics = BagTopics()
    if config.bag is not None:
        return describe_bag(Path(config.bag), config, out)
    if config.video is not None:
        write_video_bag(config.video, out / "input_bag", compressed=True)
        return describe_bag(out / "input_bag", config, out, image_topic=topics.compressed_image)
    from finetrack_ros.sim import SceneConfig, write_sequence

    width, height = config.size
    scene = SceneConfig(width=width, height=height, fps=config.fps, frames=config.frames,
                        people=config.people, seed=config.seed)
    name = f"SIM-{config.seed}"
    seq = write_sequence(out / "scene", scene, name=name)
    write_mot_bag(seq, out / "input_bag", compressed=True)
    return DemoInput(out / "input_bag", name, topics.compressed_image, topics.detections,
                     seq / "gt" / "gt.txt", config.fps, config.frames)


def describe_bag(bag_path: Path, config: DemoConfig, out: Path,
                 image_topic: Optional[str] = None) -> DemoInput:
    """Topics, frame rate and ground truth of a bag (GT exported to ``out/gt.txt``)."""
    from finetrack_ros import messages as m
    from finetrack_ros.bag.mot_export import bag_topic_to_mot
    from finetrack_ros.bag.reader import IMAGE_TYPES, BagReader, bag_folder
    from finetrack_ros.bag.replay import bag_fps

    bag_path = bag_folder(Path(bag_path))
    image_topic = image_topic or config.image_topic
    with BagReader(bag_path) as bag:
        if image_topic not in bag.topics and f"{image_topic}/compressed" in bag.topics:
            image_topic = f"{image_topic}/compressed"
        bag.require_topic(image_topic, IMAGE_TYPES)
        fps = bag_fps(bag, image_topic) or config.fps
        stamps = [m.header_stamp_ns(msg.header) for _, msg in bag.messages(image_topic)]
        detections = config.detections_topic if config.detections_topic in bag.topics else None
        has_gt = config.gt_topic in bag.topics
    gt_txt = None
    if has_gt:
        gt_txt = bag_topic_to_mot(bag_path, config.gt_topic, out / "gt.txt", frame_stamps=stamps)
    return DemoInput(bag_path, bag_path.name, image_topic, detections, gt_txt, fps, len(stamps))


def shipped_weights() -> tuple[Path, Path]:
    """Return (the shipped weights folder, its demo Re-ID file), looked up now."""
    folder = WEIGHTS_DIR
    if folder is None:
        try:
            folder = package_paths.weights_dir()
        except FileNotFoundError:  # neither an install nor a checkout: --detector / --reid
            folder = package_paths.SOURCE_ROOT / "weights"
    return folder, DEFAULT_REID or folder / package_paths.DEMO_REID


def choose_models(config: DemoConfig, data: DemoInput) -> DemoModels:
    """Detector (or the bag's detections) and Re-ID weights: given, shipped, or none."""
    weights_dir, default_reid = shipped_weights()
    notes = []
    detector = Path(config.detector) if config.detector else None
    if detector is None and not config.use_bag_detections:
        shipped = sorted(weights_dir.glob(DEFAULT_DETECTOR_GLOB))
        detector = shipped[0] if shipped else None
    if config.use_bag_detections:
        detector = None
    if detector is not None:
        if not detector.is_file():
            raise FileNotFoundError(f"demo: --detector {detector} not found")
        notes.append(f"detections: YOLOX-{config.detector_size} {detector}")
    elif data.detections_topic:
        why = "as asked" if config.use_bag_detections else f"no {DEFAULT_DETECTOR_GLOB} in " \
              f"{weights_dir} and no --detector"
        notes.append(f"detections: the bag's {data.detections_topic} topic "
                     f"(external-detections mode; {why})")
    else:
        raise ValueError(f"demo: {data.bag} has no {config.detections_topic} topic and no "
                         f"detector weights were found: pass --detector CKPT")
    reid = Path(config.reid) if config.reid else (default_reid if default_reid.is_file() else None)
    if reid is not None and not reid.is_file():
        raise FileNotFoundError(f"demo: --reid {reid} not found")
    notes.append(f"Re-ID: FineTrack {reid}" if reid else
                 f"Re-ID: NONE ({default_reid} missing and no --reid): both methods are "
                 "IoU-only, the comparison shows no difference")
    return DemoModels(detector, reid, notes)


def node_parameters(config: DemoConfig, models: DemoModels, data: DemoInput) -> dict:
    """Return the flat node parameters (dotted names) of the node and the baseline.

    Weight paths are absolute, since the node runs as a subprocess.
    """
    params = {"device": config.device, "tracker.frame_rate": float(data.fps), **config.params}
    params.update({f"tracker.{k}": v for k, v in config.tracker.items()})
    if models.detector is not None:
        params.update({"detector.checkpoint": str(Path(models.detector).absolute()),
                       "detector.size": config.detector_size,
                       "detector.input_size": [int(v) for v in config.detector_input],
                       "detector.nms": float(config.detector_nms)})
    params["reid.enabled"] = models.reid is not None
    params["tracker.use_appearance"] = models.reid is not None
    if models.reid is not None:
        params["reid.checkpoint"] = str(Path(models.reid).absolute())
    return params


def baseline_pipeline(params: dict, external_detections: bool):
    """Build the node's pipeline from the same parameters, Re-ID off (IoU-only ByteTrack)."""
    from finetrack_ros import settings

    return settings.pipeline_from_params({
        **params, "reid.enabled": False, "tracker.use_appearance": False,
        "external_detections": external_detections})


def run_online(data: DemoInput, models: DemoModels, params: dict, out: Path):
    """Run the ROS node on the bag (:func:`replay_into_node`); export its tracks to MOT text."""
    from finetrack_ros.bag.mot_export import bag_topic_to_mot
    from finetrack_ros.ros.online_replay import OnlineReplayConfig, replay_into_node

    detections = None if models.detector is not None else data.detections_topic
    result = replay_into_node(
        data.bag, out / "node_output_bag", params,
        OnlineReplayConfig(image_topic=data.image_topic, detections_topic=detections),
        video_path=out / "annotated.mp4", video_fps=data.fps)
    bag_topic_to_mot(result.tracks_bag, result.tracks_topic,
                     out / "results" / RESULT_FILES[FINETRACK], frame_stamps=result.image_stamps)
    return result


def run_baseline(data: DemoInput, models: DemoModels, params: dict, out: Path):
    """IoU-only ByteTrack offline on the same detections; returns the replay summary."""
    from finetrack_ros.bag.replay import replay_bag

    external = models.detector is None
    pipeline = baseline_pipeline(params, external)
    return replay_bag(data.bag, pipeline, out / "results" / RESULT_FILES[BYTETRACK_IOU],
                      image_topic=data.image_topic,
                      detections_topic=data.detections_topic if external else None)


def evaluate_methods(data: DemoInput, out: Path) -> dict:
    """Score both result files against the ground truth: ``{method: metrics}``."""
    from finetrack_ros.eval import SequencePair, evaluate_sequences

    rows = {}
    for method, filename in RESULT_FILES.items():
        pair = SequencePair(data.name, data.gt_txt, out / "results" / filename, data.frames)
        rows[method] = evaluate_sequences([pair])[data.name]
    return rows


def plot_comparison(metrics: dict, path: Path, title: str) -> Path:
    """Bar chart: HOTA/MOTA/IDF1 (%) per method, and ID switches on a second panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    methods = list(metrics)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.6),
                                      gridspec_kw={"width_ratios": [3, 1]})
    x, bar = np.arange(len(CHART_FRACTIONS)), 0.8 / len(methods)
    for i, method in enumerate(methods):
        values = [100 * metrics[method][c] for c in CHART_FRACTIONS]
        bars = left.bar(x + i * bar, values, bar, label=method)
        left.bar_label(bars, fmt="%.1f", fontsize="x-small")
        counts = right.bar([i], [metrics[method][c] for c in CHART_COUNTS], 0.6)
        right.bar_label(counts, fmt="%d", fontsize="x-small")
    left.set_xticks(x + bar * (len(methods) - 1) / 2, CHART_FRACTIONS)
    left.set_ylim(0, 105)
    left.set_ylabel("%")
    left.legend(fontsize="small", loc="lower right")
    right.set_xticks(range(len(methods)), [m.split(" ")[0] for m in methods])
    right.set_title("ID switches", fontsize="small")
    fig.suptitle(title, fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(metrics: dict, data: DemoInput, out: Path) -> str:
    """metrics.txt / metrics.csv / comparison.png; returns the printed table."""
    from finetrack_ros.eval.report import format_table, write_csv

    table = format_table(metrics)
    (out / "metrics.txt").write_text(f"{data.name}\n{table}\n")
    write_csv(metrics, out / "metrics.csv")
    plot_comparison(metrics, out / "comparison.png",
                    f"{data.name}: FineTrack vs IoU-only ByteTrack, same detections")
    return table


def run_demo(config: DemoConfig, log=print) -> dict:
    """Run the whole demo (module docstring); returns the summary written to summary.json."""
    start = time.perf_counter()
    out = prepare_output(config.out)
    data = prepare_input(config, out)
    models = choose_models(config, data)
    for note in models.notes:
        log(f"demo: {note}")
    params = node_parameters(config, models, data)
    online = run_online(data, models, params, out)
    log(f"demo: {online.line()} -> {out / 'annotated.mp4'}")
    baseline = run_baseline(data, models, params, out)
    log(f"demo: IoU-only baseline {baseline.line()}")
    summary = {"input": str(data.bag), "sequence": data.name, "frames": data.frames,
               "notes": models.notes, "node_parameters": params,
               "node": {"frames_sent": online.frames_sent, "frames_tracked": online.frames_tracked,
                        "frames_dropped": online.frames_dropped, "seconds": online.seconds},
               "metrics": None}
    if data.gt_txt is not None:
        metrics = evaluate_methods(data, out)
        summary["metrics"] = metrics
        summary["table"] = write_report(metrics, data, out)
    else:
        log(f"demo: no ground truth in {data.bag}: no metrics table or chart")
    summary["seconds"] = time.perf_counter() - start
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
