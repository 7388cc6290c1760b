"""Articulated person drawing: head, torso, arms, legs with a walking phase, plus bag.

A person is drawn into its own small patch (BGR image + boolean mask), which the scene then
pastes into the frame back to front. The mask is exact, so the scene can count how many of
a person's pixels stay visible after nearer people and occluders are drawn over them.

Body proportions below are fractions of the person's height ``u`` in pixels, measured from
the top of the head (y = 0) to the soles (y = u), x relative to the body centre line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from finetrack_ros.sim.appearance import Appearance

# Body layout (fractions of height).
HEAD_CENTRE_Y, HEAD_RADIUS = 0.07, 0.065
SHOULDER_Y, HIP_Y = 0.15, 0.52
SHOULDER_HALF_WIDTH, HIP_HALF_WIDTH = 0.11, 0.085
LEG_OFFSET_X, LEG_THICKNESS, STRIDE = 0.045, 0.075, 0.13
ARM_OFFSET_X, ARM_THICKNESS, ARM_SWING, HAND_Y = 0.125, 0.05, 0.10, 0.47
LOGO_RADIUS = 0.04
PATCH_HALF_WIDTH = 0.32  # patch half-width: room for arm/leg swing and a bag


@dataclass
class FigurePatch:
    """A rendered person.

    Attributes:
        image: (h, w, 3) uint8 BGR patch.
        mask: (h, w) bool, True on the person's pixels.
        foot_xy: (x, y) of the point between the feet inside the patch, pixels.
    """

    image: np.ndarray
    mask: np.ndarray
    foot_xy: tuple[int, int]


def _pt(cx: float, u: float, x: float, y: float) -> tuple[int, int]:
    """Patch pixel of body coordinates (fractions of height) relative to centre line ``cx``."""
    return int(round(cx + x * u)), int(round(y * u))


def _thick(u: float, fraction: float) -> int:
    return max(1, int(round(fraction * u)))


def _draw(image: np.ndarray, mask: np.ndarray, fn, *args, colour, **kwargs) -> None:
    """Apply a cv2 drawing call to the patch (in ``colour``) and to the mask (255)."""
    fn(image, *args, color=colour, **kwargs)
    fn(mask, *args, color=255, **kwargs)


def _shirt_texture(app: Appearance, u: float, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: pixels of the shirt pattern's accent colour (stripes or checks)."""
    period = max(2.0, app.pattern_period * u)
    rows = (np.arange(shape[0]) // (period / 2)).astype(np.int64)[:, None]
    cols = (np.arange(shape[1]) // (period / 2)).astype(np.int64)[None, :]
    if app.shirt_pattern == "stripes":
        return np.broadcast_to(rows % 2 == 1, shape)
    if app.shirt_pattern == "checks":
        return (rows + cols) % 2 == 1
    return np.zeros(shape, bool)


def _draw_torso(image, mask, app: Appearance, cx: float, u: float) -> None:
    ws = app.width_scale
    torso = np.array([
        _pt(cx, u, -SHOULDER_HALF_WIDTH * ws, SHOULDER_Y), _pt(cx, u, SHOULDER_HALF_WIDTH * ws,
                                                             SHOULDER_Y),
        _pt(cx, u, HIP_HALF_WIDTH * ws, HIP_Y), _pt(cx, u, -HIP_HALF_WIDTH * ws, HIP_Y),
    ], np.int32)
    torso_mask = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(torso_mask, torso, 255)
    on = torso_mask > 0
    image[on] = app.shirt
    image[on & _shirt_texture(app, u, mask.shape)] = app.shirt_accent
    if app.shirt_pattern == "logo":
        cv2.circle(image, _pt(cx, u, 0.0, (SHOULDER_Y + HIP_Y) * 0.45), _thick(u, LOGO_RADIUS),
                   app.shirt_accent, -1)
    mask[on] = 255


def _draw_legs(image, mask, app: Appearance, cx: float, u: float, phase: float) -> None:
    swing = math.sin(phase) * STRIDE
    for side, sign in ((-1, 1.0), (1, -1.0)):
        hip = _pt(cx, u, side * LEG_OFFSET_X, HIP_Y)
        foot = _pt(cx, u, side * LEG_OFFSET_X * 0.5 + sign * swing, 1.0 - LEG_THICKNESS / 2)
        _draw(image, mask, cv2.line, hip, foot, colour=app.trousers,
              thickness=_thick(u, LEG_THICKNESS))
        if app.trouser_pattern == "side_stripe":
            cv2.line(image, hip, foot, app.trouser_accent, _thick(u, LEG_THICKNESS / 4))
        _draw(image, mask, cv2.circle, foot, _thick(u, LEG_THICKNESS / 2), colour=app.shoes,
              thickness=-1)


def _draw_arms(image, mask, app: Appearance, cx: float, u: float, phase: float) -> None:
    swing = math.sin(phase) * ARM_SWING
    for side, sign in ((-1, -1.0), (1, 1.0)):
        shoulder = _pt(cx, u, side * ARM_OFFSET_X * app.width_scale, SHOULDER_Y + 0.02)
        hand = _pt(cx, u, side * ARM_OFFSET_X * app.width_scale + sign * swing, HAND_Y)
        _draw(image, mask, cv2.line, shoulder, hand, colour=app.shirt,
              thickness=_thick(u, ARM_THICKNESS))
        _draw(image, mask, cv2.circle, hand, _thick(u, ARM_THICKNESS * 0.6), colour=app.skin,
              thickness=-1)


def _draw_head(image, mask, app: Appearance, cx: float, u: float) -> None:
    centre, radius = _pt(cx, u, 0.0, HEAD_CENTRE_Y), _thick(u, HEAD_RADIUS)
    _draw(image, mask, cv2.circle, centre, radius, colour=app.skin, thickness=-1)
    if app.headwear == "hair":
        _draw(image, mask, cv2.ellipse, centre, (radius, radius), 0, 180, 360,
              colour=app.head_colour, thickness=-1)
    else:
        top_left = (centre[0] - radius, max(0, centre[1] - radius - 1))
        bottom_right = (centre[0] + radius, centre[1] - radius // 3)
        _draw(image, mask, cv2.rectangle, top_left, bottom_right, colour=app.head_colour,
              thickness=-1)
        brim_y = centre[1] - radius // 3
        _draw(image, mask, cv2.line, (centre[0] - int(radius * 1.4), brim_y),
              (centre[0] + int(radius * 1.4), brim_y), colour=app.head_colour,
              thickness=_thick(u, 0.015))


def _draw_bag(image, mask, app: Appearance, cx: float, u: float, facing: float,
              behind: bool) -> None:
    """Backpack behind the torso (drawn first) or a shoulder bag in front (drawn last)."""
    if app.bag == "backpack" and behind:
        x0, x1 = sorted((-facing * 0.17, -facing * 0.06))
        _draw(image, mask, cv2.rectangle, _pt(cx, u, x0, 0.18), _pt(cx, u, x1, 0.42),
              colour=app.bag_colour, thickness=-1)
    elif app.bag == "shoulder" and not behind:
        cv2.line(image, _pt(cx, u, -0.08, SHOULDER_Y), _pt(cx, u, 0.09, 0.46), app.bag_colour,
                 _thick(u, 0.015))
        _draw(image, mask, cv2.rectangle, _pt(cx, u, 0.06, 0.44), _pt(cx, u, 0.17, 0.56),
              colour=app.bag_colour, thickness=-1)


def draw_person(app: Appearance, height_px: float, phase: float, facing: float) -> FigurePatch:
    """Render one person.

    Args:
        app: the identity's parts.
        height_px: height in pixels from the top of the head to the soles (>= 4).
        phase: walking phase in radians (legs and arms swing with ``sin(phase)``).
        facing: +1 walking right, -1 walking left (decides which side the backpack is on).

    Returns:
        The patch, its mask and the foot point; the patch is ``ceil(height)+1`` rows tall.
    """
    u = max(float(height_px), 4.0)
    rows, half = int(math.ceil(u)) + 1, int(math.ceil(PATCH_HALF_WIDTH * u)) + 1
    image = np.zeros((rows, 2 * half + 1, 3), np.uint8)
    mask = np.zeros((rows, 2 * half + 1), np.uint8)
    cx = float(half)
    _draw_bag(image, mask, app, cx, u, facing, behind=True)
    _draw_legs(image, mask, app, cx, u, phase)
    _draw_torso(image, mask, app, cx, u)
    _draw_arms(image, mask, app, cx, u, phase)
    _draw_head(image, mask, app, cx, u)
    _draw_bag(image, mask, app, cx, u, facing, behind=False)
    return FigurePatch(image=image, mask=mask > 0, foot_xy=(half, int(round(u))))
