"""Camera-motion estimation (OpenCV): the image motion between two frames, as a 2x3 warp.

A moving robot moves every box in the image, which breaks the tracker's constant-velocity
prior: after a pan, every prediction sits where the person *was* on the screen. BoT-SORT
(Aharon et al., 2022) estimates the frame-to-frame motion as a 2x3 affine warp and moves each
track's Kalman state with it before association. Two estimators here, both on a downscaled
grey frame with the detections masked out (people move on their own; the background moves
with the camera):

* ``sparse``: Shi-Tomasi corners tracked with pyramidal Lucas-Kanade optical flow, then a
  RANSAC partial affine fit (rotation, uniform scale, translation), as BoT-SORT's
  ``sparseOptFlow``;
* ``ecc``: OpenCV's ECC image alignment (Euclidean motion) on the whole masked frame, started
  from the phase-correlation shift: slower, steadier on low-texture scenes.

``none`` (the default) skips all of it, so ByteTrack and the paper stay exact. The tracker
moves its Kalman states by the warp (``tracker/kalman.py``'s ``warp_states``, numpy only):
``TrackingPipeline`` estimates it here and passes it to ``ByteTracker.predict``.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

METHODS = ("none", "sparse", "ecc")
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
# Estimation works on frames downscaled to at most this width (pixels): motion of the whole
# image needs no detail, and the cost stays ~1-3 ms per 640x480 frame.
WORK_WIDTH = 320
# Corners for the sparse method: at most this many, this far apart (work pixels).
MAX_CORNERS, MIN_CORNER_DISTANCE, CORNER_QUALITY = 400, 6, 0.01
# RANSAC inlier threshold (work pixels) of the affine fit; fewer inliers than this → identity.
RANSAC_THRESHOLD_PX, MIN_INLIERS = 2.0, 12
# ECC: iterations and convergence threshold.
ECC_ITERATIONS, ECC_EPSILON = 60, 1e-5


class CameraMotion:
    """Estimates the affine warp that maps pixels of the previous frame to the current one.

    Args:
        method: ``none``, ``sparse`` or ``ecc`` (see the module docstring).

    ``estimate(frame_bgr, boxes_xyxy)`` returns a (2, 3) float64 matrix ``W`` with
    ``[x', y'] = W[:, :2] @ [x, y] + W[:, 2]``; the identity on the first frame, after a reset,
    and whenever the motion cannot be estimated (too little texture, a changed frame size).
    """

    def __init__(self, method: str = "none") -> None:
        if method not in METHODS:
            raise ValueError(f"camera motion method {method!r}: choose one of {list(METHODS)}")
        self.method = method
        self.reset()

    def reset(self) -> None:
        self._previous: Optional[np.ndarray] = None
        self._previous_mask: Optional[np.ndarray] = None

    def estimate(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        if self.method == "none":
            return IDENTITY.copy()
        grey, mask, scale = _prepare(frame_bgr, boxes_xyxy)
        previous, previous_mask = self._previous, self._previous_mask
        self._previous, self._previous_mask = grey, mask
        if previous is None or previous.shape != grey.shape:
            return IDENTITY.copy()
        if self.method == "sparse":
            warp = _sparse_flow(previous, grey, previous_mask)
        else:
            warp = _ecc(previous, grey, previous_mask, mask)
        if warp is None:
            return IDENTITY.copy()
        warp[:, 2] /= scale  # translation back to full-resolution pixels
        return warp


def _prepare(frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                      float]:
    """(downscaled grey frame, background mask (255 = use), scale work px per image px)."""
    height, width = frame_bgr.shape[:2]
    scale = min(1.0, WORK_WIDTH / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = cv2.cvtColor(cv2.resize(frame_bgr, size, interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2GRAY)
    mask = np.full(grey.shape, 255, np.uint8)
    for x1, y1, x2, y2 in np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) * scale:
        mask[max(0, int(y1)):max(0, int(np.ceil(y2))), max(0, int(x1)):max(0, int(np.ceil(x2)))] = 0
    return grey, mask, scale


def _sparse_flow(previous: np.ndarray, current: np.ndarray,
                 mask: np.ndarray) -> Optional[np.ndarray]:
    corners = cv2.goodFeaturesToTrack(previous, MAX_CORNERS, CORNER_QUALITY,
                                      MIN_CORNER_DISTANCE, mask=mask)
    if corners is None or len(corners) < MIN_INLIERS:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None)
    ok = status.reshape(-1) == 1
    if ok.sum() < MIN_INLIERS:
        return None
    warp, inliers = cv2.estimateAffinePartial2D(
        corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=RANSAC_THRESHOLD_PX)
    if warp is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    return warp.astype(np.float64)


def _ecc(previous: np.ndarray, current: np.ndarray, mask: np.ndarray,
         current_mask: np.ndarray) -> Optional[np.ndarray]:
    # ECC is a local optimiser: start it from the phase-correlation translation, which finds
    # shifts of any size on textured frames; of the background only, or people who fill
    # the frame would start it at their own motion
    (shift_x, shift_y), _ = cv2.phaseCorrelate(_background(previous, mask),
                                               _background(current, current_mask))
    warp = np.array([[1, 0, -shift_x], [0, 1, -shift_y]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, ECC_EPSILON)
    try:
        # ECC finds W with template(x) ~ input(W x): template = current, input = previous
        _, warp = cv2.findTransformECC(current, previous, warp, cv2.MOTION_EUCLIDEAN, criteria,
                                       mask, 5)
    except cv2.error:  # did not converge (flat or changed scene)
        return None
    return cv2.invertAffineTransform(warp).astype(np.float64)


def _background(grey: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return the grey frame as float32, the masked-out pixels set to the background's mean."""
    keep = mask > 0
    fill = float(grey[keep].mean()) if keep.any() else 0.0
    return np.where(keep, grey, fill).astype(np.float32)
