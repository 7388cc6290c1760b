"""``finetrack bench storm``: crowds and detection storms (issue 22), in one run.

1. **The tracker alone** at N tracks and N boxes per frame (people walking in a 1920x1080
   frame, as ``bench tracker``; a 10 % miss rate, mixed scores): ours (only overlapping
   pairs costed, each connected block solved on its own) against the dense association of
   official ByteTrack (``ByteTracker(dense_association=True)``: ``lap.lapjv`` on the whole
   tracks x boxes matrix). Median ms per ``update`` after warm-up, and the peak memory the
   updates added (``VmHWM`` after resetting it, minus ``VmRSS`` before: C allocations
   included). Each run has a process of its own (the tracker is single-threaded numpy).
2. **The node fed one storm**: the installed ``finetrack_node`` (small random networks,
   external detections, as ``bench soak``) tracks good frames in lock-step, then gets one
   ``Detection2DArray`` of ``--storm-boxes`` boxes, then good frames again. Time from
   publishing the storm to the tracks of the next good frame, and the RSS it added.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

HELP = ("Crowds and detection storms: tracker ms/frame and memory at N tracks and boxes "
        "(ours vs dense ByteTrack association), and the node fed one huge message.")

STORM_IMAGE = "/storm/image"
STORM_DETECTIONS = "/storm/detections"
NODE_TRACKS = "/finetrack_node/tracks"


@dataclass
class TrackerRun:
    """One tracker configuration's figures."""

    objects: int
    method: str  # "ours" or "dense"
    median_ms: float
    p95_ms: float
    peak_mb: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--objects", type=int, nargs="+", default=[200, 1000, 5000],
                        help="tracks and boxes per frame, one row each (default 200 1000 5000)")
    parser.add_argument("--frames", type=int, default=30, help="frames timed per run")
    parser.add_argument("--warmup", type=int, default=5, help="frames run before timing")
    parser.add_argument("--dense-frames", type=int, default=5,
                        help="frames timed for dense runs above 2000 objects (seconds each)")
    parser.add_argument("--storm-boxes", type=int, default=20_000,
                        help="boxes in the node's storm message (default 20000)")
    parser.add_argument("--no-node", action="store_true", help="skip the node part")
    parser.add_argument("--set", dest="params", action="append", default=[],
                        metavar="NAME=VALUE", help="node parameter for the node part, e.g. "
                        "max_detections=200 (repeatable)")
    parser.add_argument("--no-dense", action="store_true", help="skip the dense runs")


def run(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.warmup < 0 or min(args.objects) < 1 or args.storm_boxes < 1:
        raise ValueError("bench storm: need --frames >= 1, --warmup >= 0, --objects >= 1, "
                         f"--storm-boxes >= 1; got {args.frames}, {args.warmup}, "
                         f"{args.objects}, {args.storm_boxes}")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores")
    print("tracker alone, per-frame update (own process, one core): median / p95 ms, "
          "peak memory added MB")
    print(f"{'N':>6}  {'ours med':>9} {'ours p95':>9} {'ours MB':>8}  "
          f"{'dense med':>9} {'dense p95':>9} {'dense MB':>8}  {'dense/ours':>10}")
    for n in args.objects:
        ours = tracker_run(n, "ours", args.frames, args.warmup)
        dense = None
        if not args.no_dense:
            frames = args.frames if n <= 2000 else min(args.frames, args.dense_frames)
            dense = tracker_run(n, "dense", frames, min(args.warmup, 2) if n > 2000
                                else args.warmup)
        print(_tracker_row(ours, dense), flush=True)
    if not args.no_node:
        print(f"node: one {args.storm_boxes}-box Detection2DArray between good frames "
              "(finetrack_node, random small networks, external detections)")
        from finetrack_ros.bench.soak import parse_params

        print(node_storm(args.storm_boxes, parse_params(args.params)).text())
    return 0


def _tracker_row(ours: TrackerRun, dense: Optional[TrackerRun]) -> str:
    cells = f"{ours.objects:>6}  {ours.median_ms:9.2f} {ours.p95_ms:9.2f} {ours.peak_mb:8.1f}"
    if dense is None:
        return cells + f"  {'-':>9} {'-':>9} {'-':>8}  {'-':>10}"
    return cells + (f"  {dense.median_ms:9.2f} {dense.p95_ms:9.2f} {dense.peak_mb:8.1f}  "
                    f"{dense.median_ms / ours.median_ms:10.1f}")


# --- the tracker alone ---------------------------------------------------------------------
def tracker_run(objects: int, method: str, frames: int, warmup: int) -> TrackerRun:
    """Time one configuration in a process of its own (a clean memory peak)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_tracker_child, args=(send, objects, method, frames,
                                                         warmup))
    child.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        result = None
    child.join()
    if not isinstance(result, TrackerRun):
        raise RuntimeError(f"bench storm: the {method} run at N={objects} failed "
                           f"(exit code {child.exitcode}): {result}")
    return result


def _tracker_child(send, objects: int, method: str, frames: int, warmup: int) -> None:
    try:
        send.send(_time_tracker(objects, method, frames, warmup))
    except Exception as err:  # noqa: BLE001 - reported by the parent with the run's name
        send.send(f"{type(err).__name__}: {err}")


def _time_tracker(objects: int, method: str, frames: int, warmup: int) -> TrackerRun:
    from finetrack_ros.bench.tracker import SceneConfig, make_scene
    from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput

    scene = make_scene(objects, warmup + frames, SceneConfig(), seed=objects)
    tracker = ByteTracker(TrackerConfig(), dense_association=method == "dense")
    for boxes, scores, _ in scene[:warmup]:
        tracker.update(TrackerInput(boxes, scores))
    base = reset_peak_rss()
    times = []
    for boxes, scores, _ in scene[warmup:]:
        start = time.perf_counter()
        tracker.update(TrackerInput(boxes, scores))
        times.append((time.perf_counter() - start) * 1000.0)
    peak = proc_status_mb("VmHWM") - base
    return TrackerRun(objects, method, float(np.median(times)),
                      float(np.percentile(times, 95)), peak)


def proc_status_mb(key: str, pid: str = "self") -> float:
    """``VmRSS`` / ``VmHWM`` of a process in MB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def reset_peak_rss(pid: str = "self") -> float:
    """Reset the process's peak RSS (``VmHWM``) to its RSS now; return that RSS in MB."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass  # an older kernel: the peak then includes earlier ones
    return proc_status_mb("VmRSS", pid)


# --- the node -------------------------------------------------------------------------------
@dataclass
class StormResult:
    """The node's answer to one storm."""

    boxes: int
    build_s: float  # building the message in this process (not counted)
    storm_reply_s: float  # publish → the storm frame's tracks
    next_good_s: float  # publish → the tracks of the next good frame
    tracks_after: int  # boxes tracked in that frame (2 expected)
    rss_before_mb: float
    rss_added_mb: float  # RSS after the next good frame minus before the storm
    peak_added_mb: float  # the node's peak RSS during the storm minus before it
    cut_logged: bool

    def text(self) -> str:
        return (f"  storm frame answered in {self.storm_reply_s:.2f} s; next good frame "
                f"tracked {self.next_good_s:.2f} s after the storm was published, with "
                f"{self.tracks_after} of 2 boxes\n"
                f"  node RSS {self.rss_before_mb:.0f} MB before; added {self.rss_added_mb:+.1f} "
                f"MB after, peak {self.peak_added_mb:+.1f} MB; cut logged: "
                f"{'yes' if self.cut_logged else 'NO'} (message built in {self.build_s:.1f} s, "
                "not counted)")


def node_storm(boxes: int, params: Optional[dict] = None, warm_frames: int = 10
               ) -> StormResult:
    """Run the node, warm it up, send one storm, then good frames; measure.

    ``params``: node parameters on top of ``bench soak``'s small random networks.
    """
    import tempfile

    from finetrack_ros.bench.soak import SoakConfig, node_parameters
    from finetrack_ros.ros import runtime

    runtime.check_ros_available()
    domain_id = runtime.pick_domain_id()
    params = node_parameters(SoakConfig(boxes=2, params=params or {}))
    command = runtime.node_command() + runtime.ros_args(
        params, {"image": STORM_IMAGE, "detections": STORM_DETECTIONS})
    log_path = Path(tempfile.mkdtemp(prefix="finetrack_storm_")) / "node.log"
    with runtime.rclpy_session("finetrack_storm", domain_id) as session, \
            runtime.running_node(command, runtime.ros_environment(domain_id),
                                 log_path) as proc:
        feeder = _StormFeeder(session, proc)
        if not session.spin_until(feeder.ready, 120.0, proc.check_running):
            raise RuntimeError(f"bench storm: the node did not become active; log {log_path}")
        for k in range(warm_frames):
            feeder.send(k, feeder.good)
        pid = str(proc.popen.pid)
        start = time.perf_counter()
        storm = feeder.storm_boxes(boxes)
        build_s = time.perf_counter() - start
        before = reset_peak_rss(pid)
        start = time.perf_counter()
        feeder.send(warm_frames, storm)
        storm_reply = time.perf_counter() - start
        tracks = feeder.send(warm_frames + 1, feeder.good)
        next_good = time.perf_counter() - start
        peak = proc_status_mb("VmHWM", pid)
        after = proc_status_mb("VmRSS", pid)
        return StormResult(boxes, build_s, storm_reply, next_good, tracks, before,
                           after - before, peak - before, "max_detections" in proc.output())


class _StormFeeder:
    """Publishes an image and its detections, waits for the node's tracks of it."""

    def __init__(self, session, proc) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        self.session, self.proc = session, proc
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node = session.node
        self.images = node.create_publisher(Image, STORM_IMAGE, qos)
        self.detections = node.create_publisher(Detection2DArray, STORM_DETECTIONS, qos)
        self.replies: dict[tuple[int, int], int] = {}
        self.tracks = node.create_subscription(
            Detection2DArray, NODE_TRACKS, lambda msg: self.replies.__setitem__(
                (msg.header.stamp.sec, msg.header.stamp.nanosec), len(msg.detections)), qos)
        self.good = np.array([[30, 60, 70, 160], [190, 70, 230, 170]], np.float64)
        self.pixels = np.full((240, 320, 3), 90, np.uint8).tobytes()

    def ready(self) -> bool:
        return self.images.get_subscription_count() > 0 and \
            self.tracks.get_publisher_count() > 0

    def storm_boxes(self, count: int):
        """Return a Detection2DArray of ``count`` random 20x40 boxes (header set on send)."""
        rng = np.random.default_rng(22)
        xy = rng.uniform(0, 300, (count, 2))
        return self._message(np.concatenate([xy, xy + [20, 40]], axis=1),
                             rng.uniform(0.1, 1.0, count))

    def send(self, index: int, boxes_or_msg) -> int:
        """Publish frame ``index`` (30 Hz stamps) and wait for its tracks; their count."""
        from sensor_msgs.msg import Image
        from std_msgs.msg import Header

        header = Header(frame_id="storm")
        header.stamp.sec, header.stamp.nanosec = divmod(1_700_000_000 * 10**9
                                                        + index * 33_333_333, 10**9)
        msg = boxes_or_msg if not isinstance(boxes_or_msg, np.ndarray) else \
            self._message(boxes_or_msg, np.full(len(boxes_or_msg), 0.9))
        msg.header = header
        for det in msg.detections:
            det.header = header
        self.detections.publish(msg)
        self.images.publish(Image(header=header, height=240, width=320, encoding="bgr8",
                                  is_bigendian=0, step=960, data=self.pixels))
        key = (header.stamp.sec, header.stamp.nanosec)
        if not self.session.spin_until(lambda: key in self.replies, 120.0,
                                       self.proc.check_running):
            raise RuntimeError(f"bench storm: no tracks for frame {index}; log "
                               f"{self.proc.log_path}")
        return self.replies.pop(key)

    @staticmethod
    def _message(boxes: np.ndarray, scores: np.ndarray):
        from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

        msg = Detection2DArray()
        for (x1, y1, x2, y2), score in zip(boxes, scores):
            det = Detection2D()
            det.bbox.center.position.x, det.bbox.center.position.y = (x1 + x2) / 2, (y1 + y2) / 2
            det.bbox.size_x, det.bbox.size_y = float(x2 - x1), float(y2 - y1)
            result = ObjectHypothesisWithPose()
            result.hypothesis.class_id, result.hypothesis.score = "person", float(score)
            det.results = [result]
            msg.detections.append(det)
        return msg
