"""FramePath's stamp rule for a repeated stamp: the frame is skipped and counted, not tracked.

Messages are real ``sensor_msgs/Image`` and ``vision_msgs/Detection2DArray`` (rosbags classes,
as the bag replay feeds them), through the node's frame path.
"""
from __future__ import annotations

import numpy as np

from finetrack_ros import settings
from finetrack_ros.bag.typestore import build_typestore
from finetrack_ros.frame_path import FramePath
from finetrack_ros.messages import detection_array_msg, image_msg, make_header

STAMP_NS = 1_700_000_000 * 10**9
FRAME_NS = 100_000_000  # 10 fps
BOX = np.array([[20.0, 20.0, 60.0, 100.0]])


def test_a_repeated_stamp_is_skipped_and_counted_and_the_tracker_does_not_step():
    store = build_typestore()
    pipeline = settings.pipeline_from_params({"device": "cpu", "external_detections": True,
                                              "reid.enabled": False})
    lines: list[str] = []
    frames = FramePath(pipeline, settings.frame_options({}), report=lines.append)
    pixels = np.zeros((120, 160, 3), np.uint8)

    def send(stamp_ns: int, shift_px: float):
        header = make_header(store, stamp_ns, "camera")
        detections = detection_array_msg(store, header, BOX + [shift_px, 0, shift_px, 0],
                                         [0.9], ["person"])
        return frames.process(image_msg(store, header, pixels), detections)

    first = send(STAMP_NS, 0.0)
    assert first is not None and [t.track_id for t in first.tracks] == [1]
    repeated = send(STAMP_NS, 40.0)  # same stamp, the person elsewhere: not this frame
    assert repeated is None
    assert frames.bad.count == 1
    assert pipeline.frame_index == 1  # the tracker did not step
    assert len(lines) == 1 and "repeats the previous frame's stamp" in lines[0]
    following = send(STAMP_NS + FRAME_NS, 2.0)
    assert following is not None and not following.reset
    # one step after the first frame: the track moved 2 px, not 40 px and back
    (track,) = following.tracks
    assert track.track_id == 1 and abs(track.xyxy[0] - 22.0) < 1.0
    assert frames.bad.count == 1 and pipeline.frame_index == 2
