"""Static occluders of the street: poles, trees, parked cars and vans.

Each occluder is rendered once into a sprite (BGR patch + boolean mask) and pasted into every
frame at its world position, depth-sorted with the people by the row of its ground contact,
so a person farther away (feet higher in the image) is hidden behind it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from finetrack_ros.sim.config import SceneConfig

KINDS = ("pole", "tree", "car", "van")
KIND_PROBABILITIES = (0.35, 0.35, 0.2, 0.1)  # vehicles are big: keep them rarer
# Depth range (0 far .. 1 near) each kind is placed at; poles and trees stand at the kerb.
# Vehicles park farther back so they do not fill the image.
DEPTH_RANGE = {"pole": (0.6, 1.0), "tree": (0.6, 1.0), "car": (0.15, 0.55), "van": (0.15, 0.55)}
# Sizes as multiples of the height of a person standing at the same depth.
POLE_WIDTH, POLE_HEIGHT = 0.12, 2.6
TRUNK_WIDTH, TRUNK_HEIGHT, CANOPY_RADIUS = 0.16, 1.05, 0.65
CAR_LENGTH, CAR_HEIGHT, VAN_HEIGHT = 2.2, 0.8, 1.2


@dataclass
class Sprite:
    """A pre-rendered occluder.

    Attributes:
        kind: one of ``KINDS``.
        depth: 0 (far) .. 1 (near), see ``SceneConfig.depth_to_foot_y``.
        image: (h, w, 3) uint8 BGR.
        mask: (h, w) bool.
        world_x: world x of the sprite's left column, pixels.
        foot_y: image row of the ground contact (its depth key).
        top_y: image row of the sprite's top row.
    """

    kind: str
    depth: float
    image: np.ndarray
    mask: np.ndarray
    world_x: float
    foot_y: float
    top_y: int


def _canvas(width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    w, h = max(2, int(math.ceil(width))), max(2, int(math.ceil(height)))
    return np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.uint8)


def _pole(ph: float, rng: np.random.Generator):
    image, mask = _canvas(ph * POLE_WIDTH * 3, ph * POLE_HEIGHT)
    h, w = mask.shape
    colour = tuple(int(c) for c in rng.integers(40, 110, 3))
    x0, x1 = int(w / 2 - ph * POLE_WIDTH / 2), int(w / 2 + ph * POLE_WIDTH / 2)
    for target, value in ((image, colour), (mask, 255)):
        cv2.rectangle(target, (x0, int(h * 0.05)), (x1, h - 1), value, -1)
        cv2.rectangle(target, (0, 0), (w - 1, int(h * 0.05)), value, -1)  # lamp head
    return image, mask


def _tree(ph: float, rng: np.random.Generator):
    radius = ph * CANOPY_RADIUS
    image, mask = _canvas(2 * radius + 2, ph * TRUNK_HEIGHT + 1.8 * radius)
    h, w = mask.shape
    trunk = (int(w / 2 - ph * TRUNK_WIDTH / 2), int(h - ph * TRUNK_HEIGHT),
             int(w / 2 + ph * TRUNK_WIDTH / 2), h - 1)
    centre = (w // 2, int(radius))
    leaves = tuple(int(c) for c in (rng.integers(20, 60), rng.integers(90, 150),
                                    rng.integers(30, 70)))
    cv2.rectangle(image, trunk[:2], trunk[2:], (30, 60, 90), -1)
    cv2.rectangle(mask, trunk[:2], trunk[2:], 255, -1)
    cv2.circle(image, centre, int(radius), leaves, -1)
    cv2.circle(mask, centre, int(radius), 255, -1)
    spots = rng.random(mask.shape) < 0.15  # leaf texture
    image[(mask > 0) & spots & (np.arange(h)[:, None] < 2 * radius)] //= 2
    return image, mask


def _vehicle(ph: float, rng: np.random.Generator, height: float):
    image, mask = _canvas(ph * CAR_LENGTH, ph * height)
    h, w = mask.shape
    body = tuple(int(c) for c in rng.integers(30, 220, 3))
    cabin_top = 0 if height > CAR_HEIGHT else int(h * 0.05)
    cabin = np.array([(int(w * 0.2), h // 2), (int(w * 0.3), cabin_top),
                      (int(w * 0.75), cabin_top), (int(w * 0.85), h // 2)], np.int32)
    for target, value in ((image, body), (mask, 255)):
        cv2.rectangle(target, (0, int(h * 0.45)), (w - 1, int(h * 0.85)), value, -1)
        cv2.fillConvexPoly(target, cabin, value)
    cv2.rectangle(image, (int(w * 0.33), cabin_top + h // 12), (int(w * 0.72), int(h * 0.45)),
                  (90, 70, 50), -1)  # windows
    for x in (0.2, 0.8):
        centre, radius = (int(w * x), int(h * 0.85)), max(1, int(h * 0.14))
        cv2.circle(image, centre, radius, (20, 20, 20), -1)
        cv2.circle(mask, centre, radius, 255, -1)
    return image, mask


def make_occluders(config: SceneConfig, rng: np.random.Generator) -> list[Sprite]:
    """``config.occluders`` sprites spread over the world width the camera will see."""
    world_width = config.width + config.pan_px_per_frame * config.frames
    sprites = []
    for index in range(config.occluders):
        kind = str(rng.choice(KINDS, p=KIND_PROBABILITIES))
        depth = float(rng.uniform(*DEPTH_RANGE[kind]))
        foot_y = config.depth_to_foot_y(depth)
        ph = config.person_height(foot_y)
        if kind == "pole":
            image, mask = _pole(ph, rng)
        elif kind == "tree":
            image, mask = _tree(ph, rng)
        else:
            image, mask = _vehicle(ph, rng, VAN_HEIGHT if kind == "van" else CAR_HEIGHT)
        slot = world_width / config.occluders
        centre_x = (index + rng.uniform(0.25, 0.75)) * slot
        sprites.append(Sprite(kind=kind, depth=depth, image=image, mask=mask > 0,
                              world_x=centre_x - mask.shape[1] / 2, foot_y=foot_y,
                              top_y=int(round(foot_y)) - mask.shape[0] + 1))
    return sprites
