"""``finetrack bench soak``: check that the node's memory stays flat over thousands of frames.

Starts the installed ``finetrack_node`` (a subprocess, as ``ros2 run`` would, with small
random-weight networks), feeds it frames in lock-step (publish one image, wait for its
``~/tracks``) so every frame is processed, and samples the node process's resident memory
(``VmRSS`` from ``/proc/<pid>/status``) every ``--every`` frames. It prints the series and
the growth after warm-up: a leak (tracks, features or messages kept per frame) shows as a
steady climb, while allocator noise stays within a few MB.

Default mode ``external``: ``--boxes`` moving boxes arrive as ``vision_msgs`` detections
beside each image, and every ``--churn`` frames the people are replaced by new ones, so
tracks are born, lost and removed all the time (where per-track state would leak).
``detector`` mode runs the random YOLOX on each frame instead.
"""
from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from finetrack_ros.arguments import parse_wh

HELP = "Run the real node for N frames and print its RSS series and growth after warm-up."

NODE_TRACKS = "/finetrack_node/tracks"
IMAGE_TOPIC = "/soak/image"
DETECTIONS_TOPIC = "/soak/detections"


@dataclass
class SoakConfig:
    """What ``bench soak`` runs."""

    frames: int = 5000  # frames fed to the node
    every: int = 500  # RSS sample period, frames
    warmup: int = 500  # frames before the growth is measured (caches, allocator pools)
    mode: str = "external"  # external detections, or "detector" (random YOLOX per frame)
    frame_hw: tuple[int, int] = (240, 320)  # image (H, W)
    boxes: int = 8  # people per frame in external mode
    churn: int = 150  # frames before the people are replaced by new identities
    detector_input: tuple[int, int] = (128, 160)  # random YOLOX-nano input (H, W)
    reid_crop: tuple[int, int] = (64, 32)  # random Re-ID crop (H, W)
    frame_timeout_s: float = 20.0  # wait for one frame's tracks before giving up
    startup_timeout_s: float = 120.0  # node start, configure, activate, discovery
    params: dict = field(default_factory=dict)  # node parameters on top (--set)


@dataclass
class SoakResult:
    """RSS samples (frame index → MB) and the timing of the run."""

    samples: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    log_path: Path | None = None

    def growth_after(self, warmup: int) -> tuple[float, float, float]:
        """(growth MB from the first sample at or after ``warmup`` to the last, min, max)."""
        after = [mb for frame, mb in self.samples if frame >= warmup] or \
            [mb for _, mb in self.samples[-1:]]
        return after[-1] - after[0], min(after), max(after)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SoakConfig()
    parser.add_argument("--frames", type=int, default=d.frames,
                        help=f"frames fed to the node (default {d.frames})")
    parser.add_argument("--every", type=int, default=d.every,
                        help=f"sample RSS every N frames (default {d.every})")
    parser.add_argument("--warmup", type=int, default=d.warmup,
                        help=f"frames before growth is measured (default {d.warmup})")
    parser.add_argument("--mode", choices=("external", "detector"), default=d.mode,
                        help="external detections beside each image, or the random YOLOX "
                             "(default external)")
    parser.add_argument("--boxes", type=int, default=d.boxes,
                        help=f"people per frame in external mode (default {d.boxes})")
    parser.add_argument("--frame-size", type=parse_wh, default=d.frame_hw[::-1],
                        metavar="WxH", help=f"image size (default {d.frame_hw[1]}x"
                                            f"{d.frame_hw[0]})")
    parser.add_argument("--set", dest="params", action="append", default=[],
                        metavar="NAME=VALUE", help="node parameter on top of the small random "
                        "networks, e.g. backend=onnxruntime or detector.checkpoint=det.onnx "
                        "(repeatable): time the real node with your settings")


def run(args: argparse.Namespace) -> int:
    config = SoakConfig(frames=args.frames, every=args.every, warmup=args.warmup,
                        mode=args.mode, boxes=args.boxes,
                        frame_hw=(args.frame_size[1], args.frame_size[0]),
                        params=parse_params(args.params))
    if config.frames < 1 or config.every < 1 or config.warmup < 0 or config.boxes < 0:
        raise ValueError(f"bench soak: need --frames >= 1, --every >= 1, --warmup >= 0, "
                         f"--boxes >= 0; got {config.frames}, {config.every}, "
                         f"{config.warmup}, {config.boxes}")
    h, w = config.frame_hw
    print(f"bench soak: finetrack_node, {config.frames} frames {w}x{h} bgr8 in lock-step, "
          f"mode {config.mode}" + (f" ({config.boxes} boxes, new people every "
                                   f"{config.churn} frames)" if config.mode == "external"
                                   else "") + f", RSS every {config.every} frames")
    print(f"{'frame':>7}{'RSS MB':>10}")
    result = soak(config, on_sample=lambda frame, mb: print(f"{frame:>7}{mb:>10.1f}",
                                                            flush=True))
    print_growth(result, config)
    return 0


def print_growth(result: SoakResult, config: SoakConfig) -> None:
    growth, low, high = result.growth_after(config.warmup)
    fps = config.frames / result.seconds if result.seconds > 0 else float("inf")
    print(f"growth after warm-up (frame {config.warmup} to {result.samples[-1][0]}): "
          f"{growth:+.1f} MB; range {low:.1f}-{high:.1f} MB; {fps:.1f} frames/s")


def parse_params(items: list[str]) -> dict:
    """``["backend=onnxruntime", ...]`` → checked node parameter values (YAML typed)."""
    from finetrack_ros import settings

    params = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected NAME=VALUE")
        params[name.strip()] = settings.parse_value(name.strip(), raw)
    return params


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def node_parameters(config: SoakConfig) -> dict:
    params = {
        "autostart": True, "image_qos": "reliable", "device": "cpu",
        "external_detections": config.mode == "external",
        "detector.checkpoint": "random", "detector.size": "nano",
        "detector.input_size": list(config.detector_input),
        "reid.checkpoint": "random", "reid.crop_size": list(config.reid_crop),
        "tracker.use_appearance": True,
    }
    # a given checkpoint stores its own architecture: do not impose the random ones'
    if "detector.checkpoint" in config.params:
        params["detector.size"] = "auto"
    if "reid.checkpoint" in config.params:
        params["reid.crop_size"] = []
    return {**params, **config.params}


def soak(config: SoakConfig, on_sample: Callable[[int, float], None] | None = None
         ) -> SoakResult:
    """Run the node for ``config.frames`` frames, sampling its RSS.

    RSS is sampled before the first frame (index 0, networks loaded and active) and after
    every ``config.every`` frames, each sample also handed to ``on_sample(frame, mb)`` as it
    is taken (progress of a long run).
    """
    import tempfile

    from finetrack_ros.ros import runtime

    runtime.check_ros_available()
    domain_id = runtime.pick_domain_id()
    remaps = {"image": IMAGE_TOPIC, "detections": DETECTIONS_TOPIC}
    command = runtime.node_command() + runtime.ros_args(node_parameters(config), remaps)
    result = SoakResult()
    log_dir = Path(tempfile.mkdtemp(prefix="finetrack_soak_"))
    result.log_path = log_dir / "node.log"
    with runtime.rclpy_session("finetrack_soak", domain_id) as session, \
            runtime.running_node(command, runtime.ros_environment(domain_id),
                                 result.log_path) as proc:
        feeder = _Feeder(session, config)
        if not session.spin_until(feeder.ready, config.startup_timeout_s, proc.check_running):
            raise RuntimeError(f"bench soak: the node did not become active within "
                               f"{config.startup_timeout_s:.0f} s; log: {result.log_path}")
        start = time.monotonic()
        for index in range(-1, config.frames):
            if index >= 0:
                feeder.step(index, proc)
            if (index + 1) % config.every == 0 or index + 1 == config.frames:
                result.samples.append((index + 1, rss_mb(proc.popen.pid)))
                if on_sample is not None:
                    on_sample(*result.samples[-1])
        result.seconds = time.monotonic() - start
    shutil.rmtree(log_dir, ignore_errors=True)  # kept only when the run failed
    result.log_path = None
    return result


class _Feeder:
    """Publishes image (+ detections) of frame i and waits for the node's tracks of it."""

    def __init__(self, session, config: SoakConfig) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        self.session, self.config = session, config
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node = session.node
        self.images = node.create_publisher(Image, IMAGE_TOPIC, qos)
        self.detections = node.create_publisher(Detection2DArray, DETECTIONS_TOPIC, qos)
        self.answered: set[tuple[int, int]] = set()
        self.tracks = node.create_subscription(
            Detection2DArray, NODE_TRACKS,
            lambda msg: self.answered.add((msg.header.stamp.sec, msg.header.stamp.nanosec)),
            qos)
        rng = np.random.default_rng(0)
        h, w = config.frame_hw
        self.pixels = [rng.integers(0, 256, (h, w, 3), np.uint8).tobytes() for _ in range(4)]

    def ready(self) -> bool:
        """Return True when the node is active (subscribes the images) and its tracks reach us."""
        return self.images.get_subscription_count() > 0 and \
            self.tracks.get_publisher_count() > 0

    def step(self, index: int, proc) -> None:
        from sensor_msgs.msg import Image
        from std_msgs.msg import Header

        stamp_ns = 1_000_000_000 + index * 33_333_333  # 30 Hz
        header = Header(frame_id="soak")
        header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        h, w = self.config.frame_hw
        if self.config.mode == "external":
            self.detections.publish(self._detections(header, index))
        self.images.publish(Image(header=header, height=h, width=w, encoding="bgr8",
                                  is_bigendian=0, step=w * 3,
                                  data=self.pixels[index % len(self.pixels)]))
        key = (header.stamp.sec, header.stamp.nanosec)
        if not self.session.spin_until(lambda: key in self.answered,
                                       self.config.frame_timeout_s, proc.check_running):
            raise RuntimeError(f"bench soak: no tracks for frame {index} within "
                               f"{self.config.frame_timeout_s:.0f} s; log: {proc.log_path}")
        self.answered.discard(key)

    def _detections(self, header, index: int):
        """``boxes`` 30x70 people walking right; replaced by new ones every ``churn``."""
        from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

        h, w = self.config.frame_hw
        phase = index % self.config.churn
        msg = Detection2DArray(header=header)
        for k in range(self.config.boxes):
            det = Detection2D(header=header)
            det.bbox.center.position.x = float((k * 37 + 2 * phase) % (w - 30) + 15)
            det.bbox.center.position.y = float((k * 53) % (h - 70) + 35)
            det.bbox.size_x, det.bbox.size_y = 30.0, 70.0
            result = ObjectHypothesisWithPose()
            result.hypothesis.class_id, result.hypothesis.score = "person", 0.9
            det.results = [result]
            msg.detections.append(det)
        return msg
