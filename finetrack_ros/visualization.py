"""Annotated images for the node, the bag replay and the demo: boxes, ids, short trails.

Pure numpy + OpenCV, no ROS. Colours are a deterministic function of the track id, so one
object keeps its colour across frames, runs and processes.
"""
from __future__ import annotations

import colorsys
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Optional

import cv2
import numpy as np

# Golden-ratio hue step: consecutive ids get far-apart hues.
_GOLDEN_RATIO_CONJUGATE = 0.618033988749895


@dataclass
class DrawConfig:
    """Looks of the annotation."""

    box_thickness: int = 2  # pixels
    font_scale: float = 0.5  # OpenCV Hershey font scale of the id label
    trail_thickness: int = 2  # pixels
    trail_length: int = 30  # box-center points kept per track by TrailHistory (frames)


def color_for_id(track_id: int) -> tuple[int, int, int]:
    """Return a stable, saturated BGR colour (0-255 ints) for a track id."""
    hue = (int(track_id) * _GOLDEN_RATIO_CONJUGATE) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


class TrailHistory:
    """Recent box-center points per track id, for :func:`draw_tracks`'s ``trails``.

    Args:
        length: points kept per track (frames).
    """

    def __init__(self, length: int = DrawConfig.trail_length) -> None:
        if length < 1:
            raise ValueError(f"TrailHistory: length must be >= 1, got {length}")
        self.length = length
        self.points: dict[int, deque] = {}

    def update(self, tracks: Iterable) -> dict[int, deque]:
        """Add the centers of ``tracks`` (objects with ``track_id`` and ``xyxy``).

        Drop the trails of ids not seen this frame. Returns id → deque of (x, y) pixels.
        """
        seen = set()
        for track in tracks:
            x1, y1, x2, y2 = np.asarray(track.xyxy, np.float64)[:4]
            trail = self.points.setdefault(int(track.track_id), deque(maxlen=self.length))
            trail.append(((x1 + x2) / 2.0, (y1 + y2) / 2.0))
            seen.add(int(track.track_id))
        for track_id in list(self.points):
            if track_id not in seen:
                del self.points[track_id]
        return self.points


def draw_tracks(
    frame_bgr: np.ndarray,
    tracks: Iterable,
    trails: Optional[dict] = None,
    config: Optional[DrawConfig] = None,
) -> np.ndarray:
    """Draw tracks on a copy of a frame.

    Args:
        frame_bgr: (H, W, 3) uint8 BGR image (not modified).
        tracks: objects with ``track_id`` (int) and ``xyxy`` (x1, y1, x2, y2 pixels).
        trails: optional track id → sequence of (x, y) pixel points, oldest first
            (e.g. :meth:`TrailHistory.update`).
        config: line widths and font size.

    Returns:
        (H, W, 3) uint8 BGR annotated copy.
    """
    config = config or DrawConfig()
    frame = np.asarray(frame_bgr)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(
            f"draw_tracks: expected (H, W, 3) uint8 BGR, got {frame.shape} {frame.dtype}"
        )
    out = frame.copy()
    for track_id, points in (trails or {}).items():
        if len(points) >= 2:
            poly = np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(out, [poly], False, color_for_id(track_id), config.trail_thickness)
    for track in tracks:
        color = color_for_id(track.track_id)
        x1, y1, x2, y2 = (int(round(v)) for v in np.asarray(track.xyxy, np.float64)[:4])
        cv2.rectangle(out, (x1, y1), (x2, y2), color, config.box_thickness)
        label = str(int(track.track_id))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, config.font_scale, 1)
        top = max(y1 - th - base, 0)
        cv2.rectangle(out, (x1, top), (x1 + tw, top + th + base), color, -1)
        cv2.putText(
            out, label, (x1, top + th), cv2.FONT_HERSHEY_SIMPLEX, config.font_scale,
            (255, 255, 255), 1, cv2.LINE_AA,
        )
    return out
