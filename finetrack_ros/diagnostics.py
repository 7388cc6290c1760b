"""What the node reports on ``/diagnostics`` once a second (no ROS import).

As ROS drivers do with ``diagnostic_updater``: one ``DiagnosticStatus`` per node, level
OK / WARN / ERROR, a one-line message saying what is wrong first, and key/value pairs an
operator (``rqt_robot_monitor``, ``ros2 topic echo /diagnostics``) reads at a glance.
:class:`NodeHealth` turns the node's counters into that status; ``ros/finetrack_node.py``
builds the message.

Levels, worst first:

* ERROR: configure failed; the networks do not run on the device asked for; active but no
  image for ``no_image_warning_sec``.
* WARN: not configured or not active; frames lost in transport above
  ``transport_loss_warning``; in the last :data:`RECENT_S` seconds, images but no tracked
  frame, boxes cut by ``max_detections``, bad messages skipped or invalid boxes dropped.
* OK: tracking, with the frame rate.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any, Optional

# diagnostic_msgs/DiagnosticStatus levels
OK, WARN, ERROR = 0, 1, 2
# Events (cut boxes, bad messages) this recent keep the status at WARN, seconds.
RECENT_S = 10.0


@dataclass
class Counters:
    """The node's cumulative counts (since configure)."""

    frames_received: int = 0  # images that reached the node
    frames_tracked: int = 0  # frames whose tracks were published
    dropped_by_node: int = 0  # camera frames missed while the node was busy
    lost_in_transport: int = 0  # camera frames that never reached the node
    bad_messages: int = 0  # frames skipped with a reason (stamp, encoding, ...)
    invalid_boxes: int = 0  # detection boxes dropped as invalid
    boxes_cut: int = 0  # boxes left out by max_detections
    frames_cut: int = 0  # frames that had more than max_detections boxes

    def minus(self, other: "Counters") -> "Counters":
        return Counters(*(getattr(self, f.name) - getattr(other, f.name)
                          for f in fields(self)))


@dataclass
class NodeState:
    """Everything one status needs besides the counters.

    Attributes:
        lifecycle: "unconfigured", "inactive" or "active".
        configure_error: why the last configure failed, or "".
        topic: the image topic (for messages).
        image_age_s: seconds since the last image (or since activation when none came).
        no_image_warning_s, transport_loss_warning: the parameters of the same names.
        loss_fraction: fraction of camera frames lost in transport; ``loss_judged``: enough
            frames for that fraction to count (``FrameLoss.worth_a_warning``).
        period_ms: the camera period estimated from the stamps, or None.
        latency_ms: mean image-stamp-to-publish latency over the last second, or None.
        device_expected, device_actual: where the networks should run and do ("" = none).
    """

    lifecycle: str = "unconfigured"
    configure_error: str = ""
    topic: str = ""
    image_age_s: float = 0.0
    no_image_warning_s: float = 5.0
    transport_loss_warning: float = 0.05
    loss_fraction: float = 0.0
    loss_judged: bool = False
    period_ms: Optional[float] = None
    latency_ms: Optional[float] = None
    device_expected: str = ""
    device_actual: str = ""


@dataclass
class Status:
    """One diagnostic status: level, message and ordered key/value strings."""

    level: int
    message: str
    values: list = field(default_factory=list)  # [(key, value)]


class NodeHealth:
    """Rates and recent events from counter snapshots; the status of one moment."""

    def __init__(self, recent_s: float = RECENT_S) -> None:
        self.recent_s = recent_s
        self._history: deque[tuple[float, Counters]] = deque()

    def reset(self) -> None:
        self._history.clear()

    def status(self, now_s: float, counters: Counters, state: NodeState) -> Status:
        """Return the status at ``now_s`` (seconds, monotonic) for the cumulative ``counters``."""
        self._history.append((now_s, counters))
        while len(self._history) > 2 and now_s - self._history[1][0] >= self.recent_s:
            self._history.popleft()
        then, old = self._history[0]
        recent = counters.minus(old)
        fps = recent.frames_tracked / (now_s - then) if now_s > then else 0.0
        level, message = _judge(state, recent, fps, self.recent_s)
        return Status(level, message, _values(counters, state, fps))


def _judge(state: NodeState, recent: Counters, fps: float, recent_s: float
           ) -> tuple[int, str]:
    if state.configure_error:
        return ERROR, f"configure failed: {state.configure_error}"
    if state.lifecycle != "active":
        return WARN, f"{state.lifecycle}: not tracking"
    if state.device_expected and state.device_actual != state.device_expected:
        return ERROR, (f"networks run on {state.device_actual or 'no device'}, expected "
                       f"{state.device_expected}")
    if state.image_age_s >= state.no_image_warning_s:
        return ERROR, f"no image on {state.topic} for {state.image_age_s:.0f} s"
    warnings = []
    if state.loss_judged and state.loss_fraction >= state.transport_loss_warning:
        warnings.append(f"{100 * state.loss_fraction:.0f} % of camera frames lost in transport "
                        "(Fast DDS profile of the camera?)")
    if recent.frames_received and not recent.frames_tracked:
        warnings.append(f"{recent.frames_received} images in the last {recent_s:.0f} s, none "
                        "tracked (detections not arriving, or every frame bad?)")
    if recent.boxes_cut:
        warnings.append(f"detection storm: {recent.boxes_cut} boxes cut by max_detections in "
                        f"the last {recent_s:.0f} s")
    if recent.bad_messages:
        warnings.append(f"{recent.bad_messages} bad messages skipped in the last "
                        f"{recent_s:.0f} s")
    if recent.invalid_boxes:
        warnings.append(f"{recent.invalid_boxes} invalid detection boxes dropped in the last "
                        f"{recent_s:.0f} s")
    if warnings:
        return WARN, "; ".join(warnings)
    return OK, f"tracking at {fps:.1f} fps"


def _values(counters: Counters, state: NodeState, fps: float) -> list:
    def text(value: Any) -> str:
        return "n/a" if value is None else value if isinstance(value, str) else f"{value:g}"

    pairs = [("state", state.lifecycle), ("fps", f"{fps:.2f}"),
             ("latency ms", text(None if state.latency_ms is None
                                  else round(state.latency_ms, 1))),
             ("camera period ms", text(None if state.period_ms is None
                                       else round(state.period_ms, 1)))]
    pairs += [(f.name.replace("_", " "), str(getattr(counters, f.name)))
              for f in fields(counters)]
    pairs += [("frames lost in transport %", f"{100 * state.loss_fraction:.1f}"),
              ("device expected", state.device_expected or "n/a"),
              ("device", state.device_actual or "n/a")]
    return pairs


def network_device(network: Any) -> str:
    """Where a detector or Re-ID extractor really runs: "cpu", "cuda:0", ... ("" if unknown).

    Read from the network's runner: the device of a torch module's weights, or the first
    execution provider of an ONNX Runtime session.
    """
    runner = getattr(network, "runner", None)
    session = getattr(runner, "session", None)
    if session is not None:
        provider = session.get_providers()[0]
        return "cpu" if provider == "CPUExecutionProvider" else provider
    module = getattr(runner, "module", None)
    try:
        return _device_name(next(module.parameters()).device)
    except (AttributeError, StopIteration, TypeError):
        device = getattr(runner, "device", None)
        return "" if device is None else _device_name(device)


def _device_name(device: Any) -> str:
    """``cuda`` → ``cuda:0`` (the default index), ``cpu`` stays."""
    kind, index = getattr(device, "type", str(device)), getattr(device, "index", None)
    if kind == "cuda":
        return f"cuda:{index or 0}"
    return str(kind)


def expected_device(device: str) -> str:
    """Return the name :func:`network_device` should report for the resolved ``device``."""
    if device.startswith("cuda"):
        return device if ":" in device else "cuda:0"
    return device
