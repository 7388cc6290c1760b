"""People from a registered depth image (RGB-D), no ROS import.

A depth image registered to the colour camera (same size, same pixels, same stamp; ROS
REP 118: the distance along the optical axis, z) gives each box a robust depth:

* the encoding decides the unit: ``16UC1`` millimetres, ``32FC1`` metres; any other
  encoding is refused (:func:`depth_to_metres`, one line naming it);
* zeros (no return), NaN / inf and values outside ``[min_m, max_m]`` are ignored;
* the pixels used are the person's upper body, not the floor nor the background: the central
  ``core_width`` of the box's width and the rows from ``top`` to ``bottom`` of its height
  (head to hips; the bottom rows, where the feet meet the floor, are left out);
* of those valid pixels the ``percentile``-th (30th) depth is taken: the background seen
  around the body is farther than the person, so a low percentile stays on the person; the
  30th rather than the minimum keeps a few near speckles or an arm in front from deciding;
* fewer than ``min_pixels`` valid pixels: no depth for that box (the caller falls back to
  the foot point on the ground plane).

:func:`depth_points` back-projects the box's centre column, at the row in the middle of the
sampled band, at that depth through the camera model (undistorted ray scaled to z = depth) to
a point of the optical frame; the world step moves it into the ground frame and puts the
person on the ground below it (z = 0), the same output as the ground-plane path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from finetrack_ros.world.camera import CameraModel

# encoding → metres per stored unit
DEPTH_ENCODINGS = {"16UC1": 0.001, "32FC1": 1.0}
# Depth images kept waiting for their colour image (the latest by stamp): a depth driver runs
# at the camera's rate and a tracked frame is at most a few frames behind.
DEPTH_KEEP = 5


@dataclass(frozen=True)
class DepthConfig:
    """How a box's depth is read from a depth image.

    Attributes:
        min_m, max_m: valid depth range, metres (outside: ignored, as sensor noise).
        core_width: fraction of the box width used, centred (narrower: less background).
        top, bottom: band of the box height used, fractions from the top (0) to the bottom
            (1); the default 0.1-0.6 is head to hips, above the floor around the feet.
        percentile: percentile of the valid depths taken (low: the person in front of the
            background; 50 = median).
        min_pixels: fewer valid pixels than this gives no depth.
        noise_per_m: standard deviation of a depth measurement on the ground per metre of
            depth (the filter's measurement noise; larger: smoother, slower positions).
    """

    min_m: float = 0.2
    max_m: float = 50.0
    core_width: float = 0.5
    top: float = 0.1
    bottom: float = 0.6
    percentile: float = 30.0
    min_pixels: int = 10
    noise_per_m: float = 0.02


def depth_to_metres(msg: Any, source: str = "depth image") -> np.ndarray:
    """sensor_msgs/Image of depth (any message class) → (H, W) float32 metres (NaN: invalid).

    Raises:
        ValueError: an encoding other than 16UC1 / 32FC1, or a data size that does not match.
    """
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"{source}: encoding '{encoding[:32]}' is not a depth image (16UC1 "
                         "millimetres or 32FC1 metres)")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    kind = np.dtype(np.uint16 if encoding == "16UC1" else np.float32)
    kind = kind.newbyteorder(">" if msg.is_bigendian else "<")
    data = np.asarray(msg.data, np.uint8).reshape(-1)
    if step < width * kind.itemsize or len(data) < step * height or height * width == 0:
        raise ValueError(f"{source}: {len(data)} bytes do not hold {height} x {width} "
                         f"{encoding} with step {step}")
    rows = data[:step * height].reshape(height, step)[:, :width * kind.itemsize]
    values = np.ascontiguousarray(rows).view(kind).astype(np.float32)
    metres = values * np.float32(DEPTH_ENCODINGS[encoding])
    metres[~np.isfinite(metres) | (metres <= 0)] = np.nan
    return metres


def depth_for_camera(msg: Any, camera: CameraModel, source: str = "depth image"
                     ) -> np.ndarray:
    """:func:`depth_to_metres`, refusing a size other than the camera's (when it is known).

    A depth image must be registered to the colour camera: pixel (u, v) of both is the same
    ray, so another size cannot be used (ValueError naming both sizes).
    """
    depth = depth_to_metres(msg, source)
    if camera.width and camera.height and depth.shape != (camera.height, camera.width):
        raise ValueError(f"{source}: {depth.shape[1]} x {depth.shape[0]} is not the camera's "
                         f"{camera.width} x {camera.height} (a depth image registered to the "
                         "colour camera is needed)")
    return depth


def box_depths(depth_m: np.ndarray, boxes_xyxy: np.ndarray, config: DepthConfig
               ) -> tuple[np.ndarray, np.ndarray]:
    """Robust depth of each box (see the module docstring).

    Args:
        depth_m: (H, W) float metres, NaN where invalid.
        boxes_xyxy: (N, 4) pixels.
    Returns:
        (depths (N,) metres, NaN where none; rows (N,) the image row of each sampled band's
        middle, for the back-projection).
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    height, width = depth_m.shape
    depths, rows = np.full(len(boxes), np.nan), np.zeros(len(boxes))
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        margin = (x2 - x1) * (1 - config.core_width) / 2
        cols = slice(max(int(round(x1 + margin)), 0), min(int(round(x2 - margin)), width))
        top, bottom = y1 + config.top * (y2 - y1), y1 + config.bottom * (y2 - y1)
        band = slice(max(int(round(top)), 0), min(int(round(bottom)), height))
        rows[i] = (top + bottom) / 2
        values = depth_m[band, cols].reshape(-1)
        values = values[(values >= config.min_m) & (values <= config.max_m)]  # NaN drops
        if len(values) >= config.min_pixels:
            depths[i] = np.percentile(values, config.percentile)
    return depths, rows


def depth_points(camera: CameraModel, depth_m: np.ndarray, boxes_xyxy: np.ndarray,
                 config: DepthConfig) -> tuple[np.ndarray, np.ndarray]:
    """Points of the optical frame (x right, y down, z forward) of each box's upper body.

    Returns:
        (points (N, 3) metres, NaN where the box has no depth; ok (N,) bool).
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    depths, rows = box_depths(depth_m, boxes, config)
    pixels = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, rows], axis=1)
    rays = np.ones((len(boxes), 3))
    rays[:, :2] = camera.undistort(pixels)
    points = rays * depths[:, None]
    return points, np.isfinite(depths)


class DepthQueue:
    """The latest :data:`DEPTH_KEEP` depth images by stamp, and the one for each colour image.

    A colour image gets the depth image of its exact stamp, else the newest one older than
    it by at most ``max_age_ns`` (a depth stream not registered on the same clock tick);
    never a newer one (the future is not the frame). Messages are kept as they came
    (conversion is the caller's, for the one picked).

    Args:
        max_age_ns: the oldest depth image still used, nanoseconds before the image.
        keep: how many depth images are kept (the newest by stamp).
    """

    def __init__(self, max_age_ns: int, keep: int = DEPTH_KEEP) -> None:
        self.max_age_ns, self.keep = int(max_age_ns), int(keep)
        self._items: list[tuple[int, Any]] = []  # (stamp ns, message), sorted by stamp
        self.stale = 0  # images whose newest older depth was older than max_age_ns
        self.missing = 0  # images with no depth image at or before their stamp

    def add(self, stamp_ns: int, msg: Any) -> None:
        items = [item for item in self._items if item[0] != stamp_ns] + [(int(stamp_ns), msg)]
        items.sort(key=lambda item: item[0])
        self._items = items[-self.keep:]  # one assignment: safe beside a reader thread

    def pick(self, stamp_ns: int) -> tuple[Optional[Any], Optional[float]]:
        """Return (the depth message for an image stamped ``stamp_ns`` or None, its age s).

        None with an age: the newest older depth image was too old (``stale`` counted);
        None without: there is none at or before the stamp (``missing`` counted).
        """
        older = [item for item in self._items if item[0] <= stamp_ns]
        if not older:
            self.missing += 1
            return None, None
        depth_stamp, msg = older[-1]
        age_ns = stamp_ns - depth_stamp
        if age_ns > self.max_age_ns:
            self.stale += 1
            return None, age_ns / 1e9
        return msg, age_ns / 1e9

    def clear(self) -> None:
        self._items = []
