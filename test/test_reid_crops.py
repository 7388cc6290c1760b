"""Batched crops against per-box references, and the FeatureExtractor contract."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
import torch

from finetrack_ros.inference.options import InferenceOptions
from finetrack_ros.reid import (
    FeatureExtractor,
    FineTrackReID,
    ReIDConfig,
    crop_and_normalise,
    valid_boxes,
)

MEAN, STD = ReIDConfig().pixel_mean, ReIDConfig().pixel_std
CROP = (64, 32)
# boxes (x1, y1, x2, y2): inside (downscale), fractional, small (upscale), leaving the image
BOXES = np.array([[10, 8, 42, 72], [3.3, 20.7, 30.1, 61.9], [50, 40, 58, 52],
                  [-12.5, 70, 20, 110]], np.float32)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    """Make a smooth synthetic 90x80 BGR image (bilinear references agree closely on it)."""
    yy, xx = np.mgrid[0:90, 0:80].astype(np.float32)
    channels = [127 + 120 * np.sin(xx / 7 + c) * np.cos(yy / 9 - c) for c in range(3)]
    return np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8)


def normalised_rgb(frame: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return (rgb - np.array(MEAN, np.float32)) / np.array(STD, np.float32)


def bilinear_reference(image: np.ndarray, box: np.ndarray, crop_hw) -> np.ndarray:
    """Per-box numpy bilinear sampling at crop-cell centres, zero outside. -> (h, w, C)."""
    h, w = crop_hw
    xs = box[0] + (np.arange(w) + 0.5) * (box[2] - box[0]) / w - 0.5  # pixel-index coords
    ys = box[1] + (np.arange(h) + 0.5) * (box[3] - box[1]) / h - 0.5
    x, y = np.meshgrid(xs, ys)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    out = np.zeros((h, w, image.shape[2]), np.float64)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - np.abs(x - xi)) * (1 - np.abs(y - yi))
            inside = (xi >= 0) & (xi < image.shape[1]) & (yi >= 0) & (yi < image.shape[0])
            values = image[np.clip(yi, 0, image.shape[0] - 1), np.clip(xi, 0, image.shape[1] - 1)]
            out += (weight * inside)[..., None] * values
    return out


def batched_crops(frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    crops = crop_and_normalise(frame, boxes, CROP, MEAN, STD)  # (N, 3, h, w)
    return crops.permute(0, 2, 3, 1).numpy()  # (N, h, w, 3)


def test_batched_crops_equal_per_box_bilinear_reference(frame):
    image = normalised_rgb(frame)
    crops = batched_crops(frame, BOXES)
    assert crops.shape == (len(BOXES), *CROP, 3)
    for i, box in enumerate(BOXES):
        np.testing.assert_allclose(crops[i], bilinear_reference(image, box, CROP), atol=1e-4)
    # the part of box 3 left of x = 0 and below y = 90 is padded with the mean (zero)
    assert np.abs(crops[3, -10:, :, :]).max() == 0
    assert np.abs(crops[3, :20, :8, :]).max() == 0 and np.abs(crops[3, :20, -8:]).max() > 0


def test_region_upload_and_boxes_outside(frame):
    """Crops read only the region around the boxes; that must not change them."""
    image = normalised_rgb(frame)
    middle = np.array([[30.2, 30.7, 41.9, 55.1]], np.float32)  # region far from the edges
    np.testing.assert_allclose(batched_crops(frame, middle)[0],
                               bilinear_reference(image, middle[0], CROP), atol=1e-4)
    outside = np.array([[100, 5, 130, 60], [-50, -40, -10, -1]], np.float32)
    assert np.all(batched_crops(frame, outside) == 0)  # all mean
    assert batched_crops(frame, np.zeros((0, 4), np.float32)).shape == (0, *CROP, 3)


def test_batched_crops_match_opencv(frame):
    image = normalised_rgb(frame)
    crops = batched_crops(frame, BOXES)
    # box 0 lies inside the image and is downscaled: cv2.resize of the cut-out agrees
    x1, y1, x2, y2 = BOXES[0].astype(int)
    resized = cv2.resize(image[y1:y2, x1:x2], CROP[::-1], interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(crops[0], resized, atol=1e-4)
    # every box, including the one leaving the image: cv2.remap with a zero border
    # (OpenCV quantises the interpolation weights to 1/32, hence the tolerance)
    for i, box in enumerate(BOXES):
        xs = box[0] + (np.arange(CROP[1]) + 0.5) * (box[2] - box[0]) / CROP[1] - 0.5
        ys = box[1] + (np.arange(CROP[0]) + 0.5) * (box[3] - box[1]) / CROP[0] - 0.5
        map_x, map_y = (m.astype(np.float32) for m in np.meshgrid(xs, ys))
        ref = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        np.testing.assert_allclose(crops[i], ref, atol=0.03)


def test_valid_boxes_give_reasons():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 5, 20], [0, 0, 10, 0.5], [0, np.nan, 3, 3]])
    keep, reasons = valid_boxes(boxes, min_side=1.0)
    assert keep.tolist() == [True, False, False, False]
    assert "box 1" in reasons[0] and "width 0.00" in reasons[0]
    assert "box 2" in reasons[1] and "height 0.50" in reasons[1]
    assert "box 3" in reasons[2] and "non-finite" in reasons[2]


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    torch.manual_seed(0)
    cfg = ReIDConfig(backbone="resnet18", crop_size=CROP, fpn_channels=32, fam_channels=16,
                     embed_dim=16, num_parts=2)
    return FeatureExtractor(FineTrackReID(cfg), device="cpu", batch_size=3)


def test_extractor_matches_model_on_an_opencv_crop(frame, extractor):
    features = extractor(frame, BOXES)
    assert features.shape == (len(BOXES), 3 * 16) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    x1, y1, x2, y2 = BOXES[0].astype(int)
    crop = cv2.resize(normalised_rgb(frame)[y1:y2, x1:x2], CROP[::-1])
    with torch.no_grad():
        expected = extractor.model(torch.from_numpy(crop).permute(2, 0, 1)[None])
    np.testing.assert_allclose(features[0], expected[0].numpy(), atol=1e-4)


def test_extractor_empty_and_skipped_boxes(frame, extractor, caplog):
    empty = extractor(frame, np.zeros((0, 4), np.float32))
    assert empty.shape == (0, extractor.dim) and empty.dtype == np.float32
    boxes = np.insert(BOXES, 1, [20, 20, 20, 40], axis=0)  # zero-width box at index 1
    with caplog.at_level(logging.WARNING, logger="finetrack_ros.reid.extractor"):
        features = extractor(frame, boxes)
    assert "box 1" in caplog.text and "width 0.00" in caplog.text
    assert np.all(features[1] == 0)
    np.testing.assert_allclose(features[[0, 2, 3, 4]], extractor(frame, BOXES), atol=1e-5)


def test_extractor_rejects_bad_input(frame, extractor):
    with pytest.raises(ValueError, match="frame_bgr.*float32"):
        extractor(frame.astype(np.float32), BOXES)
    with pytest.raises(ValueError, match="frame_bgr"):
        extractor(frame[..., 0], BOXES)
    with pytest.raises(ValueError, match=r"boxes_xyxy.*\(2, 5\)"):
        extractor(frame, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        FeatureExtractor(extractor.model, device="cpu",
                         inference=InferenceOptions(precision="fp16"))


def test_real_frame_gt_boxes(shared_data, extractor):
    """MOT17-05 frame 1 with all its ground-truth boxes, several leaving the image."""
    seq = shared_data / "MOT17-mini" / "train" / "MOT17-05-FRCNN"
    frame = cv2.imread(str(seq / "img1" / "000001.jpg"))
    gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    tlwh = gt[gt[:, 0] == 1, 2:6]
    boxes = np.hstack([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]]).astype(np.float32)
    height, width = frame.shape[:2]
    leaving = (boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > width) | (boxes[:, 3] > height)
    assert leaving.any() and (~leaving).any()
    image = normalised_rgb(frame)
    crops = batched_crops(frame, boxes)
    for i, box in enumerate(boxes):
        np.testing.assert_allclose(crops[i], bilinear_reference(image, box, CROP), atol=1e-4)
    features = extractor(frame, boxes)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
