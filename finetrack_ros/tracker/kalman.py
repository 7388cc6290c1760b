"""Constant-velocity Kalman filter in (cx, cy, a, h) space, ByteTrack's, batched over tracks.

State (8,): ``(cx, cy, a, h, vcx, vcy, va, vh)``: box center (pixels), aspect ratio w / h,
height (pixels) and their velocities per frame. Measurement (4,): ``(cx, cy, a, h)``.
Noise is scaled by the box height as in DeepSORT/ByteTrack. Every method takes a batch:
means (N, 8), covariances (N, 8, 8), measurements (N, 4); results equal ByteTrack's
``KalmanFilter`` row by row (up to float rounding). :func:`warp_states` moves states by a
camera warp (BoT-SORT's camera-motion compensation; the warp is estimated outside the
tracker, in ``finetrack_ros/camera_motion.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# indices into the 8-D state
CX, CY, ASPECT, HEIGHT = 0, 1, 2, 3
V_CX, V_CY, V_ASPECT, V_HEIGHT = 4, 5, 6, 7
NDIM = 4  # measured dimensions


@dataclass(frozen=True)
class KalmanConfig:
    """Noise settings (ByteTrack's constants)."""

    std_weight_position: float = 1.0 / 20  # position std as a fraction of box height
    std_weight_velocity: float = 1.0 / 160  # velocity std as a fraction of box height
    std_aspect: float = 1e-2  # process std of the aspect ratio (and 2x at initiation)
    std_aspect_velocity: float = 1e-5  # std of the aspect-ratio velocity
    std_aspect_measurement: float = 1e-1  # measurement std of the aspect ratio
    init_position_scale: float = 2.0  # initial position std = this * weight * h
    init_velocity_scale: float = 10.0  # initial velocity std = this * weight * h


class KalmanFilter:
    """Batched version of ByteTrack's ``yolox/tracker/kalman_filter.py``."""

    def __init__(self, config: KalmanConfig = KalmanConfig()) -> None:
        self.config = config
        self.motion_mat = np.eye(2 * NDIM)  # (8, 8) x' = F x, dt = 1 frame
        for i in range(NDIM):
            self.motion_mat[i, NDIM + i] = 1.0
        self.update_mat = np.eye(NDIM, 2 * NDIM)  # (4, 8) z = H x

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Create new tracks from unassociated measurements.

        Args:
            measurements: (N, 4) (cx, cy, a, h).
        Returns:
            means (N, 8) with zero velocity, covariances (N, 8, 8) diagonal.
        """
        z = np.asarray(measurements, np.float64).reshape(-1, NDIM)
        c = self.config
        h = z[:, HEIGHT]
        pos = c.init_position_scale * c.std_weight_position * h
        vel = c.init_velocity_scale * c.std_weight_velocity * h
        std = np.stack(
            [pos, pos, np.full_like(h, c.std_aspect), pos,
             vel, vel, np.full_like(h, c.std_aspect_velocity), vel], axis=1)
        means = np.concatenate([z, np.zeros_like(z)], axis=1)
        return means, _diag(std**2)

    def predict(self, means: np.ndarray, covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One constant-velocity step: ByteTrack's ``multi_predict``.

        Args:
            means: (N, 8); covs: (N, 8, 8).
        Returns:
            predicted means (N, 8) and covariances (N, 8, 8) (new arrays).
        """
        c = self.config
        h = means[:, HEIGHT]
        pos = c.std_weight_position * h
        vel = c.std_weight_velocity * h
        std = np.stack(
            [pos, pos, np.full_like(h, c.std_aspect), pos,
             vel, vel, np.full_like(h, c.std_aspect_velocity), vel], axis=1)
        f = self.motion_mat
        new_means = means @ f.T
        new_covs = f @ covs @ f.T + _diag(std**2)
        return new_means, new_covs

    def project(self, means: np.ndarray, covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State distribution -> measurement space: means (N, 4), covariances (N, 4, 4)."""
        c = self.config
        pos = c.std_weight_position * means[:, HEIGHT]
        std = np.stack([pos, pos, np.full_like(pos, c.std_aspect_measurement), pos], axis=1)
        return means[:, :NDIM].copy(), covs[:, :NDIM, :NDIM] + _diag(std**2)

    def update(
        self, means: np.ndarray, covs: np.ndarray, measurements: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Kalman correction of N tracks by N measurements (row i with row i).

        Args:
            means: (N, 8); covs: (N, 8, 8); measurements: (N, 4) (cx, cy, a, h).
        Returns:
            corrected means (N, 8) and covariances (N, 8, 8).
        """
        proj_mean, proj_cov = self.project(means, covs)
        # K = P H^T S^-1, solved with S symmetric positive definite: K^T = S^-1 (P H^T)^T
        pht = covs[:, :, :NDIM]  # (N, 8, 4) = P H^T since H selects the first 4 dims
        gain = np.linalg.solve(proj_cov, pht.transpose(0, 2, 1)).transpose(0, 2, 1)
        innovation = np.asarray(measurements, np.float64).reshape(-1, NDIM) - proj_mean
        new_means = means + np.einsum("nij,nj->ni", gain, innovation)
        new_covs = covs - gain @ proj_cov @ gain.transpose(0, 2, 1)
        return new_means, new_covs


def _diag(values: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, D, D) diagonal matrices."""
    n, d = values.shape
    out = np.zeros((n, d, d))
    idx = np.arange(d)
    out[:, idx, idx] = values
    return out


def warp_states(means: np.ndarray, covariances: np.ndarray,
                warp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kalman states (N, 8) and covariances (N, 8, 8) moved by an image warp (2, 3).

    The box centre moves as a point; the centre velocity turns with the linear part; the
    height and its velocity scale with the warp's scale; the aspect ratio is unchanged (a
    similarity warp scales width and height alike). Covariances: ``J C J^T`` with the same
    Jacobian. The identity leaves every value untouched.
    """
    linear, shift = warp[:, :2], warp[:, 2]
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    jacobian = np.eye(8)
    for first in (CX, V_CX):
        jacobian[first:first + 2, first:first + 2] = linear
    jacobian[HEIGHT, HEIGHT] = jacobian[V_HEIGHT, V_HEIGHT] = scale
    jacobian[ASPECT, ASPECT] = jacobian[V_ASPECT, V_ASPECT] = 1.0
    means = means @ jacobian.T
    means[:, [CX, CY]] += shift
    covariances = jacobian @ covariances @ jacobian.T
    return means, covariances
