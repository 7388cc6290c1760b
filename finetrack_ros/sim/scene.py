"""Render a synthetic street sequence frame by frame with exact ground truth.

Each frame: crop the background at the camera offset, paste people and occluders back to
front (sorted by the image row of their ground contact), keeping a label image of which
identity owns each pixel, then apply camera effects. Ground truth comes from the drawing
itself, not from a model of it:

* **box**: the bounding box of the person's full figure mask (amodal: occluded parts are
  included), clipped to the image. ``tlwh`` in 0-based pixels; the box covers columns
  ``x .. x + w - 1`` and rows ``y .. y + h - 1``, so ``x >= 0`` and ``x + w <= width``.
* **visibility**: pixels of the person still showing in the final label image divided by
  the pixels of the full figure (including any part outside the image), so truncation at
  the border and occlusion by people or occluders both lower it.
* **conf** (MOTChallenge "consider" flag): 1 when visibility >= ``gt_min_visibility``,
  else 0, so fully hidden people stay in ``gt.txt`` but evaluation ignores them. People
  entirely outside the image have no row. Class is 1 (pedestrian).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from finetrack_ros.sim.appearance import sample_appearances
from finetrack_ros.sim.background import apply_camera, make_background
from finetrack_ros.sim.config import SceneConfig
from finetrack_ros.sim.figure import draw_person
from finetrack_ros.sim.motion import Walker, place_walkers, step_walker
from finetrack_ros.sim.occluders import make_occluders

OCCLUDER_LABEL = -1  # label-image value of occluder pixels (people are their track id)


@dataclass
class FrameTruth:
    """Ground truth of one frame, one row per person at least partly inside the image.

    Attributes:
        frame: 1-based frame number.
        ids: (N,) int64 track ids (from 1, stable across leaving and re-entering).
        boxes_tlwh: (N, 4) float32 clipped boxes, 0-based pixels.
        visibility: (N,) float32 in [0, 1].
        consider: (N,) bool, MOT ``conf`` flag (False = ignore in evaluation).
    """

    frame: int
    ids: np.ndarray
    boxes_tlwh: np.ndarray
    visibility: np.ndarray
    consider: np.ndarray


@dataclass
class SimFrame:
    """One rendered frame: ``image`` (H, W, 3) uint8 BGR and its ground ``truth``."""

    image: np.ndarray
    truth: FrameTruth


@dataclass
class _Placed:
    """A person pasted into the current frame (full-figure box in image pixels, unclipped)."""

    walker: Walker
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int  # exclusive
    area: int


class SceneGenerator:
    """Seeded renderer of one sequence; iterate it for ``config.frames`` frames.

    The seed drives three independent random streams (layout and motion, sensor noise,
    and the derived detections), so changing the detection noise leaves the images alone.
    """

    def __init__(self, config: SceneConfig) -> None:
        self.config = config
        layout, noise, detections = np.random.SeedSequence(config.seed).spawn(3)
        self._rng = np.random.default_rng(layout)
        self._noise_rng = np.random.default_rng(noise)
        self.detection_rng = np.random.default_rng(detections)
        self.background = make_background(config, self._rng)
        self.occluders = make_occluders(config, self._rng)
        appearances = sample_appearances(self._rng, config.people, config.shared_shirt_fraction)
        meet_points = [(o.world_x + o.mask.shape[1] / 2, o.depth) for o in self.occluders]
        self.walkers = place_walkers(config, appearances, meet_points, self._rng)

    def __iter__(self) -> Iterator[SimFrame]:
        for index in range(self.config.frames):
            camera_x = self.config.pan_px_per_frame * index
            frame, truth = self._render(index, camera_x)
            yield SimFrame(apply_camera(frame, index, self.config, self._noise_rng), truth)
            for walker in self.walkers:
                step_walker(walker, self.config, camera_x + self.config.pan_px_per_frame,
                            self._rng)

    def __len__(self) -> int:
        return self.config.frames

    def _render(self, index: int, camera_x: float) -> tuple[np.ndarray, FrameTruth]:
        cfg = self.config
        cam = int(round(camera_x))
        frame = self.background[:, cam:cam + cfg.width].copy()
        labels = np.zeros(frame.shape[:2], np.int32)
        layers = [(o.foot_y, 1, o) for o in self.occluders]
        layers += [(w.foot_y(cfg), 0, w) for w in self.walkers if w.away_frames == 0]
        placed: list[_Placed] = []
        for _, is_occluder, item in sorted(layers, key=lambda layer: (layer[0], layer[1])):
            if is_occluder:
                _paste(frame, labels, item.image, item.mask,
                       int(round(item.world_x)) - cam, item.top_y, OCCLUDER_LABEL)
            else:
                person = self._paste_person(frame, labels, item, camera_x)
                if person is not None:
                    placed.append(person)
        return frame, self._truth(index + 1, labels, placed)

    def _paste_person(self, frame, labels, walker: Walker, camera_x: float) -> _Placed | None:
        cfg = self.config
        patch = draw_person(walker.appearance, walker.height_px(cfg), walker.phase,
                            walker.direction)
        left = int(round(walker.world_x - camera_x)) - patch.foot_xy[0]
        top = int(round(walker.foot_y(cfg))) - patch.foot_xy[1]
        rows, cols = np.flatnonzero(patch.mask.any(1)), np.flatnonzero(patch.mask.any(0))
        if len(rows) == 0:
            return None
        if not _paste(frame, labels, patch.image, patch.mask, left, top, walker.track_id):
            walker.visibility = 0.0
            return None
        return _Placed(walker, left + cols[0], top + rows[0], left + cols[-1] + 1,
                       top + rows[-1] + 1, int(patch.mask.sum()))

    def _truth(self, frame_number: int, labels: np.ndarray, placed: list[_Placed]) -> FrameTruth:
        height, width = labels.shape
        rows = []
        for p in placed:
            x0, y0 = max(p.x0, 0), max(p.y0, 0)
            x1, y1 = min(p.x1, width), min(p.y1, height)
            if x1 <= x0 or y1 <= y0:  # only empty patch margin reached the image
                p.walker.visibility = 0.0
                continue
            visible = int(np.count_nonzero(labels[y0:y1, x0:x1] == p.walker.track_id))
            p.walker.visibility = visible / p.area
            rows.append((p.walker.track_id, x0, y0, x1 - x0, y1 - y0, p.walker.visibility))
        table = np.array(rows, np.float64).reshape(-1, 6)
        visibility = table[:, 5].astype(np.float32)
        return FrameTruth(
            frame=frame_number, ids=table[:, 0].astype(np.int64),
            boxes_tlwh=table[:, 1:5].astype(np.float32), visibility=visibility,
            consider=visibility >= self.config.gt_min_visibility,
        )


def _paste(frame: np.ndarray, labels: np.ndarray, image: np.ndarray, mask: np.ndarray,
           left: int, top: int, label: int) -> bool:
    """Copy ``image`` where ``mask`` into ``frame`` at (left, top), clipped; mark ``labels``.

    Returns False when nothing of the sprite lands inside the frame.
    """
    height, width = labels.shape
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + mask.shape[1], width), min(top + mask.shape[0], height)
    if x0 >= x1 or y0 >= y1:
        return False
    sub = mask[y0 - top:y1 - top, x0 - left:x1 - left]
    np.copyto(frame[y0:y1, x0:x1], image[y0 - top:y1 - top, x0 - left:x1 - left],
              where=sub[..., None])
    np.copyto(labels[y0:y1, x0:x1], label, where=sub)
    return True
