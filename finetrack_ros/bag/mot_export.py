"""A vision_msgs/Detection2DArray topic of a bag → MOTChallenge text rows.

Rows are ``frame, id, x, y, w, h, score, class, visibility`` (the 9 columns of MOT17 ground
truth; TrackEval reads the first 7 of tracker results the same way):

* ``frame``: 1-based; the n-th distinct header stamp of the topic, or the position of the
  stamp in ``frame_stamps`` when given (e.g. the image stamps of the recording);
* ``id``: ``Detection2D.id`` as an integer, -1 when empty (untracked detections);
* ``x, y, w, h``: top-left corner and size in pixels, from the bbox center and size;
* ``score``: ``results[0].hypothesis.score`` (for ground truth written by
  :mod:`finetrack_ros.bag.writer`, the MOT ``conf`` flag);
* ``class``: the MOT class number of ``class_id`` (:data:`writer.MOT_CLASSES`), -1 for other names;
* ``visibility``: not carried by vision_msgs, written as 1.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from finetrack_ros.bag.reader import BagReader
from finetrack_ros.bag.writer import MOT_CLASS_IDS

VISIBILITY_UNKNOWN = 1.0  # vision_msgs has no visibility; MOT's "fully visible"


def _parse_id(bag: Path, topic: str, stamp: int, value: str) -> int:
    if value == "":
        return -1
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"bag {bag}: topic {topic}: Detection2D.id {value!r} at stamp {stamp} ns is not an "
            "integer track id"
        ) from None


def topic_rows(
    bag_path: str | Path, topic: str, frame_stamps: Optional[Sequence[int]] = None
) -> np.ndarray:
    """(R, 9) float64 MOT rows of a Detection2DArray topic (see the module docstring)."""
    bag_path = Path(bag_path)
    with BagReader(bag_path) as bag:
        arrays = list(bag.detection_arrays(topic))
    stamps = list(frame_stamps) if frame_stamps is not None else sorted({s for s, _ in arrays})
    frame_of = {stamp: i + 1 for i, stamp in enumerate(stamps)}
    rows = []
    for stamp, dets in arrays:
        if stamp not in frame_of:
            raise ValueError(
                f"bag {bag_path}: topic {topic}: stamp {stamp} ns matches no frame stamp"
            )
        for box, score, name, ident in zip(
            dets["boxes_xyxy"].astype(np.float64), dets["scores"], dets["class_names"], dets["ids"]
        ):
            rows.append((
                frame_of[stamp], _parse_id(bag_path, topic, stamp, ident), box[0], box[1],
                box[2] - box[0], box[3] - box[1], float(score), MOT_CLASS_IDS.get(name, -1),
                VISIBILITY_UNKNOWN,
            ))
    rows.sort(key=lambda row: (row[0], row[1]))
    return np.asarray(rows, np.float64).reshape(-1, 9)


def write_mot_rows(rows: np.ndarray, out_txt: str | Path) -> Path:
    """Write MOT rows atomically (temp file, then rename); returns the path."""
    out_txt = Path(out_txt)
    out_txt.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_txt.with_name(f".{out_txt.name}.partial-{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            for row in rows:
                f.write(
                    f"{int(row[0])},{int(row[1])},{row[2]:.2f},{row[3]:.2f},{row[4]:.2f},"
                    f"{row[5]:.2f},{row[6]:.6g},{int(row[7])},{row[8]:.6g}\n"
                )
        os.replace(tmp, out_txt)
    finally:
        tmp.unlink(missing_ok=True)
    return out_txt


def bag_topic_to_mot(
    bag_path: str | Path,
    topic: str,
    out_txt: str | Path,
    frame_stamps: Optional[Sequence[int]] = None,
) -> Path:
    """Write a Detection2DArray topic of a bag as a MOTChallenge text file.

    Args:
        bag_path: rosbag2 folder.
        topic: a vision_msgs/Detection2DArray topic (e.g. ``/ground_truth``,
            ``/finetrack/tracks``); ids come from ``Detection2D.id``.
        out_txt: the text file to write (atomically).
        frame_stamps: header stamps (ns) of frames 1..N; None numbers the topic's own stamps.

    Returns:
        ``out_txt`` as a Path.
    """
    return write_mot_rows(topic_rows(bag_path, topic, frame_stamps), out_txt)
