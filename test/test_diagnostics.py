"""Frames lost before the node, and the status /diagnostics gives (issue 22), no ROS.

Times are passed in, so a camera at 10 Hz, a busy node and a lossy transport are simulated
exactly: each missing frame is blamed on the node when it was due while the node was busy,
on transport otherwise.
"""
from __future__ import annotations

import pytest

from finetrack_ros import diagnostics
from finetrack_ros.diagnostics import ERROR, OK, WARN, Counters, NodeHealth, NodeState
from finetrack_ros.frame_loss import MIN_LOST_TO_WARN, FrameLoss, transport_warning

PERIOD = 0.1  # a 10 Hz camera


def feed(loss: FrameLoss, frames, busy_s: float = 0.0, latency: float = 0.02) -> None:
    """Frame indices that reach the node; each keeps it busy ``busy_s`` after arrival."""
    for k in frames:
        arrival = 100.0 + k * PERIOD + latency
        loss.observe(1_700_000_000.0 + k * PERIOD, arrival)
        if busy_s:
            loss.busy(arrival, arrival + busy_s)


def test_a_lossless_camera_loses_nothing_and_the_period_is_learnt():
    loss = FrameLoss()
    feed(loss, range(40))
    assert loss.period_s == pytest.approx(PERIOD)
    assert (loss.received, loss.lost_in_transport, loss.dropped_by_node) == (40, 0, 0)


def test_13_of_40_frames_received_with_an_idle_node_is_transport_loss():
    """The issue's measurement: a camera without the Fast DDS profile, 13 of 40 frames."""
    received = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 19, 27, 39]
    loss = FrameLoss()
    feed(loss, received)
    assert loss.received == 13
    assert loss.lost_in_transport == 39 - 12 - 0  # every gap inside 0..39 (none > 30 periods)
    assert loss.dropped_by_node == 0
    assert loss.worth_a_warning(0.05) and not loss.worth_a_warning(1.0)


def test_frames_due_while_the_node_was_busy_are_the_nodes_own_drops():
    """The node takes 0.15 or 0.25 s a frame: the queue drops the frames due meanwhile."""
    loss = FrameLoss()
    seen, k = [], 0
    while k < 100:
        seen.append(k)
        k += 2 if len(seen) % 2 else 3  # busy 0.15 s: 1 dropped; 0.25 s: 2 dropped
    arrival = lambda k: 100.0 + k * PERIOD + 0.02  # noqa: E731
    for i, k in enumerate(seen):
        loss.observe(1_700_000_000.0 + k * PERIOD, arrival(k))
        loss.busy(arrival(k), arrival(k) + (0.15 if i % 2 == 0 else 0.25))
    assert loss.period_s == pytest.approx(PERIOD)
    assert loss.lost_in_transport == 0
    assert loss.dropped_by_node >= 40  # ~1.5 a gap once the period is known
    assert not loss.worth_a_warning(0.05)


def test_a_pause_and_a_bag_loop_are_not_losses():
    loss = FrameLoss()
    feed(loss, range(20))
    feed(loss, range(200, 220))  # the camera paused for 18 s
    feed(loss, range(0, 20))  # the bag looped: time went back
    assert loss.lost_in_transport == 0


def test_the_warning_names_the_cause_and_the_profile_line():
    loss = FrameLoss()
    feed(loss, list(range(10)) + list(range(10, 80, 2)))  # then every other frame lost
    assert loss.lost_in_transport >= MIN_LOST_TO_WARN
    text = transport_warning(loss, "/camera/image_raw", 921_600)
    assert "/camera/image_raw" in text and "0.9 MB images" in text
    assert "export FASTDDS_DEFAULT_PROFILES_FILE=$(ros2 pkg prefix finetrack_ros)/share/" \
           "finetrack_ros/config/fastdds_large_images.xml" in text


def active(**kw) -> NodeState:
    return NodeState(lifecycle="active", topic="/cam", device_expected="cpu",
                     device_actual="cpu", **kw)


def test_status_levels_worst_first():
    health = NodeHealth()
    assert health.status(0.0, Counters(), NodeState()).level == WARN  # unconfigured
    failed = health.status(1.0, Counters(), NodeState(configure_error="no such file x.pth"))
    assert failed.level == ERROR and "x.pth" in failed.message
    wrong = health.status(2.0, Counters(), NodeState(lifecycle="active",
                                                     device_expected="cuda:0",
                                                     device_actual="cpu"))
    assert wrong.level == ERROR and "expected cuda:0" in wrong.message
    silent = health.status(3.0, Counters(), active(image_age_s=6.0, no_image_warning_s=5.0))
    assert silent.level == ERROR and "no image on /cam" in silent.message


def test_ok_with_fps_then_warn_on_recent_storm_and_back_to_ok():
    health = NodeHealth(recent_s=10.0)
    health.status(0.0, Counters(frames_tracked=0), active())
    ok = health.status(1.0, Counters(frames_tracked=10), active())
    assert ok.level == OK and ok.message == "tracking at 10.0 fps"
    storm = health.status(2.0, Counters(frames_tracked=20, boxes_cut=19_500, frames_cut=1),
                          active())
    assert storm.level == WARN and "19500 boxes cut by max_detections" in storm.message
    for t in range(3, 14):
        later = health.status(float(t), Counters(frames_tracked=10 * t, boxes_cut=19_500,
                                                 frames_cut=1), active())
    assert later.level == OK  # the storm is more than 10 s old
    stuck = health.status(14.0, Counters(frames_received=5, frames_tracked=130), active())
    for t in range(15, 26):
        stuck = health.status(float(t), Counters(frames_received=5 + t, frames_tracked=130),
                              active())
    assert stuck.level == WARN and "none tracked" in stuck.message
    values = dict(later.values)
    assert values["boxes cut"] == "19500" and values["fps"] == "10.00"


def test_transport_loss_warns_above_the_parameter():
    health = NodeHealth()
    state = active(loss_fraction=0.3, loss_judged=True, transport_loss_warning=0.05)
    status = health.status(0.0, Counters(lost_in_transport=27), state)
    assert status.level == WARN and "30 % of camera frames lost in transport" in status.message
    state.transport_loss_warning = 0.5
    assert health.status(1.0, Counters(lost_in_transport=27), state).level == OK


def test_every_value_an_operator_needs_is_reported():
    status = NodeHealth().status(0.0, Counters(), active(latency_ms=12.34, period_ms=100.0))
    keys = [k for k, _ in status.values]
    for key in ("fps", "latency ms", "camera period ms", "frames received", "frames tracked",
                "dropped by node", "lost in transport", "bad messages", "invalid boxes",
                "boxes cut", "frames cut", "device expected", "device"):
        assert key in keys, keys
    assert dict(status.values)["latency ms"] == "12.3"


def test_network_device_reads_the_weights():
    import torch

    from finetrack_ros.inference.options import InferenceOptions
    from finetrack_ros.inference.runners import TorchRunner

    class Net:
        runner = TorchRunner(torch.nn.Linear(2, 2), InferenceOptions(device="cpu"))

    assert diagnostics.network_device(Net()) == "cpu"
    assert diagnostics.expected_device("cuda") == "cuda:0"
    assert diagnostics.network_device(object()) == ""
