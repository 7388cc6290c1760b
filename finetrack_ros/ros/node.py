"""First, minimal finetrack_ros node: proves build, install and message exchange.

Subscribes ``image`` (sensor_msgs/Image, SensorData QoS), converts each frame to BGR with
:func:`finetrack_ros.ros.image_conversion.image_msg_to_bgr` and publishes
``~/tracked_objects`` (finetrack_ros/msg/TrackedObjectArray) with the image's header and,
for now, no objects. The lifecycle node running the tracking pipeline replaces it (#5).

Run: ``ros2 run finetrack_ros finetrack_node --ros-args -r image:=/camera/image_raw``
"""
from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from finetrack_ros.msg import TrackedObjectArray
from finetrack_ros.ros.image_conversion import image_msg_to_bgr

NODE_NAME = "finetrack_node"
# Depth of the output queue (reliable): a slow subscriber may lag this many frames.
OUTPUT_QUEUE_DEPTH = 10
# At most one warning about undecodable images per this many seconds.
BAD_IMAGE_LOG_PERIOD_S = 5.0


class FineTrackNode(Node):
    """Image in, TrackedObjectArray out (empty objects until the pipeline is wired in)."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self._publisher = self.create_publisher(
            TrackedObjectArray, "~/tracked_objects", OUTPUT_QUEUE_DEPTH)
        self._subscription = self.create_subscription(
            Image, "image", self._on_image, qos_profile_sensor_data)
        self.frames_received = 0

    def _on_image(self, msg: Image) -> None:
        self.frames_received += 1
        try:
            image_msg_to_bgr(msg)  # (H, W, 3) uint8 BGR: the pipeline's input
        except ValueError as err:
            self.get_logger().warning(
                f"dropping image: {err}", throttle_duration_sec=BAD_IMAGE_LOG_PERIOD_S)
            return
        self._publisher.publish(TrackedObjectArray(header=msg.header))


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``finetrack_node`` executable; returns the exit status."""
    rclpy.init(args=sys.argv if args is None else args)
    node = FineTrackNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
