"""Track memory in seconds of the camera the node really sees (issue 20).

``frame_rate_from_stamps`` (the node's default) sets the tracker's frame rate to the median
step of the tracked frames' stamps, so ``lost_track_seconds`` is seconds at 7 fps as at 30.
"""
from __future__ import annotations

import numpy as np
import pytest
from frame_helpers import STAMP_NS, MessageFrames

from finetrack_ros.stamp_rate import StampRate
from finetrack_ros.tracker import TrackState

BOX = np.array([[20.0, 20.0, 60.0, 100.0]])


def test_the_median_step_ignores_drops_and_jitter():
    rate = StampRate()
    stamps = np.cumsum([0] + [142_857_143] * 10 + [285_714_286] + [142_857_143] * 5)
    stamps += np.tile([0, 3_000_000, -2_000_000, 1_000_000], 5)[:len(stamps)]  # jitter
    rates = [rate.observe(int(STAMP_NS + s)) for s in stamps]
    assert rates[:4] == [None] * 4  # not before 4 steps
    assert rates[-1] == pytest.approx(7.0, rel=0.02)
    rate.clear()
    assert rate.observe(STAMP_NS) is None


def _frames(**tracker):
    feed = MessageFrames({f"tracker.{k}": v for k, v in tracker.items()})
    return feed.frames, feed.send, feed.lines


def test_a_7_fps_camera_keeps_a_lost_person_for_lost_track_seconds():
    """At 7 fps, 2 s of memory = 14 frames, although the parameter frame_rate says 30."""
    frames, send, lines = _frames(lost_track_seconds=2.0, frame_rate=30.0,
                                  frame_rate_from_stamps=True, gallery_seconds=0.0)
    step = 10**9 // 7
    for i in range(6):
        send(STAMP_NS + i * step, BOX)
    assert frames.frame_rate == pytest.approx(7.0, abs=0.01)
    assert frames.tracker_config.max_time_lost == 14
    assert len(lines) == 1 and "7 Hz, measured from the image stamps (was 30)" in lines[0]
    for i in range(6, 6 + 15):  # the person is gone for 15 frames
        send(STAMP_NS + i * step, np.zeros((0, 4)))
        if i == 6 + 13:
            assert [t.state for t in frames.lost_tracks()] == [TrackState.LOST]
    assert frames.lost_tracks() == []
    assert all(t.state == TrackState.REMOVED for t in frames.pipeline.tracker.lost_tracks)


def test_off_the_frame_rate_stays_the_parameters_and_a_reset_measures_again():
    frames, send, lines = _frames(frame_rate=30.0, frame_rate_from_stamps=False)
    for i in range(8):
        send(STAMP_NS + i * 10**9 // 7, BOX)
    assert frames.frame_rate == 30.0 and lines == []

    frames, send, lines = _frames(frame_rate=7.0, frame_rate_from_stamps=True)
    for i in range(8):
        send(STAMP_NS + i * 10**9 // 7, BOX)
    assert lines == []  # measured = in use: nothing to say
    later = STAMP_NS + 8 * 10**9 // 7
    send(later - 10 * 10**9, BOX)  # time jumps back 10 s (a looped bag): reset
    for i in range(1, 6):
        send(later - 10 * 10**9 + i * 10**9 // 15, BOX)  # the replay now runs at 15 fps
    assert frames.frame_rate == pytest.approx(15.0, abs=0.01)
