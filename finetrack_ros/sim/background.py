"""Street background and camera effects: facades, pavement, lighting drift, blur, noise.

The background is one panorama as wide as everything a panning camera will see; each frame
crops it at the camera offset. Camera effects are applied after people and occluders are
drawn: horizontal motion blur, a slow global brightness drift, then Gaussian sensor noise.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from finetrack_ros.sim.config import SceneConfig

FACADE_WIDTH_RANGE = (0.15, 0.35)  # building widths as fractions of the image width
WINDOW_SIZE = 0.035  # window size as a fraction of the image height
TILE_ROWS = 12  # pavement joints between horizon and bottom row
TEXTURE_STD = 6.0  # grey-level std of the low-frequency ground/facade texture
TEXTURE_CELL = 8  # texture noise is drawn on a grid this many pixels coarse, then upsampled


def make_background(config: SceneConfig, rng: np.random.Generator) -> np.ndarray:
    """(H, W + pan span, 3) uint8 BGR panorama: facades above the horizon, pavement below."""
    width = config.width + int(math.ceil(config.pan_px_per_frame * config.frames)) + 2
    height, horizon = config.height, int(config.horizon * config.height)
    pano = np.zeros((height, width, 3), np.uint8)
    pano[:horizon] = (200, 190, 170)
    _draw_facades(pano, horizon, config, rng)
    _draw_pavement(pano, horizon, rng)
    coarse = rng.normal(0.0, TEXTURE_STD, (height // TEXTURE_CELL + 1, width // TEXTURE_CELL + 1))
    texture = cv2.resize(coarse.astype(np.float32), (width, height),
                         interpolation=cv2.INTER_LINEAR)
    return np.clip(pano + texture[..., None], 0, 255).astype(np.uint8)


def _draw_facades(pano: np.ndarray, horizon: int, config: SceneConfig,
                  rng: np.random.Generator) -> None:
    x = 0
    window = max(2, int(WINDOW_SIZE * config.height))
    while x < pano.shape[1]:
        w = int(rng.uniform(*FACADE_WIDTH_RANGE) * config.width)
        top = int(rng.uniform(0.0, 0.5) * horizon)
        colour = tuple(int(c) for c in rng.integers(60, 200, 3))
        cv2.rectangle(pano, (x, top), (x + w, horizon), colour, -1)
        glass = tuple(int(c) for c in rng.integers(30, 120, 3))
        for wy in range(top + window, horizon - window, 2 * window):
            for wx in range(x + window // 2, x + w - window, 2 * window):
                cv2.rectangle(pano, (wx, wy), (wx + window, wy + window), glass, -1)
        x += w + 1


def _draw_pavement(pano: np.ndarray, horizon: int, rng: np.random.Generator) -> None:
    height, width = pano.shape[:2]
    pano[horizon:] = tuple(int(c) for c in rng.integers(110, 150, 1).repeat(3))
    cv2.line(pano, (0, horizon), (width - 1, horizon), (70, 70, 70), 2)  # kerb
    for i in range(1, TILE_ROWS):  # joints spaced wider towards the camera
        y = horizon + int((height - horizon) * (i / TILE_ROWS) ** 1.5)
        cv2.line(pano, (0, y), (width - 1, y), (95, 95, 95), 1)
    spacing = max(8, (height - horizon) // 3)
    for x in range(0, width, spacing):
        cv2.line(pano, (x, horizon), (x, height - 1), (95, 95, 95), 1)


def apply_camera(frame: np.ndarray, frame_index: int, config: SceneConfig,
                 rng: np.random.Generator) -> np.ndarray:
    """Motion blur, lighting drift and sensor noise on a rendered (H, W, 3) uint8 frame."""
    blur = max(config.blur_px, int(round(config.pan_px_per_frame)))
    if blur > 1:
        frame = cv2.blur(frame, (blur, 1))
    t = frame_index / config.fps
    gain = 1.0 + config.lighting_drift * math.sin(2 * math.pi * t / config.lighting_period_s)
    out = frame.astype(np.float32)
    out *= gain
    if config.noise_std > 0:
        out += rng.standard_normal(out.shape, dtype=np.float32) * config.noise_std
    return np.clip(out, 0, 255).astype(np.uint8)
