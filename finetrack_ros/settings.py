"""The one parameter table and the one pipeline factory (no ROS): names, defaults, ranges.

``finetrack_node`` declares exactly the parameters of :data:`PARAMETERS` (``ros/`` only turns
them into ROS descriptors); ``config/finetrack.yaml`` and docs/node.md's table are checked against
it by tests; the ``tracker.*`` rows come from :class:`~finetrack_ros.tracker.TrackerConfig`'s
field metadata, which also checks YAML files and the CLI's ``--set``. Names use dots for
sections (``detector.conf``), which ROS 2 parameter files write as nested YAML.

:func:`pipeline_from_params` builds the :class:`~finetrack_ros.pipeline.TrackingPipeline` of
every entry point (node, ``finetrack track``, bag replay, demo, benchmarks) from parameter
values on top of the defaults.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from finetrack_ros.inference.options import BACKENDS, PRECISIONS, InferenceOptions
from finetrack_ros.tracker.config import TrackerConfig

# Value of ``detector.checkpoint`` / ``reid.checkpoint`` that builds RANDOM weights.
# Test and benchmark use only: a random network detects and re-identifies nothing useful.
RANDOM_WEIGHTS = "random"
# Value of ``device`` that picks "cuda" when torch sees a GPU, else "cpu".
AUTO_DEVICE = "auto"
IMAGE_QOS_CHOICES = ("sensor_data", "reliable")
IMAGE_TRANSPORT_CHOICES = ("raw", "compressed")


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter.

    Attributes:
        name: full dotted name, e.g. ``tracker.track_thresh``.
        default: default value; its Python type is the parameter type. Lists give the
            element type with ``array_of`` (a list may be empty).
        description: one line for ``ros2 param describe``.
        low, high: inclusive numeric range, or None for no range.
        runtime: may change while the node is configured (applied on the next frame);
            others take effect on the next configure.
        array_of: element type (int, float, str) for list parameters.
        choices: allowed values of a string parameter.
    """

    name: str
    default: Any
    description: str
    low: Optional[float] = None
    high: Optional[float] = None
    runtime: bool = False
    array_of: Optional[type] = None
    choices: tuple = ()


# The node runs FineTrack: appearance on, and ByteTrack's MOT17 evaluation thresholds (the
# settings of the FineTrack paper). Every other tracker default is TrackerConfig's (ByteTrack's),
# which the library and ``finetrack track`` keep. Each value below was measured on real footage
# (PETS09-S2L1-dev, both halves, ``finetrack bench defaults``; docs/identity.md, "Defaults
# measured on real footage").
NODE_TRACKER_DEFAULTS = {"use_appearance": True, "track_thresh": 0.6, "min_box_area": 100.0,
                         # track memory in seconds: 6 s beat ByteTrack's 1 s (30 frames at
                         # 30 fps) by +3.2 / +1.8 HOTA on the two halves; 4 and 8 s were worse
                         "lost_track_seconds": 6.0,
                         # ... in seconds of the camera the node really sees
                         "frame_rate_from_stamps": True,
                         # occlusion-aware part distances: +0.5 HOTA / +1.1 IDF1 on one half,
                         # +0.0 / +0.1 on the other
                         "part_weighting": "visibility",
                         # the gated gallery: +0.1 HOTA / +0.7 IDF1 on one half, equal on the
                         # other. Adaptive Re-ID (reid_skip_iou) stays off: -0.05 / -0.14
                         # HOTA; turn it on for CPU real time (docs/realtime.md)
                         "gallery_seconds": 30.0}


def _tracker_specs() -> list[ParamSpec]:
    specs = []
    for f in dataclasses.fields(TrackerConfig):
        default = NODE_TRACKER_DEFAULTS.get(f.name, f.default)
        array_of = None
        if isinstance(default, tuple):
            default, array_of = list(default), f.metadata.get("items", str)
        specs.append(ParamSpec(f"tracker.{f.name}", default, f.metadata["doc"],
                               f.metadata["low"], f.metadata["high"], runtime=True,
                               array_of=array_of, choices=f.metadata.get("choices", ())))
    return specs


PARAMETERS: tuple[ParamSpec, ...] = (
    # --- node -----------------------------------------------------------------------
    ParamSpec("device", AUTO_DEVICE, "torch device: auto (cuda if available, else cpu), "
              "cpu, cuda, cuda:1"),
    ParamSpec("backend", "torch", "inference backend of both networks: torch, or "
              "onnxruntime (CPU; .onnx checkpoints of 'finetrack export onnx', or .pth "
              "exported at configure)", choices=BACKENDS),
    ParamSpec("precision", "fp32", "fp32; bf16 (torch, CPUs with AVX-512 BF16/AMX); fp16 "
              "(torch, CUDA); int8 (onnxruntime, .onnx files of 'finetrack export onnx --int8 "
              "--calib')", choices=PRECISIONS),
    ParamSpec("num_threads", 0, "CPU threads of each network (torch and ONNX Runtime "
              "intra-op); 0 = one per core, and with torch on the CPU fewer while other "
              "processes keep cores busy (read from /proc/stat each second)", 0, 256),
    ParamSpec("spin_wait", False, "let idle ONNX Runtime threads busy-wait for work; off, "
              "they sleep: on 2 cores spinning pools halved the fps, idle or shared"),
    ParamSpec("image_qos", "sensor_data", "image subscription QoS: sensor_data "
              "(best effort, depth 1) or reliable (depth 1)", choices=IMAGE_QOS_CHOICES),
    ParamSpec("image_transport", "raw", "raw: sensor_msgs/Image on 'image'; compressed: "
              "sensor_msgs/CompressedImage on 'image/compressed'",
              choices=IMAGE_TRANSPORT_CHOICES),
    ParamSpec("external_detections", False, "take vision_msgs/Detection2DArray on "
              "'detections' (paired with images by header stamp) instead of running YOLOX"),
    ParamSpec("sync_queue_size", 10, "images / detection arrays kept while waiting for "
              "their partner with the same stamp (external_detections)", 1, 1000),
    ParamSpec("class_names", ["person"], "class names, index = detector class id "
              "(published as ObjectHypothesis.class_id)", array_of=str),
    ParamSpec("publish_embeddings", False, "fill TrackedObject.embedding with the Re-ID "
              "feature", runtime=True),
    ParamSpec("publish_lost_tracks", False, "also publish LOST tracks on ~/tracked_objects",
              runtime=True),
    ParamSpec("trail_length", 30, "box-center points per id drawn on ~/annotated_image",
              1, 1000),
    ParamSpec("time_reset_sec", 1.0, "an image stamped this many seconds before the previous "
              "one resets the tracker (bag loop); smaller steps back are skipped as out of "
              "order", 0.001, 1.0e6, runtime=True),
    ParamSpec("no_image_warning_sec", 5.0, "warn once if no image arrived this many "
              "seconds after activation (often a QoS mismatch)", 0.1, 3600.0),
    ParamSpec("max_detections", 200, "most detections tracked per frame, the highest "
              "scores (bounds Re-ID crops and tracker time in a detection storm); the rest "
              "are cut, counted and warned about; raise for dense crowds if Re-ID keeps up",
              1, 100000, runtime=True),
    ParamSpec("transport_loss_warning", 0.05, "warn once (and WARN on /diagnostics) when "
              "this fraction of the camera's frames, judged from the image stamps, never "
              "reached the node (not counting frames it dropped while busy); 1 = never",
              0.0, 1.0, runtime=True),
    # --- detector (YOLOX) ------------------------------------------------------------
    ParamSpec("detector.checkpoint", "", "YOLOX checkpoint (.pth, ByteTrack/YOLOX layout); "
              "'random' = random weights, tests only"),
    ParamSpec("detector.size", "auto", "YOLOX size: nano, tiny, s, m, l, x; auto = size and "
              "class count (and raw_bgr when stored) read from the checkpoint",
              choices=("auto", "nano", "tiny", "s", "m", "l", "x")),
    ParamSpec("detector.num_classes", 1, "classes of the checkpoint (1 = ByteTrack person, "
              "80 = COCO)", 1, 10000),
    ParamSpec("detector.input_size", [608, 1088], "network input [height, width], "
              "multiples of 32", array_of=int),
    ParamSpec("detector.conf", 0.1, "minimum detection score kept", 0.0, 1.0),
    ParamSpec("detector.nms", 0.7, "class-aware NMS IoU threshold", 0.0, 1.0),
    ParamSpec("detector.raw_bgr", False, "network takes raw BGR 0..255 (official YOLOX "
              ">= 0.2 checkpoints); false = ByteTrack normalisation"),
    ParamSpec("detector.keep_classes", [], "class ids to track; empty = all", array_of=int),
    # --- Re-ID (FineTrack) -----------------------------------------------------------
    ParamSpec("reid.enabled", True, "run FineTrack Re-ID on each detection"),
    ParamSpec("reid.checkpoint", "", "FineTrack Re-ID checkpoint (save_reid format); "
              "'random' = random small network, tests only"),
    ParamSpec("reid.num_parts", 0, "expected part count K; 0 = as stored in the checkpoint",
              0, 256),
    ParamSpec("reid.crop_size", [], "expected crop [height, width]; empty = as stored in "
              "the checkpoint", array_of=int),
    ParamSpec("reid.batch_size", 64, "crops per Re-ID forward pass", 1, 4096),
    # --- world: people on the ground in 3D (finetrack_ros/world/) ---------------------
    ParamSpec("world.camera_info_topic", "", "sensor_msgs/CameraInfo topic of the camera; "
              "set, the node puts people on the ground (~/tracks_3d, ~/markers, "
              "TrackedObject.world_*) with tf2 from the image's frame_id to "
              "world.ground_frame; empty = 3D off"),
    ParamSpec("world.depth_topic", "", "sensor_msgs/Image of depth registered to the "
              "camera (16UC1 mm or 32FC1 m, the CameraInfo's size); set, each box with a "
              "valid depth is placed from it (legs hidden need no foot); empty = ground "
              "plane only"),
    ParamSpec("world.depth_max_age_sec", 0.1, "oldest depth image used, s before the image "
              "(exact stamp first, else the newest older one; older: ground plane for that "
              "frame)", 0.0, 10.0),
    ParamSpec("world.ground_frame", "base_footprint", "tf frame whose z = 0 plane is the "
              "ground people stand on (base_footprint, odom, map)"),
    ParamSpec("world.target_frame", "", "frame of ~/tracks_3d and ~/markers; empty = "
              "world.ground_frame"),
    ParamSpec("world.person_height", 1.7, "height of each person's box on ~/tracks_3d, m",
              0.1, 5.0),
    ParamSpec("world.person_radius", 0.3, "radius of each person's cylinder (box half "
              "width) on ~/tracks_3d and ~/markers, m", 0.01, 5.0),
    ParamSpec("world.max_range_m", 50.0, "farthest foot point used, m from the camera "
              "along the ground (a foot near the horizon lands absurdly far)", 0.1, 10000.0),
    ParamSpec("world.foot_noise_px", 4.0, "foot point noise in pixels; on the ground it "
              "sets each measurement's noise (larger: smoother, slower)", 0.01, 1000.0),
    ParamSpec("world.accel_noise", 1.0, "person's acceleration noise, m/s^2 (larger follows "
              "turns faster, smaller gives steadier velocities)", 0.001, 100.0),
    ParamSpec("world.forget_seconds", 5.0, "a track not measured on the ground this long "
              "leaves the world filter, s", 0.01, 3600.0),
    # --- tracker (ByteTrack + FineTrack fusion) ---------------------------------------
    *_tracker_specs(),
)

BY_NAME = {spec.name: spec for spec in PARAMETERS}


def defaults() -> dict[str, Any]:
    """Flat ``{name: default}`` of every parameter."""
    return {spec.name: spec.default for spec in PARAMETERS}


def validate(name: str, value: Any) -> None:
    """Raise ValueError naming the parameter when ``value`` is outside its range/choices."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise ValueError(f"unknown parameter '{name}'")
    if name.startswith("tracker."):  # TrackerConfig checks type and range, as for --set
        tracker_config({name: value})
        return
    _check_type(spec, value)
    if spec.choices and value not in spec.choices:
        raise ValueError(f"parameter '{name}' = {value!r}: choose one of {list(spec.choices)}")
    if spec.low is not None and not isinstance(value, (bool, str, list)):
        if not spec.low <= value <= spec.high:
            raise ValueError(f"parameter '{name}' = {value!r}: outside [{spec.low}, {spec.high}]")
    if name in ("detector.input_size", "reid.crop_size") and value:
        if len(value) != 2 or min(value) < 32:
            raise ValueError(f"parameter '{name}' = {list(value)}: expected [height, width], "
                             "each >= 32")


def parse_value(name: str, text: str) -> Any:
    """Read a ``NAME=VALUE`` command-line value as YAML (``[480,640]``, ``true``) and check it.

    Raises ValueError naming the parameter, as :func:`validate`.
    """
    import yaml

    value = yaml.safe_load(text) if text.strip() else text
    validate(name, value)
    return value


def _is_a(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _check_type(spec: ParamSpec, value: Any) -> None:
    """ValueError unless ``value`` has the parameter's type (ROS checks this in the node)."""
    if spec.array_of is not None:
        ok = isinstance(value, (list, tuple)) and all(_is_a(v, spec.array_of) for v in value)
        kind = f"a list of {spec.array_of.__name__}"
    else:
        ok, kind = _is_a(value, type(spec.default)), type(spec.default).__name__
    if not ok:
        raise ValueError(f"parameter '{spec.name}' = {value!r}: expected {kind}")


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": 2}`` → ``{"a": {"b": 1}, "c": 2}`` (one level of sections)."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        section, dot, key = name.partition(".")
        if dot:
            out.setdefault(section, {})[key] = value
        else:
            out[name] = value
    return out


def tracker_config(flat: dict[str, Any], base: Optional[TrackerConfig] = None) -> TrackerConfig:
    """Build a TrackerConfig from the ``tracker.*`` entries of ``flat`` (others ignored)."""
    values = {k.partition(".")[2]: v for k, v in flat.items() if k.startswith("tracker.")}
    return (base or TrackerConfig()).replace(values, source="node parameters")


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; other values unchanged."""
    if device != AUTO_DEVICE:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pipeline_from_params(params: Optional[dict[str, Any]] = None,
                         tracker: Optional[TrackerConfig] = None):
    """Build the tracking pipeline of every entry point: the one factory.

    A :class:`~finetrack_ros.pipeline.TrackingPipeline` of flat ``params`` on top of
    :func:`defaults` (each value validated).

    Args:
        params: flat parameter values (``{"detector.conf": 0.3, ...}``).
        tracker: a complete TrackerConfig (a YAML preset of ``finetrack track``) that replaces
            the ``tracker.*`` values.

    Raises:
        ValueError / FileNotFoundError: a bad value, a missing checkpoint, or weights that do
            not fit the configured network, naming the parameter and file.
    """
    flat = {**defaults(), **(params or {})}
    for name, value in (params or {}).items():
        validate(name, value)
    return build_pipeline(nest(flat), tracker)


def build_pipeline(settings: dict[str, Any], tracker: Optional[TrackerConfig] = None):
    """Build a :class:`~finetrack_ros.pipeline.TrackingPipeline` from nested settings.

    ``settings`` is :func:`nest` of the parameter values; ``tracker`` replaces the ``tracker``
    section.
    """
    from finetrack_ros.inference.threads import apply_thread_policy, follow_free_cores
    from finetrack_ros.pipeline import TrackingPipeline
    from finetrack_ros.tracker import ByteTracker

    inference = inference_options(settings)
    apply_thread_policy(inference)
    if tracker is None:
        tracker = tracker_config({f"tracker.{k}": v for k, v in settings["tracker"].items()})
    detector = None
    if not settings["external_detections"]:
        detector = _build_detector(settings["detector"], inference)
    extractor = None
    if settings["reid"]["enabled"]:
        extractor = _build_extractor(settings["reid"], inference)
    byte_tracker = ByteTracker(tracker)
    if extractor is not None and extractor.match_distance is not None:
        byte_tracker.reid_match_distance = float(extractor.match_distance["distance"])
    pipeline = TrackingPipeline(byte_tracker, detector, extractor,
                                settings["class_names"], settings["detector"]["keep_classes"])
    if detector or extractor:
        pipeline.cpu_share = follow_free_cores(inference)
    return pipeline


def describe_gallery(pipeline) -> str:
    """One line for logs: whether the identity gallery is on, with which take-back distance."""
    tracker = pipeline.tracker
    if tracker.config.gallery_seconds <= 0 or not pipeline.uses_appearance:
        return "identity gallery off"
    distance, source = tracker.gallery_thresh()
    if tracker.reid_match_distance is not None and tracker.config.gallery_thresh_from_reid:
        from finetrack_ros.reid.match_distance import describe

        return (f"identity gallery take-back distance {describe(pipeline.extractor.match_distance)}"
                f" from {source}")
    return f"identity gallery take-back distance {distance:.3f} from {source}"


def inference_options(settings: dict[str, Any]) -> InferenceOptions:
    """How both networks run, from nested settings (``backend``, ``precision``, threads).

    ``device: auto`` is the CPU for ONNX Runtime (which runs there) whether or not a GPU is
    present.
    """
    auto_cpu = settings["backend"] == "onnxruntime" and settings["device"] == AUTO_DEVICE
    return InferenceOptions(backend=settings["backend"], precision=settings["precision"],
                            device="cpu" if auto_cpu else resolve_device(settings["device"]),
                            threads=int(settings["num_threads"]),
                            spin_wait=bool(settings["spin_wait"]))


def frame_options(flat: dict[str, Any]):
    """:class:`~finetrack_ros.frame_path.FrameOptions` from flat parameter values."""
    from finetrack_ros.frame_path import FrameOptions

    values = {**defaults(), **flat}
    return FrameOptions(publish_lost_tracks=bool(values["publish_lost_tracks"]),
                        publish_embeddings=bool(values["publish_embeddings"]),
                        time_reset_sec=float(values["time_reset_sec"]),
                        max_detections=int(values["max_detections"]))


def _build_detector(section: dict[str, Any], inference: InferenceOptions):
    import warnings

    from finetrack_ros.detector import YOLOXDetector

    checkpoint, size = section["checkpoint"], section["size"]
    if not checkpoint:
        raise ValueError("detector.checkpoint is empty: give a YOLOX checkpoint path, or set "
                         "external_detections to true")
    if checkpoint == RANDOM_WEIGHTS and size == "auto":
        size = "s"  # random weights store no size: YOLOX-s, the ByteTrack MOT17 model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random-weights warning: asked for explicitly
        return YOLOXDetector(
            checkpoint=None if checkpoint == RANDOM_WEIGHTS else checkpoint,
            size=size, num_classes=section["num_classes"],
            input_size=tuple(section["input_size"]), conf=section["conf"],
            nms=section["nms"], raw_bgr=section["raw_bgr"], inference=inference,
        )


def _build_extractor(section: dict[str, Any], inference: InferenceOptions):
    from finetrack_ros.reid import FeatureExtractor, FineTrackReID, ReIDConfig

    checkpoint = section["checkpoint"]
    expected = {}
    if section["num_parts"]:
        expected["num_parts"] = int(section["num_parts"])
    if section["crop_size"]:
        expected["crop_size"] = tuple(int(v) for v in section["crop_size"])
    if not checkpoint:
        raise ValueError("reid.checkpoint is empty: give a FineTrack Re-ID checkpoint path, "
                         "or set reid.enabled to false")
    if checkpoint == RANDOM_WEIGHTS:
        return FeatureExtractor(FineTrackReID(ReIDConfig.preset("small", **expected)),
                                inference.device, section["batch_size"], inference)
    extractor = FeatureExtractor.load(checkpoint, inference.device, section["batch_size"],
                                      inference)
    for field, value in expected.items():
        stored = getattr(extractor.config, field)
        if stored != value:
            shown = list(value) if isinstance(value, tuple) else value
            raise ValueError(f"reid.checkpoint {checkpoint}: stored {field} = {stored!r} "
                             f"but parameter reid.{field} = {shown!r}; set reid.{field} "
                             "to match (or to 0 / [] to accept the file)")
    return extractor


def markdown_table(extra: tuple[ParamSpec, ...] = ()) -> str:
    """Return the parameter table of docs/node.md, generated from :data:`PARAMETERS`.

    ``extra`` rows follow (e.g. the node's ``autostart``); ``test_settings.py`` checks that
    docs/node.md holds the table.
    """
    lines = ["| parameter | default | range / choices | run time | meaning |",
             "|---|---|---|---|---|"]
    for spec in (*PARAMETERS, *extra):
        if spec.choices:
            allowed = ", ".join(spec.choices)  # a bare | would split the table cell
        elif spec.low is not None:
            allowed = f"[{spec.low:g}, {spec.high:g}]"
        else:
            allowed = ""
        lines.append(f"| `{spec.name}` | `{_yaml_value(spec.default)}` | {allowed} | "
                     f"{'yes' if spec.runtime else ''} | {spec.description} |")
    return "\n".join(lines) + "\n"


def _yaml_value(value: Any) -> str:
    """Write a default as a ROS 2 params file does."""
    import json

    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value) if isinstance(value, list) else str(value)
