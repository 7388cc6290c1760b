"""``finetrack_node``: camera images in, FineTrack tracks out (a ROS 2 lifecycle node).

Lifecycle (as yolo_ros / nav2): parameters are declared in ``__init__``; ``configure`` loads
the networks (:func:`settings.build_pipeline`) and creates the publishers; ``activate``
subscribes; ``deactivate`` unsubscribes; ``cleanup`` releases networks and publishers. With
the ``autostart`` parameter the node configures and activates itself (no lifecycle manager).

Topics (relative names, remap in launch):
    in   image (sensor_msgs/Image) or image/compressed (sensor_msgs/CompressedImage)
    in   detections (vision_msgs/Detection2DArray), only with external_detections
    out  ~/tracks (vision_msgs/Detection2DArray, id = track id)
    out  ~/tracked_objects (finetrack_ros/TrackedObjectArray)
    out  ~/annotated_image (sensor_msgs/Image, only while subscribed)
    out  ~/label_info (vision_msgs/LabelInfo, transient local)
    3D, with world.camera_info_topic (ros/world_outputs.py; tf2 camera -> world.ground_frame):
    in   <world.camera_info_topic> (sensor_msgs/CameraInfo)
    in   <world.depth_topic> (sensor_msgs/Image, registered depth), only when set
    out  ~/tracks_3d (vision_msgs/Detection3DArray), ~/markers (visualization_msgs/MarkerArray)
    out  ~/debug/processing_time_ms, ~/debug/pipeline_latency_ms (std_msgs/Float32)
    out  /diagnostics (diagnostic_msgs/DiagnosticArray, 1 Hz, any lifecycle state)

Per frame the node runs :class:`finetrack_ros.frame_path.FramePath`, the same code as the
offline replay: stamps are checked (a jump back of ``time_reset_sec`` resets the tracker, a bad
stamp is skipped), any failure in one frame is logged, counted and skipped; the node never
dies on a message.
"""
from __future__ import annotations

import faulthandler
import signal
import sys
import time
from typing import Any, Optional

import rclpy
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleState, Node, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Float32
from vision_msgs.msg import Detection2DArray, LabelInfo

from finetrack_ros import diagnostics, messages, package_paths, settings
from finetrack_ros.detection_cdr import parse_detection_array
from finetrack_ros.frame_messages import FrameMessageBuilder
from finetrack_ros.frame_path import FramePath, TrackedFrame
from finetrack_ros.msg import TrackedObjectArray
from finetrack_ros.ros.health import HealthReporter
from finetrack_ros.ros.rclpy_types import rclpy_type
from finetrack_ros.ros.world_outputs import WorldOutputs
from finetrack_ros.stamp_sync import ExactTimeSync

NODE_NAME = "finetrack_node"
# Parameter added to settings.PARAMETERS: only meaningful for the ROS node itself.
AUTOSTART = settings.ParamSpec(
    "autostart", False, "configure and activate on start-up (no lifecycle manager needed)")
# Depth of the output publishers' queues (messages).
OUTPUT_DEPTH = 10
# Longest wait of the spin loop (s): bounds how long an idle node takes to notice Ctrl-C.
SPIN_WAKEUP_S = 0.5

_ARRAY_TYPES = {int: Parameter.Type.INTEGER_ARRAY, float: Parameter.Type.DOUBLE_ARRAY,
                str: Parameter.Type.STRING_ARRAY}


def image_qos(name: str, depth: int = 1) -> QoSProfile:
    """QoS of the image (and detections) subscription: ``sensor_data`` = best effort."""
    reliability = (ReliabilityPolicy.BEST_EFFORT if name == "sensor_data"
                   else ReliabilityPolicy.RELIABLE)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=DurabilityPolicy.VOLATILE)


def _descriptor(spec: settings.ParamSpec) -> ParameterDescriptor:
    text = spec.description + (f" ({'|'.join(spec.choices)})" if spec.choices else "")
    if not spec.runtime:
        text += " [applied on configure]"
    descriptor = ParameterDescriptor(name=spec.name, description=text)
    if spec.low is not None and isinstance(spec.default, int):
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.low), to_value=int(spec.high), step=1)]
    elif spec.low is not None:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    return descriptor


def declare_parameters(node: Node) -> None:
    """Declare every parameter of :data:`settings.PARAMETERS` (plus ``autostart``)."""
    for spec in (*settings.PARAMETERS, AUTOSTART):
        descriptor = _descriptor(spec)
        if spec.array_of is None:
            node.declare_parameter(spec.name, spec.default, descriptor)
            continue
        kind = _ARRAY_TYPES[spec.array_of]
        # typed declaration: an empty list default would otherwise become a byte array
        param = node.declare_parameter(spec.name, kind, descriptor)
        if param.type_ == Parameter.Type.NOT_SET:
            node.set_parameters([Parameter(spec.name, kind, list(spec.default))])


def _plain(value: Any) -> Any:
    """Parameter values as plain Python (arrays come back as array.array)."""
    return value if isinstance(value, (bool, int, float, str)) else list(value)


class FineTrackNode(Node):
    """Lifecycle node running :class:`~finetrack_ros.pipeline.TrackingPipeline` on images."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        declare_parameters(self)
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.frames: Optional[FramePath] = None
        self.sync: Optional[ExactTimeSync] = None
        self.build: Optional[FrameMessageBuilder] = None  # tracked frame -> messages
        self.world: Optional[WorldOutputs] = None  # 3D outputs (off unless configured so)
        self.outputs: dict[str, Any] = {}
        self.inputs: list = []
        self.no_image_timer = None
        self.configured = False
        self.frames_in = 0
        self.frames_out = 0
        self.labels_published = 0  # class names in the last ~/label_info
        # /diagnostics from the start: an operator also sees why configure failed
        self.health = HealthReporter(self, self._counters, self.param)

    # --- parameters ------------------------------------------------------------------
    def param(self, name: str) -> Any:
        return _plain(self.get_parameter(name).value)

    def flat_params(self) -> dict[str, Any]:
        """``{name: value}`` of every table parameter (see :mod:`finetrack_ros.settings`)."""
        return {spec.name: self.param(spec.name) for spec in settings.PARAMETERS}

    def _check_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for p in params:
            spec = settings.BY_NAME.get(p.name)
            if spec is None:
                continue
            if self.configured and not spec.runtime:
                return SetParametersResult(successful=False, reason=(
                    f"'{p.name}' is applied on configure: deactivate and clean up first"))
            try:
                settings.validate(p.name, _plain(p.value))
            except ValueError as err:
                return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list[Parameter]) -> None:
        if self.frames is None:
            return
        changed = {p.name: _plain(p.value) for p in params if p.name.startswith("tracker.")}
        if changed:
            self.frames.set_tracker_config(
                settings.tracker_config(changed, self.frames.tracker_config))
            self.get_logger().info(f"tracker parameters changed: {changed}")
        self.frames.set_options(settings.frame_options(self.flat_params()))

    # --- lifecycle -------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the networks and create publishers → inactive (or unconfigured on failure)."""
        flat = self.flat_params()
        try:
            pipeline = settings.build_pipeline(settings.nest(flat))
        except Exception as err:  # noqa: BLE001 - any bad file: log it, stay unconfigured
            reason = str(err) or type(err).__name__
            self.get_logger().error(f"configure failed: {reason}")
            self.health.configure_failed(reason)
            return TransitionCallbackReturn.FAILURE
        self.frames = FramePath(pipeline, settings.frame_options(flat),
                                report=self.get_logger().warning)
        if pipeline.cpu_share is not None:  # num_threads 0: say when torch's threads change
            pipeline.cpu_share.report = self.get_logger().info
        self.sync = ExactTimeSync(flat["sync_queue_size"])
        self.build = FrameMessageBuilder(rclpy_type, self.frames, flat["trail_length"])
        self._create_publishers()
        self.world = WorldOutputs(self, flat)
        self.configured = True
        self.health.configured(pipeline, settings.inference_options(settings.nest(flat)).device)
        mode = "external detections" if flat["external_detections"] else "YOLOX"
        reid = "FineTrack Re-ID" if pipeline.uses_appearance else "IoU only"
        self.get_logger().info(f"configured: {mode}, {reid}, device "
                               f"{settings.resolve_device(flat['device'])}; "
                               f"{package_paths.describe_models(pipeline, flat)}; "
                               f"{settings.describe_gallery(pipeline)}")
        return super().on_configure(state)

    def _create_publishers(self) -> None:
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        make = self.create_lifecycle_publisher
        self.outputs = {
            "tracks": make(Detection2DArray, "~/tracks", OUTPUT_DEPTH),
            "tracked_objects": make(TrackedObjectArray, "~/tracked_objects", OUTPUT_DEPTH),
            "annotated_image": make(Image, "~/annotated_image", OUTPUT_DEPTH),
            "label_info": make(LabelInfo, "~/label_info", latched),
            "processing_time": make(Float32, "~/debug/processing_time_ms", OUTPUT_DEPTH),
            "latency": make(Float32, "~/debug/pipeline_latency_ms", OUTPUT_DEPTH),
        }

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the inputs and publish label info → active."""
        result = super().on_activate(state)  # activates the lifecycle publishers
        qos = image_qos(self.param("image_qos"))
        if self.param("image_transport") == "compressed":
            sub = self.create_subscription(CompressedImage, "image/compressed", self._on_image, qos)
        else:
            sub = self.create_subscription(Image, "image", self._on_image, qos)
        self.inputs = [sub]
        self.world.activate()
        if self.param("external_detections"):
            det_qos = image_qos(self.param("image_qos"), self.param("sync_queue_size"))
            # raw: read from the bytes (detection_cdr), not as one Python object per box
            self.inputs.append(self.create_subscription(
                Detection2DArray, "detections", self._on_detections, det_qos, raw=True))
        self._publish_label_info()
        self.frames_in = 0
        self.health.activated(sub.topic_name)
        self.no_image_timer = self.create_timer(
            self.param("no_image_warning_sec"), self._warn_no_image,
            clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(f"active: listening on {sub.topic_name}")
        return result

    def _publish_label_info(self) -> None:
        """~/label_info with every class name known now (external detections add names)."""
        threshold = 0.0 if self.param("external_detections") else self.param("detector.conf")
        header = messages.make_header(rclpy_type, self.get_clock().now().nanoseconds, "")
        names = self.frames.classes.names
        self.outputs["label_info"].publish(messages.label_info_msg(rclpy_type, header, names,
                                                                   threshold))
        self.labels_published = len(names)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe → inactive; the tracker keeps its tracks."""
        self._unsubscribe()
        self.health.deactivated()
        self.get_logger().info(f"inactive: {self.frames_out} frames tracked, "
                               f"{self.frames.bad.count} bad frames skipped")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release networks and publishers → unconfigured."""
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything → finalized."""
        self._unsubscribe()
        self._release()
        return super().on_shutdown(state)

    def _unsubscribe(self) -> None:
        for sub in self.inputs:
            self.destroy_subscription(sub)
        self.inputs = []
        if self.world is not None:
            self.world.deactivate()
        if self.no_image_timer is not None:
            self.destroy_timer(self.no_image_timer)
            self.no_image_timer = None

    def _release(self) -> None:
        for pub in self.outputs.values():
            self.destroy_lifecycle_publisher(pub)
        self.outputs = {}
        if self.world is not None:
            self.world.release()
        self.frames = self.sync = self.build = self.world = None
        self.configured = False
        self.health.cleaned_up()

    def _counters(self) -> diagnostics.Counters:
        """Return the cumulative counts for /diagnostics (transport ones: HealthReporter)."""
        counts = diagnostics.Counters(frames_received=self.frames_in,
                                      frames_tracked=self.frames_out)
        if self.frames is not None:
            counts.bad_messages, counts.invalid_boxes = (self.frames.bad.count,
                                                         self.frames.dropped_boxes)
            counts.boxes_cut, counts.frames_cut = self.frames.boxes_cut, self.frames.frames_cut
        return counts

    def _warn_no_image(self) -> None:
        self.destroy_timer(self.no_image_timer)
        self.no_image_timer = None
        if self.frames_in == 0 and self.inputs:
            topic = self.inputs[0].topic_name
            self.get_logger().warning(
                f"no image received on {topic} after {self.param('no_image_warning_sec')} s. "
                f"Is the camera publishing (ros2 topic info -v {topic})? A QoS mismatch is the "
                f"usual cause: image_qos is '{self.param('image_qos')}'; a best-effort camera "
                "needs sensor_data, a reliable one works with either")

    # --- per frame -------------------------------------------------------------------
    def _on_image(self, msg: Any) -> None:
        self.frames_in += 1
        if self.frames is None:
            return
        self.health.image_received(msg)  # stamps: frames lost before the node
        if not self.param("external_detections"):
            self._process(msg, None)
            return
        pair = self.sync.add_first(_stamp_key(msg), msg)
        if pair is not None:
            self._process(*pair)

    def _on_detections(self, data: bytes) -> None:
        if self.sync is None:
            return
        try:
            msg = parse_detection_array(data)
        except ValueError as err:  # not a Detection2DArray: a bad message, never a crash
            self.frames.bad.skip("?", str(err))
            return
        pair = self.sync.add_second(_stamp_key(msg), msg)
        if pair is not None:
            self._process(*pair)

    def _process(self, image_msg: Any, detections_msg: Optional[Detection2DArray]) -> None:
        busy_since, latency_ms = time.monotonic(), None
        try:
            latency_ms = self._track_and_publish(image_msg, detections_msg)
        finally:  # frames arriving meanwhile are dropped by the node, not lost in transport
            self.health.frame_done(busy_since, latency_ms)

    def _track_and_publish(self, image_msg: Any, detections_msg: Optional[Detection2DArray]
                           ) -> Optional[float]:
        """Track one frame and publish it; return its latency in ms (None: not published)."""
        start = time.perf_counter()
        tracked = self.frames.process(image_msg, detections_msg)
        if tracked is None:
            return None  # bad frame: FramePath logged and counted it
        try:
            self._publish(tracked)
        except Exception as err:  # noqa: BLE001 - e.g. a value a message field cannot hold
            self.frames.bad.skip(f"{tracked.header.stamp.sec}", f"publishing failed: {err}")
            return None
        self.frames_out += 1
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        self.outputs["processing_time"].publish(Float32(data=elapsed_ms))
        latency_ns = self.get_clock().now().nanoseconds - messages.header_stamp_ns(tracked.header)
        self.outputs["latency"].publish(Float32(data=float(latency_ns / 1e6)))
        return latency_ns / 1e6

    def _publish(self, tracked: TrackedFrame) -> None:
        pubs = self.outputs
        if len(self.frames.classes.names) != self.labels_published:  # a class name learnt
            self._publish_label_info()
        world = self.world.locate(tracked)  # None unless 3D is on and ran for this frame
        out = self.build(tracked, pubs["annotated_image"].get_subscription_count() > 0, world)
        pubs["tracks"].publish(out.tracks)
        pubs["tracked_objects"].publish(out.tracked_objects)
        if out.annotated_image is not None:
            pubs["annotated_image"].publish(out.annotated_image)
        if out.tracks_3d is not None:
            self.world.publish(out.tracks_3d, world)  # ~/tracks_3d and ~/markers


def _stamp_key(msg: Any) -> int:
    """Pairing key of a message: its header stamp in ns (any integers, even invalid ones)."""
    return messages.header_stamp_ns(msg.header)


def main(args: Optional[list[str]] = None) -> int:
    """Entry point of the ``finetrack_node`` executable."""
    # `kill -USR1 <pid>` prints every thread's stack: for a node that seems stuck
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    rclpy.init(args=args)
    node = FineTrackNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if node.param("autostart"):
            if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                node.trigger_activate()
        # Not executor.spin(): a SIGINT that lands while rcl_wait blocks with nothing else to
        # wake it (an idle node, e.g. after cleanup) was seen to hang the node for good; a
        # bounded wait lets Python run the interrupt within SPIN_WAKEUP_S.
        while rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_WAKEUP_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # a second Ctrl-C (the terminal and `ros2 launch` both send one) must not kill the
        # process half-way through shutdown: launch would report it as died with -2
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
