"""People on the ground: one constant-velocity Kalman filter per track id (no ROS import).

Each track's state lives in the ground frame (z = 0 plane, metres, z up): position and
velocity, so a camera that moves (its pose changing per frame) does not move people who stand
still. The measurement is the ground point of the box the tracker matched this frame (its
foot, projected with :func:`finetrack_ros.world.camera.ground_points`), never the image
Kalman prediction; its noise grows with distance, as a pixel of foot error does on the ground.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

import numpy as np

# state layout: x, y (m), vx, vy (m/s) in the ground frame
POS = slice(0, 2)
VEL = slice(2, 4)
NS_PER_SEC = 1_000_000_000


@dataclass(frozen=True)
class WorldConfig:
    """How the world step projects and filters (node parameters ``world.<name>``).

    Attributes:
        max_range_m: farthest foot point used, metres along the ground from the camera; a foot
            near the horizon lands absurdly far (raise it for a camera over an open square).
        foot_noise_px: standard deviation of a box's foot point in pixels; projected to the
            ground it gives each measurement's noise (larger: smoother, slower positions).
        min_noise_m: floor of the measurement noise on the ground, metres.
        accel_noise: standard deviation of a person's acceleration, m/s² (white noise);
            larger follows turns faster, smaller gives steadier velocities.
        init_speed_std: prior standard deviation of a new person's speed, m/s.
        gate: squared Mahalanobis distance above which a measurement restarts the filter
            instead of pulling it (the 2D track jumped to someone else); chi² 2 dof 99.9 %.
        forget_seconds: a track not measured for this long is dropped from the world.
        filtered: False reports the raw projection of each track's box (no filter).
    """

    max_range_m: float = 50.0
    foot_noise_px: float = 4.0
    min_noise_m: float = 0.05
    accel_noise: float = 1.0
    init_speed_std: float = 1.5
    gate: float = 13.8
    forget_seconds: float = 5.0
    filtered: bool = True

    @classmethod
    def from_params(cls, flat: dict) -> "WorldConfig":
        """Build from the ``world.<field>`` values of flat node parameters (others: defaults)."""
        names = {f.name for f in fields(cls)}
        return cls(**{key[len("world."):]: value for key, value in flat.items()
                      if key.startswith("world.") and key[len("world."):] in names})

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", float) and not (np.isfinite(value) and value > 0):
                raise ValueError(f"world.{f.name} = {value!r}: must be a finite number > 0")


@dataclass
class _Person:
    mean: np.ndarray  # (4,) state
    cov: np.ndarray  # (4, 4)
    stamp_ns: int  # time of mean/cov
    measured_ns: int  # last measurement


class GroundFilter:
    """Constant-velocity Kalman filters on the ground, one per track id."""

    def __init__(self, config: WorldConfig = WorldConfig()) -> None:
        self.config = config
        self.people: dict[int, _Person] = {}
        self.restarts = 0  # measurements beyond the gate (filter restarted)

    def reset(self) -> None:
        self.people.clear()

    def update(self, track_id: int, stamp_ns: int, point: np.ndarray, noise_m: float) -> None:
        """Fuse one ground measurement (x, y metres, isotropic std ``noise_m``)."""
        z = np.asarray(point, np.float64)[:2]
        person = self.people.get(track_id)
        r = np.eye(2) * noise_m ** 2
        if person is None:
            self.people[track_id] = self._start(z, r, stamp_ns)
            return
        mean, cov = self._predict(person, stamp_ns)
        innovation = z - mean[POS]
        s = cov[POS, POS] + r
        if innovation @ np.linalg.solve(s, innovation) > self.config.gate:
            self.restarts += 1
            self.people[track_id] = self._start(z, r, stamp_ns)
            return
        gain = cov[:, POS] @ np.linalg.inv(s)  # (4, 2)
        person.mean = mean + gain @ innovation
        person.cov = (np.eye(4) - gain @ np.eye(4)[POS]) @ cov
        person.stamp_ns = person.measured_ns = stamp_ns

    def state(self, track_id: int, stamp_ns: int) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """(position (2,), velocity (2,)) of a track at ``stamp_ns``, or None if unknown."""
        person = self.people.get(track_id)
        if person is None:
            return None
        mean, _ = self._predict(person, stamp_ns)
        return mean[POS].copy(), mean[VEL].copy()

    def forget(self, stamp_ns: int) -> None:
        """Drop tracks not measured for ``forget_seconds``."""
        limit = self.config.forget_seconds * NS_PER_SEC
        for track_id in [t for t, p in self.people.items() if stamp_ns - p.measured_ns > limit]:
            del self.people[track_id]

    def _start(self, z: np.ndarray, r: np.ndarray, stamp_ns: int) -> _Person:
        cov = np.zeros((4, 4))
        cov[POS, POS] = r
        cov[VEL, VEL] = np.eye(2) * self.config.init_speed_std ** 2
        return _Person(np.concatenate([z, np.zeros(2)]), cov, stamp_ns, stamp_ns)

    def _predict(self, person: _Person, stamp_ns: int) -> tuple[np.ndarray, np.ndarray]:
        dt = max(stamp_ns - person.stamp_ns, 0) / NS_PER_SEC
        f = np.eye(4)
        f[POS, VEL] = np.eye(2) * dt
        q_axis = self.config.accel_noise ** 2 * np.array([[dt ** 3 / 3, dt ** 2 / 2],
                                                          [dt ** 2 / 2, dt]])
        q = np.kron(q_axis, np.eye(2))  # x, y blocks in the (pos, vel) layout
        return f @ person.mean, f @ person.cov @ f.T + q
