"""Tracks (``finetrack_ros.tracker.Track``) → vision_msgs/Detection2DArray and
finetrack_ros/TrackedObjectArray as rosbags message objects (no ROS).

The node builds the same messages with rclpy classes; the field mapping is
:func:`messages.detection2d_fields` plus :func:`tracked_object_fields` here.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from rosbags.typesys.store import Typestore

from finetrack_ros.bag import messages as m

# TrackState name → TrackedObject.STATE_* value (REMOVED tracks are never published).
STATE_VALUES = {"TENTATIVE": 0, "TRACKED": 1, "LOST": 2}


def tracked_object_fields(track, fps: float, with_embedding: bool = True) -> dict:
    """The TrackedObject values of a track other than class and bbox.

    Args:
        track: a tracker ``Track`` (``track_id``, ``score``, ``state``, ``velocity_xy`` in
            pixels per frame, ``age``, ``frames_since_update``, ``feature``).
        fps: frame rate used to turn pixels/frame into pixels/second.
        with_embedding: put ``track.feature`` in ``embedding`` (empty when False or None).
    """
    state_name = getattr(track.state, "name", str(track.state)).upper()
    if state_name not in STATE_VALUES:
        raise ValueError(f"tracked_object_fields: track {track.track_id} has state {state_name}")
    velocity = np.asarray(track.velocity_xy, np.float64).reshape(2) * float(fps)
    feature = getattr(track, "feature", None)
    embedding = (
        np.asarray(feature, np.float32).reshape(-1) if with_embedding and feature is not None
        else np.zeros(0, np.float32)
    )
    return {
        "track_id": int(track.track_id),
        "score": float(track.score),
        "velocity_x": float(velocity[0]),
        "velocity_y": float(velocity[1]),
        "state": STATE_VALUES[state_name],
        "age": int(track.age),
        "frames_since_update": int(track.frames_since_update),
        "embedding": embedding,
    }


def tracks_to_detection_array(
    store: Typestore, header, tracks: Sequence, class_name: Callable[[int], str]
):
    """vision_msgs/Detection2DArray of tracks: id = str(track_id), class name, score, bbox."""
    boxes = np.asarray([t.xyxy for t in tracks], np.float64).reshape(-1, 4)
    return m.detection_array_msg(
        store, header, boxes, [t.score for t in tracks],
        [class_name(int(t.class_id)) for t in tracks], [t.track_id for t in tracks],
    )


def tracks_to_tracked_objects(
    store: Typestore,
    header,
    tracks: Sequence,
    class_name: Callable[[int], str],
    fps: float,
    with_embedding: bool = True,
):
    """finetrack_ros/TrackedObjectArray of tracks (see ``msg/TrackedObject.msg``)."""
    types = store.types
    objects = []
    for track in tracks:
        fields = tracked_object_fields(track, fps, with_embedding)
        det = m.detection2d_fields(track.xyxy, class_name(int(track.class_id)), track.score, None)
        fields["class_id"] = det["class_id"]
        fields["bbox"] = m.bbox2d_msg(store, det)
        objects.append(types["finetrack_ros/msg/TrackedObject"](**fields))
    return types["finetrack_ros/msg/TrackedObjectArray"](header=header, objects=objects)
