"""The node's health: ``/diagnostics`` at 1 Hz and the frames-lost-in-transport warning.

:class:`HealthReporter` belongs to one ``finetrack_node``. It publishes one
``diagnostic_msgs/DiagnosticStatus`` (in a ``DiagnosticArray`` on ``/diagnostics``, as ROS
drivers do) every second from the node's start, whatever its lifecycle state, so an operator
also sees a failed configure; the levels and values are :mod:`finetrack_ros.diagnostics`'.
It watches every received image's stamp (:class:`~finetrack_ros.frame_loss.FrameLoss`) and
warns once, with cause and remedy, when frames are lost before the node.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType

from finetrack_ros import diagnostics, messages
from finetrack_ros.frame_loss import FrameLoss, transport_warning

DIAGNOSTICS_TOPIC = "/diagnostics"  # absolute: where diagnostic aggregators listen
DIAGNOSTICS_PERIOD_S = 1.0
# Latencies averaged into the status (the newest; about a second at camera rates).
LATENCY_WINDOW = 30


class HealthReporter:
    """Counts, judges and publishes the node's health.

    Args:
        node: the rclpy node (publisher, timer, logger, name).
        counters: returns the node's cumulative :class:`~finetrack_ros.diagnostics.Counters`
            without the transport ones (this reporter adds them).
        param: reads a node parameter by name.
    """

    def __init__(self, node: Any, counters: Callable[[], diagnostics.Counters],
                 param: Callable[[str], Any]) -> None:
        self.node, self.counters, self.param = node, counters, param
        self.state = diagnostics.NodeState()
        self.loss = FrameLoss()
        self.health = diagnostics.NodeHealth()
        self.latencies: list[float] = []
        self.warned_loss = False
        self._last_image_s: Optional[float] = None
        self._image_bytes = 0
        self.publisher = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self.timer = node.create_timer(DIAGNOSTICS_PERIOD_S, self.publish,
                                       clock=Clock(clock_type=ClockType.STEADY_TIME))

    # --- lifecycle ---------------------------------------------------------------------
    def configured(self, pipeline: Any, expected_device: str) -> None:
        """Networks loaded: remember where they should run and where they do."""
        devices = [diagnostics.network_device(net) for net in (pipeline.detector,
                                                               pipeline.extractor)
                   if net is not None]
        self.state.lifecycle, self.state.configure_error = "inactive", ""
        self.state.device_expected = diagnostics.expected_device(expected_device) \
            if devices else ""
        self.state.device_actual = ", ".join(sorted(set(devices)))

    def configure_failed(self, reason: str) -> None:
        self.state.lifecycle, self.state.configure_error = "unconfigured", reason

    def activated(self, topic: str) -> None:
        self.state.lifecycle, self.state.topic = "active", topic
        self._last_image_s = time.monotonic()  # the no-image clock starts now
        self.loss.reset()  # no gap across an inactive spell
        self.health.reset()  # rates from now on (frames_in restarts at 0)
        self.status()

    def deactivated(self) -> None:
        self.state.lifecycle = "inactive"

    def cleaned_up(self) -> None:
        self.state = diagnostics.NodeState()
        self.loss, self.warned_loss = FrameLoss(), False
        self.health.reset()

    # --- per frame ---------------------------------------------------------------------
    def image_received(self, msg: Any) -> None:
        """Count the frames missing before this image; warn once if transport loses them."""
        now = time.monotonic()
        self._last_image_s = now
        self._image_bytes = len(getattr(msg, "data", b""))
        stamp_s = messages.header_stamp_ns(msg.header) / 1e9
        self.loss.observe(stamp_s, now)
        threshold = float(self.param("transport_loss_warning"))
        if not self.warned_loss and self.loss.worth_a_warning(threshold):
            self.warned_loss = True
            self.node.get_logger().warning(transport_warning(
                self.loss, self.state.topic, self._image_bytes))

    def frame_done(self, start_s: float, latency_ms: Optional[float]) -> None:
        """Record a frame worked on from ``start_s`` to now, and its latency if published."""
        self.loss.busy(start_s, time.monotonic())
        if latency_ms is not None:
            self.latencies = (self.latencies + [latency_ms])[-LATENCY_WINDOW:]

    # --- publishing --------------------------------------------------------------------
    def status(self) -> diagnostics.Status:
        """Return the node's status now."""
        now = time.monotonic()
        state = self.state
        state.image_age_s = now - self._last_image_s if self._last_image_s is not None else 0.0
        state.no_image_warning_s = float(self.param("no_image_warning_sec"))
        state.transport_loss_warning = float(self.param("transport_loss_warning"))
        state.loss_fraction = self.loss.lost_fraction
        state.loss_judged = self.loss.lost_in_transport >= 1 and \
            self.loss.worth_a_warning(state.transport_loss_warning)
        state.period_ms = None if self.loss.period_s is None else 1000 * self.loss.period_s
        state.latency_ms = sum(self.latencies) / len(self.latencies) if self.latencies \
            else None
        counters = self.counters()
        counters.dropped_by_node = self.loss.dropped_by_node
        counters.lost_in_transport = self.loss.lost_in_transport
        return self.health.status(now, counters, state)

    def publish(self) -> None:
        status = self.status()
        msg = DiagnosticArray()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.status = [DiagnosticStatus(
            level=bytes([status.level]), name=f"{self.node.get_name()}: tracking",
            message=status.message, hardware_id=self.state.device_actual,
            values=[KeyValue(key=k, value=v) for k, v in status.values])]
        self.publisher.publish(msg)
