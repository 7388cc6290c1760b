"""How much of each part of a person is visible in a crop: MPMG's part masks, minus occluders.

FineTrack's part masks (MPMG) say where in the crop each of the K parts lies, without part
labels. Occlusion-aware matching (``tracker.part_weighting: visibility``, ours) weighs each
part's distance by how visible that part is in both crops. A part's visibility is the share
of its mask mass outside the boxes of people in front (boxes whose bottom edge is lower in
the image, i.e. nearer to a ground-level camera):

    v_k = sum(mask_k * (1 - covered)) / sum(mask_k)        in [0, 1]

so an unoccluded part has v_k = 1 and the weighted distance is then the paper's ``1 - cos``.
"""
from __future__ import annotations

import numpy as np


def occlusion_maps(boxes_xyxy: np.ndarray, occluders_xyxy: np.ndarray,
                   grid_hw: tuple[int, int]) -> np.ndarray:
    """(N, h, w) float32: 1 where a crop cell is covered by an occluder in front of it.

    Args:
        boxes_xyxy: (N, 4) boxes of the crops, pixels.
        occluders_xyxy: (M, 4) every box of the frame (the crops' own boxes may be among
            them: a box never occludes itself, nor one that is in front of it).
        grid_hw: (h, w) of the mask grid.
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    others = np.asarray(occluders_xyxy, np.float64).reshape(-1, 4)
    height, width = grid_hw
    maps = np.zeros((len(boxes), height, width), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        box_w, box_h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
        for ox1, oy1, ox2, oy2 in others:
            if oy2 <= y2 or ox2 <= x1 or ox1 >= x2 or oy2 <= y1 or oy1 >= y2:
                continue  # behind (or level with) this person, or no overlap
            cols = slice(int(np.floor((max(ox1, x1) - x1) / box_w * width)),
                         int(np.ceil((min(ox2, x2) - x1) / box_w * width)))
            rows = slice(int(np.floor((max(oy1, y1) - y1) / box_h * height)),
                         int(np.ceil((min(oy2, y2) - y1) / box_h * height)))
            maps[i, rows, cols] = 1.0
    return maps


def part_visibility(masks: np.ndarray, boxes_xyxy: np.ndarray,
                    occluders_xyxy: np.ndarray) -> np.ndarray:
    """(N, K) visibility of each part (module docstring) from masks (N, K, h, w) in [0, 1]."""
    masks = np.asarray(masks, np.float32)
    if masks.ndim != 4:
        raise ValueError(f"part_visibility: masks must be (N, K, h, w), got {masks.shape}")
    covered = occlusion_maps(boxes_xyxy, occluders_xyxy, masks.shape[2:])  # (N, h, w)
    mass = masks.sum(axis=(2, 3))  # (N, K)
    visible = (masks * (1.0 - covered[:, None])).sum(axis=(2, 3))
    # a part with no mask at all has nothing hidden: it counts as visible
    return np.where(mass > 0, visible / np.where(mass > 0, mass, 1.0), 1.0)
