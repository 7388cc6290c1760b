"""The world step: tracked boxes of one frame → people on the ground (no ROS import).

Runs after the tracker (``FramePath.process``), so association is untouched: for each
track, the foot point (bottom centre) of the box the tracker matched this frame
(``Track.observed_xyxy``) is undistorted, cast as a ray and intersected with the ground plane
z = 0 of the ground frame, the camera's pose in that frame given per frame (a moving robot
passes a new pose each time); the ground point updates the track's
:class:`~finetrack_ros.world.ground_filter.GroundFilter`. A foot with no ground point (at or
above the horizon, beyond ``max_range_m``) is counted in ``no_ground``.

With a registered depth image (``depth_m``), each box with a robust depth
(:mod:`finetrack_ros.world.depth`) is measured there instead: its upper-body point in the
camera frame, moved into the ground frame, the person on the ground below it; a box without a
valid depth (too few valid pixels) falls back to its foot point (counted in ``no_depth``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from finetrack_ros.world.camera import CameraModel, Pose, foot_pixels, ground_points
from finetrack_ros.world.depth import DepthConfig, depth_points
from finetrack_ros.world.ground_filter import GroundFilter, WorldConfig


@dataclass
class PersonInWorld:
    """One track in the ground frame.

    Attributes:
        track_id: the 2D track's id.
        position: (3,) metres in the ground frame (z = 0); NaN when never on the ground.
        velocity: (3,) m/s in the ground frame; NaN unfiltered or unknown.
        measured: the track's box gave a ground point this frame (else a prediction).
    """

    track_id: int
    position: np.ndarray
    velocity: np.ndarray
    measured: bool


class WorldStep:
    """Ground positions and velocities of the tracks of each frame.

    Args:
        camera: the camera's :class:`CameraModel` (``set_camera`` replaces it).
        config: :class:`WorldConfig`.
        depth: how boxes read a depth image (:class:`DepthConfig`), when one is passed.
    """

    def __init__(self, camera: Optional[CameraModel], config: WorldConfig = WorldConfig(),
                 depth: DepthConfig = DepthConfig()) -> None:
        self.camera, self.config, self.depth = camera, config, depth
        self.filter = GroundFilter(config)
        self.no_ground = 0  # boxes whose foot point did not meet the ground
        self.from_depth = 0  # boxes measured in a depth image
        self.no_depth = 0  # boxes of a depth frame without a valid depth (foot point used)
        self.frames = 0
        self.last_ms = 0.0  # wall time of the last process() call
        self._depth_m: Optional[np.ndarray] = None  # the frame's depth image, during process
        self._depth_ok = np.zeros(0, bool)  # its boxes with a valid depth

    def set_camera(self, camera: CameraModel) -> None:
        self.camera = camera

    def reset(self) -> None:
        self.filter.reset()

    def process(self, tracks: Iterable, stamp_ns: int, ground_from_camera: Pose,
                depth_m: Optional[np.ndarray] = None) -> list[PersonInWorld]:
        """One frame: ``tracks`` (``track_id``, ``observed_xyxy``, ``xyxy``) in the ground frame.

        Args:
            depth_m: (H, W) metres of a registered depth image of this frame (NaN invalid;
                :func:`~finetrack_ros.world.depth.depth_to_metres`), or None.
        Returns one :class:`PersonInWorld` per track, in the order of ``tracks``.
        """
        if self.camera is None:
            raise ValueError("world step: no camera model yet (no CameraInfo received)")
        start = time.perf_counter()
        tracks = list(tracks)
        self._depth_m = depth_m
        if self.config.filtered:
            out = self._filtered(tracks, stamp_ns, ground_from_camera)
        else:
            out = self._projected(tracks, ground_from_camera)
        self.frames += 1
        self.last_ms = (time.perf_counter() - start) * 1000.0
        return out

    def _ground(self, boxes: np.ndarray, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        points, ok = ground_points(self.camera, pose, foot_pixels(boxes),
                                   self.config.max_range_m)
        if self._depth_m is not None:
            points, ok = self._with_depth(boxes, pose, points, ok)
        self.no_ground += int((~ok).sum())
        return points, ok

    def _with_depth(self, boxes: np.ndarray, pose: Pose, points: np.ndarray, ok: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Replace the foot points of boxes with a valid depth by the point below the body."""
        body, has_depth = depth_points(self.camera, self._depth_m, boxes, self.depth)
        body = pose.apply(body)
        reach = np.hypot(body[:, 0] - pose.translation[0], body[:, 1] - pose.translation[1])
        has_depth &= reach <= self.config.max_range_m
        self._depth_ok = has_depth
        self.from_depth += int(has_depth.sum())
        self.no_depth += int((~has_depth).sum())
        points, ok = points.copy(), ok.copy()
        points[has_depth] = body[has_depth] * [1.0, 1.0, 0.0]  # on the ground below it
        ok |= has_depth
        return points, ok

    def _projected(self, tracks: list, pose: Pose) -> list[PersonInWorld]:
        """Give the naive answer: each track's own box (the image Kalman mean) on the ground."""
        boxes = np.array([t.xyxy for t in tracks]).reshape(-1, 4)
        points, _ = self._ground(boxes, pose)
        return [PersonInWorld(int(t.track_id), p, np.full(3, np.nan), bool(np.isfinite(p[0])))
                for t, p in zip(tracks, points)]

    def _filtered(self, tracks: list, stamp_ns: int, pose: Pose) -> list[PersonInWorld]:
        boxes = np.array([t.observed_xyxy for t in tracks]).reshape(-1, 4)
        points, ok = self._ground(boxes, pose)
        noise = self._noise_m(boxes, points, pose)
        out = []
        for track, point, good, sigma in zip(tracks, points, ok, noise):
            track_id = int(track.track_id)
            if good:
                self.filter.update(track_id, stamp_ns, point, sigma)
            state = self.filter.state(track_id, stamp_ns)
            if state is None:
                out.append(PersonInWorld(track_id, np.full(3, np.nan), np.full(3, np.nan),
                                         False))
            else:
                out.append(PersonInWorld(track_id, np.append(state[0], 0.0),
                                         np.append(state[1], 0.0), bool(good)))
        self.filter.forget(stamp_ns)
        return out

    def _noise_m(self, boxes: np.ndarray, points: np.ndarray, pose: Pose) -> np.ndarray:
        """Ground std of each point (``foot_noise_px`` pixels down; depth: ``noise_per_m``).

        A foot point's is the ground step of ``foot_noise_px`` pixels down; a point from
        depth's is ``noise_per_m`` times its distance from the camera.
        """
        shifted = foot_pixels(boxes) + [0.0, self.config.foot_noise_px]
        moved, _ = ground_points(self.camera, pose, shifted)
        step = np.hypot(*(moved - points)[:, :2].T)
        if self._depth_m is not None:
            distance = np.hypot(*(points - pose.translation)[:, :2].T)
            step = np.where(self._depth_ok, self.depth.noise_per_m * distance, step)
        return np.maximum(np.nan_to_num(step, nan=self.config.max_range_m),
                          self.config.min_noise_m)


class WorldColumns:
    """A ``track_offline`` sink: the world position of every result row, in row order.

    ``track_offline`` writes one row per track of each tracked frame, in the order of
    ``TrackedFrame.tracks``; this sink sees the same frames in the same order, so
    :meth:`join` appends ``wx, wy, wz`` to each row.

    Args:
        step: the :class:`WorldStep`.
        ground_from_camera: the camera's pose (a fixed camera; a moving one needs a pose per
            frame, as the node gets from tf2).
    """

    def __init__(self, step: WorldStep, ground_from_camera: Pose) -> None:
        self.step, self.pose = step, ground_from_camera
        self.columns: list[tuple] = []
        self.total_ms = 0.0

    def write(self, tracked) -> None:
        if tracked.reset:
            self.step.reset()
        stamp = tracked.header.stamp
        stamp_ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
        people = self.step.process(tracked.tracks, stamp_ns, self.pose)
        self.total_ms += self.step.last_ms
        self.columns += [tuple(map(float, p.position)) for p in people]

    def join(self, rows: list) -> list[tuple]:
        """``rows`` (frame, id, x, y, w, h, score) with wx, wy, wz appended."""
        if len(rows) != len(self.columns):
            raise RuntimeError(f"world columns: {len(self.columns)} positions for {len(rows)} "
                               "rows (the sink missed a frame)")
        return [(*row, *world) for row, world in zip(rows, self.columns)]
