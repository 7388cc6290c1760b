"""Where synthetic people walk: lanes, crossings, speed changes, leaving and re-entering.

People walk left or right along the ground plane at a depth (0 = farthest walkable row,
1 = bottom row) that drifts slowly. Positions are *world* x in pixels (image x plus the
camera pan offset), so a panning camera sees people and occluders move consistently.

Situations that confuse motion-only trackers are placed on purpose: pairs of people walk
towards each other at similar speed and depth and meet behind an occluder; people change
speed or pause while hidden; people leave the image and come back later, with the same id.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from finetrack_ros.sim.appearance import Appearance
from finetrack_ros.sim.config import SceneConfig

PAUSE_PROBABILITY = 0.2  # share of speed changes that are a pause (speed 0)
SPEED_FACTOR_RANGE = (0.5, 1.6)  # other speed changes draw a factor in this range
PAIR_SPEED_RANGE = (0.85, 1.15)  # crossing pairs share one factor in this range
DEPTH_DRIFT_STD = 0.0015  # per-frame std of the depth drift rate (depth units per frame)
OCCLUDED_BELOW = 0.3  # visibility under which a person counts as hidden for speed changes
STEP_HEIGHTS = 0.45  # one full walking cycle (2 pi of phase) covers this many heights


@dataclass
class Walker:
    """Motion state of one identity.

    Attributes:
        track_id: MOT id, from 1; kept across leaving and re-entering.
        appearance: the identity's parts.
        world_x: foot x in world pixels (image x + camera offset).
        depth: 0 (far) .. 1 (near), see ``SceneConfig.depth_to_foot_y``.
        direction: +1 walking right, -1 walking left.
        speed_factor: multiple of the config walking speed (0 = paused).
        depth_rate: depth change per frame.
        phase: walking phase in radians.
        away_frames: > 0 while off stage before re-entering (not drawn).
        visibility: visibility in the last rendered frame (0..1).
    """

    track_id: int
    appearance: Appearance
    world_x: float
    depth: float
    direction: float
    speed_factor: float
    depth_rate: float = 0.0
    phase: float = 0.0
    away_frames: int = 0
    visibility: float = 1.0

    def foot_y(self, config: SceneConfig) -> float:
        return config.depth_to_foot_y(self.depth)

    def height_px(self, config: SceneConfig) -> float:
        return config.person_height(self.foot_y(config)) * self.appearance.height_scale

    def speed_px(self, config: SceneConfig) -> float:
        """Return the walking speed in pixels per frame at the current depth."""
        return config.walk_speed * self.height_px(config) * self.speed_factor / config.fps


def place_walkers(config: SceneConfig, appearances: list[Appearance],
                  meet_points: list[tuple[float, float]], rng: np.random.Generator
                  ) -> list[Walker]:
    """Place the initial walkers: crossing pairs first, the rest scattered over the first frame.

    Args:
        config: the scene.
        appearances: one per identity; ids are their index + 1.
        meet_points: (world x, depth) of occluders where pairs should meet behind them;
            may be empty (pairs then meet anywhere).
        rng: random source for placement.
    """
    walkers: list[Walker] = []
    pairs = int(round(len(appearances) * config.crossing_fraction / 2))
    for pair in range(pairs):
        walkers.extend(_crossing_pair(config, appearances[2 * pair:2 * pair + 2], meet_points,
                                      len(walkers) + 1, rng))
    for app in appearances[len(walkers):]:
        walkers.append(Walker(
            track_id=len(walkers) + 1, appearance=app,
            world_x=float(rng.uniform(0.05, 0.95) * config.width),
            depth=float(rng.uniform(0.0, 1.0)), direction=float(rng.choice((-1.0, 1.0))),
            speed_factor=float(rng.uniform(*SPEED_FACTOR_RANGE)),
            depth_rate=float(rng.normal(0.0, DEPTH_DRIFT_STD)),
            phase=float(rng.uniform(0, 2 * math.pi)),
        ))
    return walkers


def _crossing_pair(config: SceneConfig, apps: list[Appearance],
                   meet_points: list[tuple[float, float]],
                   first_id: int, rng: np.random.Generator) -> list[Walker]:
    """Two walkers heading for each other, meeting at one frame near an occluder."""
    meet_frame = rng.uniform(0.1, 0.6) * config.frames
    if meet_points:  # occluders stand still in the world; meet just behind one
        meet_x, occluder_depth = meet_points[int(rng.integers(len(meet_points)))]
        depth = float(rng.uniform(max(0.0, occluder_depth - 0.3), max(0.0, occluder_depth - 0.05)))
    else:  # a point of the image, which moves through the world with the camera
        meet_x = float(rng.uniform(0.25, 0.75) * config.width)
        meet_x += config.pan_px_per_frame * meet_frame
        depth = float(rng.uniform(0.0, 1.0))
    factor = float(rng.uniform(*PAIR_SPEED_RANGE))
    pair = []
    for offset, (app, direction) in enumerate(zip(apps, (1.0, -1.0))):
        walker = Walker(track_id=first_id + offset, appearance=app, world_x=0.0,
                        depth=float(np.clip(depth + rng.normal(0, 0.03), 0, 1)),
                        direction=direction, speed_factor=factor,
                        phase=float(rng.uniform(0, 2 * math.pi)))
        walker.world_x = meet_x - direction * walker.speed_px(config) * meet_frame
        pair.append(walker)
    return pair


def step_walker(walker: Walker, config: SceneConfig, camera_x: float,
                rng: np.random.Generator) -> None:
    """Advance one frame: maybe change speed, walk, drift in depth, leave or re-enter."""
    if walker.away_frames > 0:
        walker.away_frames -= 1
        if walker.away_frames == 0:
            _reenter(walker, config, camera_x, rng)
        return
    hidden = walker.visibility < OCCLUDED_BELOW
    rate = config.occluded_speed_change_rate if hidden else config.speed_change_rate
    if rng.random() < rate / config.fps:
        walker.speed_factor = (0.0 if rng.random() < PAUSE_PROBABILITY
                               else float(rng.uniform(*SPEED_FACTOR_RANGE)))
        # draw only when enabled, so scenes made without turning keep their random stream
        if hidden and config.hidden_turn_probability > 0 and (
                rng.random() < config.hidden_turn_probability):
            walker.direction = -walker.direction
    speed = walker.speed_px(config)
    walker.world_x += walker.direction * speed
    walker.phase += 2 * math.pi * speed / (STEP_HEIGHTS * walker.height_px(config))
    walker.depth += walker.depth_rate
    if not 0.0 <= walker.depth <= 1.0:
        walker.depth = float(np.clip(walker.depth, 0.0, 1.0))
        walker.depth_rate = -walker.depth_rate
    if _has_left(walker, config, camera_x):
        low, high = config.reentry_gap_s
        walker.away_frames = max(1, int(round(rng.uniform(low, high) * config.fps)))


def _margin(walker: Walker, config: SceneConfig) -> float:
    """Half the drawn width of a person plus a pixel: beyond this they are fully off-image."""
    return 0.35 * walker.height_px(config) + 1.0


def _has_left(walker: Walker, config: SceneConfig, camera_x: float) -> bool:
    image_x = walker.world_x - camera_x
    margin = _margin(walker, config)
    return ((image_x < -margin and walker.direction < 0)
            or (image_x > config.width + margin and walker.direction > 0))


def _reenter(walker: Walker, config: SceneConfig, camera_x: float,
             rng: np.random.Generator) -> None:
    """Come back from a random side, walking inwards, at a new depth and speed."""
    walker.depth = float(rng.uniform(0.0, 1.0))
    walker.direction = float(rng.choice((-1.0, 1.0)))
    walker.speed_factor = float(rng.uniform(*SPEED_FACTOR_RANGE))
    margin = _margin(walker, config)
    edge = -margin if walker.direction > 0 else config.width + margin
    walker.world_x = camera_x + edge
