"""A calibrated camera and its foot points on the ground plane (no ROS import).

:class:`CameraModel` is the ROS pinhole model of ``sensor_msgs/CameraInfo`` (``k``, ``d``,
``distortion_model``, ``width``, ``height``), loaded from a ``camera_calibration_parsers``
YAML file (:func:`load_camera_yaml`) or from a CameraInfo message of any message class
(:meth:`CameraModel.from_camera_info`). Pixels are undistorted with OpenCV
(``cv2.undistortPoints`` for ``plumb_bob`` / ``rational_polynomial``,
``cv2.fisheye.undistortPoints`` for ``equidistant``) to normalised rays of the optical frame
(x right, y down, z forward).

:func:`ground_points` intersects those rays with the plane z = 0 of a ground frame (z up),
given the optical frame's pose in it (:class:`Pose`, ``ground_from_camera``). A ray that
meets the ground behind the camera, never, or farther than ``max_range_m`` (a foot at or above
the horizon, a camera looking at the sky or upside down) gives no point: its ``ok`` is False.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

# distortion_model -> coefficient counts accepted (ROS names; an empty d means none)
DISTORTION_MODELS = {"plumb_bob": (0, 4, 5), "rational_polynomial": (0, 8),
                     "equidistant": (0, 4)}
# Undistortion iterations and tolerance: OpenCV's default (5 iterations) leaves up to a few
# millimetres on the ground at the corners of a strongly distorted lens.
UNDISTORT_CRITERIA = (3, 50, 1e-12)  # cv2.TERM_CRITERIA_COUNT | EPS, iterations, epsilon


@dataclass(frozen=True)
class Pose:
    """A rigid transform ``parent_from_child``: p_parent = rotation @ p_child + translation.

    Attributes:
        rotation: (3, 3) float64 rotation matrix.
        translation: (3,) float64, metres.
    """

    rotation: np.ndarray
    translation: np.ndarray

    @classmethod
    def from_xyzw(cls, translation, rotation_xyzw, source: str = "pose") -> "Pose":
        """Build a pose from a translation and a quaternion (x, y, z, w; normalised here)."""
        t = np.asarray(translation, np.float64).reshape(-1)
        q = np.asarray(rotation_xyzw, np.float64).reshape(-1)
        if t.shape != (3,) or not np.isfinite(t).all():
            raise ValueError(f"{source}: translation {t.tolist()} is not 3 finite numbers")
        norm = float(np.linalg.norm(q)) if q.shape == (4,) else 0.0
        if not (np.isfinite(q).all() and norm > 1e-9):
            raise ValueError(f"{source}: rotation {q.tolist()} is not a quaternion x, y, z, w "
                             "(4 finite numbers, not all zero)")
        x, y, z, w = q / norm
        rotation = np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        return cls(rotation, t)

    def inverse(self) -> "Pose":
        return Pose(self.rotation.T, -self.rotation.T @ self.translation)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) points of the child frame in the parent frame."""
        return np.asarray(points, np.float64) @ self.rotation.T + self.translation


@dataclass(frozen=True)
class CameraModel:
    """The pinhole model of a CameraInfo message.

    Attributes:
        k: (3, 3) float64 intrinsic matrix (fx, fy > 0, pixels).
        d: (n,) float64 distortion coefficients of ``distortion_model``.
        distortion_model: ``plumb_bob``, ``rational_polynomial`` or ``equidistant``.
        width, height: image size in pixels (0 = unknown).
    """

    k: np.ndarray
    d: np.ndarray
    distortion_model: str = "plumb_bob"
    width: int = 0
    height: int = 0

    @classmethod
    def checked(cls, k, d, distortion_model: str, width: int = 0, height: int = 0,
                source: str = "camera", names: tuple = ("k", "d", "distortion_model")
                ) -> "CameraModel":
        """Build a model, refusing a K or D that cannot project (ValueError naming the field).

        ``names`` are the field names used in messages (CameraInfo's, or the YAML file's).
        """
        k_name, d_name, model_name = names
        k = np.asarray(k, np.float64).reshape(-1)
        if k.shape != (9,) or not np.isfinite(k).all():
            raise ValueError(f"{source}: {k_name} must be 9 finite numbers (row-major 3x3), "
                             f"got {k.tolist()}")
        k = k.reshape(3, 3)
        if not (k[0, 0] > 0 and k[1, 1] > 0 and k[2, 2] != 0):
            raise ValueError(f"{source}: {k_name} has fx = {k[0, 0]:g}, fy = {k[1, 1]:g}, "
                             f"k[2][2] = {k[2, 2]:g}: not a calibrated camera (fx, fy must be "
                             "> 0; an all-zero K means the camera is uncalibrated)")
        k = k / k[2, 2]
        model = str(distortion_model or "plumb_bob")
        if model not in DISTORTION_MODELS:
            raise ValueError(f"{source}: {model_name} '{model[:40]}' is not supported "
                             f"(one of {', '.join(DISTORTION_MODELS)})")
        d = np.asarray(d, np.float64).reshape(-1)
        if len(d) not in DISTORTION_MODELS[model] or not np.isfinite(d).all():
            raise ValueError(f"{source}: {d_name} {d.tolist()} for {model} must be "
                             f"{' or '.join(map(str, DISTORTION_MODELS[model]))} finite numbers")
        return cls(k, d, model, int(width), int(height))

    @classmethod
    def from_camera_info(cls, msg: Any, source: str = "CameraInfo") -> "CameraModel":
        """Build the model of a sensor_msgs/CameraInfo (rclpy or rosbags class)."""
        return cls.checked(list(msg.k), list(msg.d), msg.distortion_model, msg.width,
                           msg.height, source)

    def undistort(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) pixels → (N, 2) normalised image coordinates (x/z, y/z of the ray)."""
        import cv2

        pts = np.asarray(pixels, np.float64).reshape(-1, 1, 2)
        if len(pts) == 0:
            return np.zeros((0, 2))
        if not self.d.any():
            out = (pts.reshape(-1, 2) - self.k[:2, 2]) / np.diag(self.k)[:2]
            out[:, 0] -= self.k[0, 1] * out[:, 1] / self.k[0, 0]  # skew
            return out
        if self.distortion_model == "equidistant":
            out = cv2.fisheye.undistortPoints(pts, self.k, self.d, criteria=UNDISTORT_CRITERIA)
        else:
            out = cv2.undistortPoints(pts, self.k, self.d, criteria=UNDISTORT_CRITERIA)
        return out.reshape(-1, 2)

    def project(self, points_camera: np.ndarray) -> np.ndarray:
        """(N, 3) points of the optical frame (z > 0) → (N, 2) distorted pixels (OpenCV)."""
        import cv2

        pts = np.asarray(points_camera, np.float64).reshape(-1, 1, 3)
        zero = np.zeros(3)
        if self.distortion_model == "equidistant":
            out, _ = cv2.fisheye.projectPoints(pts, zero, zero, self.k, self.d)
        else:
            out, _ = cv2.projectPoints(pts, zero, zero, self.k, self.d)
        return out.reshape(-1, 2)


def ground_points(camera: CameraModel, ground_from_camera: Pose, pixels: np.ndarray,
                  max_range_m: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Pixels → points on the ground plane z = 0 of the pose's parent frame.

    Args:
        pixels: (N, 2) distorted pixel coordinates (e.g. foot points of boxes).
        max_range_m: farthest accepted distance from the camera (metres, along the ground).
    Returns:
        (points (N, 3) float64 with z = 0, NaN where there is none; ok (N,) bool).
    """
    rays = np.ones((len(pixels), 3))
    rays[:, :2] = camera.undistort(pixels)
    rays = rays @ ground_from_camera.rotation.T  # directions in the ground frame
    origin = ground_from_camera.translation
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = -origin[2] / rays[:, 2]  # ray length (in units of the direction) to z = 0
        points = origin + scale[:, None] * rays
        reach = np.hypot(points[:, 0] - origin[0], points[:, 1] - origin[1])
        ok = np.isfinite(scale) & (scale > 0) & (reach <= max_range_m)
    points[~ok] = np.nan
    points[ok, 2] = 0.0
    return points, ok


def foot_pixels(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy boxes → (N, 2) foot points: the bottom centre ((x1 + x2) / 2, y2)."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)


def load_camera_yaml(path: str | Path) -> tuple[CameraModel, Optional[Pose]]:
    """Read a ``camera_calibration_parsers`` YAML file → (model, ``world_from_camera`` or None).

    The optional ``world_from_camera: {translation: [x, y, z], rotation_xyzw: [...]}`` is the
    optical frame's pose in a world frame whose ground is z = 0.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"camera file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict) or "camera_matrix" not in data:
        raise ValueError(f"{path}: no camera_matrix (a camera_calibration_parsers YAML file)")
    camera = CameraModel.checked(
        _matrix_data(data, "camera_matrix", path), _matrix_data(data, "distortion_coefficients",
                                                                path, required=False),
        data.get("distortion_model", "plumb_bob"), data.get("image_width", 0) or 0,
        data.get("image_height", 0) or 0, str(path),
        ("camera_matrix", "distortion_coefficients", "distortion_model"))
    pose = data.get("world_from_camera")
    if pose is None:
        return camera, None
    if not isinstance(pose, dict) or not {"translation", "rotation_xyzw"} <= set(pose):
        raise ValueError(f"{path}: world_from_camera needs translation and rotation_xyzw")
    return camera, Pose.from_xyzw(pose["translation"], pose["rotation_xyzw"],
                                  f"{path}: world_from_camera")


def _matrix_data(data: dict, key: str, path: Path, required: bool = True) -> list:
    entry = data.get(key)
    if entry is None and not required:
        return []
    if not isinstance(entry, dict) or not isinstance(entry.get("data"), list):
        raise ValueError(f"{path}: {key} needs a data list ({{rows, cols, data: [...]}})")
    try:
        return [float(v) for v in entry["data"]]
    except (TypeError, ValueError):
        raise ValueError(f"{path}: {key} data {entry['data']!r:.80} is not numbers") from None
