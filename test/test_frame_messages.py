"""The one output seam (frame_messages): the messages of a tracked frame, for every caller.

Real rosbags messages through the node's frame path; the node's own use is covered by the
online-equals-offline tests (test_online_replay.py), which now share this builder.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from frame_helpers import STAMP_NS, MessageFrames

from finetrack_ros.frame_messages import FrameMessageBuilder, FrameWorld
from finetrack_ros.frame_path import TrackedFrame
from finetrack_ros.world import PersonInWorld
from finetrack_ros.world.outputs import PersonShape

STEP_NS = 100_000_000  # 10 fps
BOXES = np.array([[20.0, 20.0, 60.0, 100.0], [100.0, 10.0, 140.0, 110.0]])


def _walk(feed: MessageFrames, build: FrameMessageBuilder, frames: int, classes=None):
    """Two people walking right 3 px a frame; the last frame's messages and TrackedFrame."""
    out = tracked = None
    for i in range(frames):
        tracked = feed.send(STAMP_NS + i * STEP_NS, BOXES + [3.0 * i, 0, 3.0 * i, 0],
                            classes=classes)
        out = build(tracked)
    return out, tracked


def test_tracks_objects_and_image_carry_the_frame_stamp_ids_names_and_velocity():
    feed = MessageFrames({"tracker.frame_rate": 10.0, "tracker.frame_rate_from_stamps": False})
    build = FrameMessageBuilder(feed.store, feed.frames)
    out, tracked = _walk(feed, build, 6, classes=["person", "forklift"])
    ids = [t.track_id for t in tracked.tracks]
    assert len(ids) == 2
    for msg in (out.tracks, out.tracked_objects, out.annotated_image):
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == STAMP_NS + 5 * STEP_NS
        assert msg.header.frame_id == "camera"
    assert [d.id for d in out.tracks.detections] == [str(i) for i in ids]
    assert [d.results[0].hypothesis.class_id for d in out.tracks.detections] == [
        feed.frames.class_name(t.class_id) for t in tracked.tracks]
    assert sorted(d.results[0].hypothesis.class_id for d in out.tracks.detections) == [
        "forklift", "person"]  # the learnt name, not its index
    objects = out.tracked_objects.objects
    assert [o.track_id for o in objects] == ids
    # pixels per frame at the tracker's 10 Hz: 10x (the Kalman velocity nears 3 px a frame)
    for obj, track in zip(objects, tracked.tracks):
        assert obj.velocity_x == pytest.approx(10.0 * track.velocity_xy[0])
        assert 20.0 < obj.velocity_x < 33.0
    assert all(math.isnan(o.world_position.x) and o.world_frame_id == "" for o in objects)
    assert out.tracks_3d is None
    assert (out.annotated_image.height, out.annotated_image.width) == (120, 160)
    assert out.annotated_image.encoding == "bgr8"


def test_velocity_follows_the_frame_rate_measured_from_the_stamps():
    feed = MessageFrames({"tracker.frame_rate": 30.0, "tracker.frame_rate_from_stamps": True})
    build = FrameMessageBuilder(feed.store, feed.frames)
    out, tracked = _walk(feed, build, 8)
    assert feed.frames.frame_rate == pytest.approx(10.0)  # the stamps' 10 fps, not 30
    for obj, track in zip(out.tracked_objects.objects, tracked.tracks):
        assert obj.velocity_x == pytest.approx(10.0 * track.velocity_xy[0])
        assert 20.0 < obj.velocity_x < 33.0


def test_annotation_is_skipped_when_not_asked_or_without_pixels_but_trails_go_on():
    feed = MessageFrames()
    build = FrameMessageBuilder(feed.store, feed.frames, trail_length=4)
    tracked = None
    for i in range(6):
        tracked = feed.send(STAMP_NS + i * STEP_NS, BOXES)
        assert build(tracked, annotate=False).annotated_image is None
    assert {len(points) for points in build.trails.points.values()} == {4}
    pixel_free = TrackedFrame(tracked.header, None, tracked.tracks, tracked.objects)
    assert build(pixel_free, annotate=True).annotated_image is None


def test_a_tracker_reset_clears_the_trails():
    feed = MessageFrames()
    build = FrameMessageBuilder(feed.store, feed.frames)
    _walk(feed, build, 5)
    assert {len(points) for points in build.trails.points.values()} == {5}
    back = feed.send(STAMP_NS - 10 * 10**9, BOXES)  # time jumps back 10 s: a looped bag
    assert back.reset
    build(back)
    assert {len(points) for points in build.trails.points.values()} == {1}


def test_lost_tracks_are_published_as_objects_when_asked():
    feed = MessageFrames({"publish_lost_tracks": True})
    build = FrameMessageBuilder(feed.store, feed.frames)
    _walk(feed, build, 3)
    gone = feed.send(STAMP_NS + 3 * STEP_NS, BOXES[:1] + [9.0, 0, 9.0, 0])
    out = build(gone)
    assert len(out.tracks.detections) == 1
    assert [o.state for o in out.tracked_objects.objects] == [1, 2]  # TRACKED, LOST
    assert len(feed.frames.lost_tracks()) == 1


def test_world_people_give_tracks_3d_and_the_objects_world_fields():
    feed = MessageFrames()
    build = FrameMessageBuilder(feed.store, feed.frames)
    _, tracked = _walk(feed, build, 3)
    first, second = tracked.tracks
    people = [PersonInWorld(first.track_id, np.array([2.0, 1.0, 0.0]),
                            np.array([0.5, 0.0, 0.0]), True),
              PersonInWorld(second.track_id, np.full(3, np.nan), np.full(3, np.nan), False)]
    out = build(tracked, world=FrameWorld(people, "map", PersonShape(1.8, 0.25)))
    assert out.tracks_3d.header.frame_id == "map"
    assert out.tracks_3d.header.stamp == out.tracks.header.stamp
    (person,) = out.tracks_3d.detections  # the one without a ground position is left out
    assert person.id == str(first.track_id)
    assert (person.bbox.center.position.z, person.bbox.size.z) == pytest.approx((0.9, 1.8))
    placed, unplaced = out.tracked_objects.objects
    assert placed.world_frame_id == unplaced.world_frame_id == "map"
    assert (placed.world_position.x, placed.world_velocity.x) == (2.0, 0.5)
    assert math.isnan(unplaced.world_position.x)
