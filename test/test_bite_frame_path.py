"""FramePath's stamp rule for a repeated stamp: the frame is skipped and counted, not tracked.

Messages are real ``sensor_msgs/Image`` and ``vision_msgs/Detection2DArray`` (rosbags classes,
as the bag replay feeds them), through the node's frame path.
"""
from __future__ import annotations

import numpy as np
from frame_helpers import STAMP_NS, MessageFrames

FRAME_NS = 100_000_000  # 10 fps
BOX = np.array([[20.0, 20.0, 60.0, 100.0]])


def test_a_repeated_stamp_is_skipped_and_counted_and_the_tracker_does_not_step():
    feed = MessageFrames()
    frames, pipeline, lines = feed.frames, feed.pipeline, feed.lines

    def send(stamp_ns: int, shift_px: float):
        return feed.send(stamp_ns, BOX + [shift_px, 0, shift_px, 0])

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
