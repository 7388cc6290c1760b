"""The one output seam: the messages published for a tracked frame (no ROS import).

The node's publish step, the bag replay's output bag and ``finetrack bench realtime`` all
turn a :class:`~finetrack_ros.frame_path.TrackedFrame` into messages here, so the three can
never disagree on a field::

    build = FrameMessageBuilder(types, frames)      # rclpy's types or a rosbags typestore
    out = build(tracked, annotate=True, world=world) # FrameMessages
    publish(out.tracks); publish(out.tracked_objects); ...

``types`` is what :mod:`finetrack_ros.messages` takes: the node passes its rclpy type
lookup, the replay and the bench a rosbags typestore. The builder owns the trails drawn on
the annotated image (cleared when the tracker resets).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from finetrack_ros import messages as m
from finetrack_ros.visualization import DrawConfig, TrailHistory, draw_tracks
from finetrack_ros.world.outputs import PersonShape, detection3d_array_msg


@dataclass
class FrameWorld:
    """What 3D gave one frame.

    Attributes:
        people: one :class:`~finetrack_ros.world.PersonInWorld` per track, in the order of
            ``TrackedFrame.tracks``, in ``frame_id``.
        frame_id: the target frame of the people (``~/tracks_3d``'s header frame).
        shape: the person box published on ``~/tracks_3d``.
    """

    people: Sequence
    frame_id: str
    shape: PersonShape


@dataclass
class FrameMessages:
    """The messages of one tracked frame (each stamped with the image's stamp).

    Attributes:
        tracks: vision_msgs/Detection2DArray (``~/tracks``), image frame.
        tracked_objects: finetrack_ros/TrackedObjectArray (``~/tracked_objects``), image
            frame, with each person's world position when the frame had 3D.
        annotated_image: sensor_msgs/Image bgr8 with boxes, ids and trails
            (``~/annotated_image``); None when not asked for or the frame has no pixels.
        tracks_3d: vision_msgs/Detection3DArray in the world frame (``~/tracks_3d``); None
            when the frame had no 3D.
    """

    tracks: Any
    tracked_objects: Any
    annotated_image: Optional[Any] = None
    tracks_3d: Optional[Any] = None


class FrameMessageBuilder:
    """Builds :class:`FrameMessages` for the frames of one :class:`FramePath`.

    Args:
        types: rclpy's type lookup (``rclpy_types.rclpy_type``) or a rosbags typestore.
        frames: the frame path whose class names, frame rate and options the messages use.
        trail_length: box-center points per id drawn on the annotated image.
    """

    def __init__(self, types: Any, frames: Any,
                 trail_length: int = DrawConfig.trail_length) -> None:
        self.types, self.frames = types, frames
        self.trails = TrailHistory(trail_length)

    def __call__(self, tracked: Any, annotate: bool = True,
                 world: Optional[FrameWorld] = None) -> FrameMessages:
        """Messages of ``tracked``; ``annotate=False`` skips drawing (nobody subscribed).

        Trails follow every frame, drawn or not, so a late subscriber sees whole trails.
        """
        types, frames = self.types, self.frames
        if tracked.reset:
            self.trails = TrailHistory(self.trails.length)
        stamp_ns = m.header_stamp_ns(tracked.header)
        header = m.make_header(types, stamp_ns, tracked.header.frame_id)
        people = {} if world is None else {int(p.track_id): p for p in world.people}
        out = FrameMessages(
            tracks=m.tracks_to_detection_array(types, header, tracked.tracks,
                                               frames.class_name),
            tracked_objects=m.tracks_to_tracked_objects(
                types, header, tracked.objects, frames.class_name, frames.frame_rate,
                frames.options.publish_embeddings, people,
                world.frame_id if world is not None else ""))
        trails = self.trails.update(tracked.tracks)
        if annotate and tracked.frame_bgr is not None:
            out.annotated_image = m.image_msg(
                types, header, draw_tracks(tracked.frame_bgr, tracked.tracks, trails))
        if world is not None:
            out.tracks_3d = detection3d_array_msg(
                types, m.make_header(types, stamp_ns, world.frame_id), world.people,
                tracked.tracks, frames.class_name, world.shape)
        return out
