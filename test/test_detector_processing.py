"""Pre/post-processing: letterbox and its inverse, NMS against a brute-force reference.

Also the whole detector on a synthetic and a real frame.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from finetrack_ros.detector import PostprocessConfig, YOLOXDetector, batched_nms, letterbox
from finetrack_ros.detector.postprocess import postprocess, unletterbox
from finetrack_ros.detector.preprocess import PreprocessConfig, preprocess


def test_letterbox_geometry_and_inverse_of_a_synthetic_box() -> None:
    frame = np.zeros((120, 200, 3), np.uint8)
    box = np.array([40.0, 30.0, 100.0, 90.0])  # xyxy in the frame
    frame[30:90, 40:100] = 255
    canvas, ratio = letterbox(frame, (96, 128))
    assert ratio == pytest.approx(min(96 / 120, 128 / 200))
    assert canvas.shape == (96, 128, 3)
    assert (canvas[int(120 * ratio):, :] == 114).all()  # padding below, not centred
    ys, xs = np.nonzero(canvas[..., 0] > 200)  # the white box inside the canvas
    found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)
    np.testing.assert_allclose(found, box * ratio, atol=1.0)
    back = unletterbox(torch.tensor(found), ratio).numpy()
    np.testing.assert_allclose(back, box, atol=1.0 / ratio)


def test_normalisation_modes() -> None:
    frame = np.full((32, 32, 3), (10, 20, 30), np.uint8)  # B, G, R
    raw, _ = preprocess(frame, PreprocessConfig((32, 32), raw_bgr=True))
    assert raw[0, :, 0, 0].tolist() == [10.0, 20.0, 30.0]
    norm, _ = preprocess(frame, PreprocessConfig((32, 32), raw_bgr=False))
    rgb = np.array([30, 20, 10]) / 255.0
    expected = (rgb - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(norm[0, :, 0, 0].numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="multiples of 32"):
        PreprocessConfig((600, 1088))


def _reference_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                   threshold: float) -> list[int]:
    """Brute force: walk boxes by score; keep one unless a kept same-class box overlaps it."""
    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union

    kept: list[int] = []
    for i in sorted(range(len(scores)), key=lambda j: -scores[j]):
        if all(classes[k] != classes[i] or iou(boxes[i], boxes[k]) <= threshold for k in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", range(5))
def test_nms_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(5, 40, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.permutation(n).astype(np.float32) / n  # distinct scores: a unique order
    classes = rng.integers(0, 3, n)
    for threshold in (0.3, 0.7):
        expected = _reference_nms(boxes, scores, classes, threshold)
        for block_size in (1024, 16):  # one block, and many blocks
            keep = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                               torch.from_numpy(classes), threshold, block_size=block_size)
            assert keep.tolist() == expected
        capped = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                             torch.from_numpy(classes), threshold, max_keep=5, block_size=16)
        assert capped.tolist() == expected[:5]


def test_postprocess_filters_by_obj_times_cls() -> None:
    # rows: cx, cy, w, h, obj, cls0, cls1
    predictions = torch.tensor([[50, 50, 20, 20, 0.9, 0.1, 0.8],   # 0.72, class 1
                                [51, 50, 20, 20, 0.9, 0.9, 0.05],  # 0.81, class 0, overlaps
                                [10, 10, 4, 4, 0.5, 0.1, 0.1]])    # 0.05 < conf
    boxes, scores, classes = postprocess(predictions, PostprocessConfig(conf=0.1, nms=0.5))
    assert classes.tolist() == [0, 1]  # class-aware: the overlapping pair both survive
    np.testing.assert_allclose(scores.numpy(), [0.81, 0.72], rtol=1e-6)
    np.testing.assert_allclose(boxes[1].numpy(), [40, 40, 60, 60])
    _, _, agnostic = postprocess(predictions, PostprocessConfig(0.1, 0.5, class_agnostic=True))
    assert agnostic.tolist() == [0]


def _grid_detector(input_size=(64, 96)) -> YOLOXDetector:
    """Build a detector whose head predicts a stride-sized box at every grid point.

    Random backbone, but a head whose every cell predicts a stride-sized box at its grid point
    with score ~1: decoding and the letterbox inverse become predictable.
    """
    detector = YOLOXDetector(None, "nano", 1, input_size=input_size, conf=0.5, nms=0.7)
    head = detector.model.head
    with torch.no_grad():
        for pred in list(head.reg_preds) + list(head.obj_preds) + list(head.cls_preds):
            pred.weight.zero_()
        for pred in head.reg_preds:
            pred.bias.zero_()
        for pred in list(head.obj_preds) + list(head.cls_preds):
            pred.bias.fill_(20.0)
    detector.refresh()
    return detector


@pytest.mark.filterwarnings("ignore:YOLOXDetector")
def test_synthetic_frame_boxes_are_in_original_pixels() -> None:
    detector = _grid_detector((64, 96))
    frame = np.random.default_rng(0).integers(0, 255, (100, 200, 3), dtype=np.uint8)
    detections = detector(frame)
    ratio = min(64 / 100, 96 / 200)
    cells = [(8, 12, 8), (4, 6, 16), (2, 3, 32)]  # (h, w, stride) per level
    expected = [[(x - 0.5) * s, (y - 0.5) * s, (x + 0.5) * s, (y + 0.5) * s]
                for h, w, s in cells for y in range(h) for x in range(w)]
    expected = np.array(expected, np.float32) / ratio
    assert len(detections) == len(expected)  # no two cells overlap by IoU > 0.7
    got = detections.boxes_xyxy[np.lexsort(detections.boxes_xyxy.T[::-1])]
    np.testing.assert_allclose(got, expected[np.lexsort(expected.T[::-1])], rtol=1e-5)
    assert detections.class_ids.dtype == np.int64 and (detections.scores > 0.99).all()


@pytest.mark.filterwarnings("ignore:YOLOXDetector")
def test_random_weights_on_real_frame(shared_data) -> None:
    path = shared_data / "MOT17-mini/train/MOT17-05-FRCNN/img1/000001.jpg"
    frame = cv2.imread(str(path))
    assert frame is not None, path
    detector = YOLOXDetector(None, "nano", 1, input_size=(128, 160), conf=0.0, nms=0.7)
    images, ratio = detector.preprocess(frame)
    assert ratio == pytest.approx(min(128 / 480, 160 / 640))
    raw = detector.forward(images)[0]
    detections = detector.postprocess(raw, ratio)
    boxes, _, _ = postprocess(raw, detector.config.postprocess)
    assert len(detections) > 0 and np.isfinite(detections.boxes_xyxy).all()
    # same boxes as the network's, mapped from the 128x160 canvas back to the 480x640 frame
    np.testing.assert_allclose(detections.boxes_xyxy, boxes.numpy() / ratio, rtol=1e-5)
    assert np.all(np.diff(detections.scores) <= 0)  # sorted by score


@pytest.mark.filterwarnings("ignore:YOLOXDetector")
def test_detector_rejects_non_uint8_frames() -> None:
    detector = YOLOXDetector(None, "nano", 1, input_size=(64, 64))
    with pytest.raises(ValueError,
                       match="uint8 BGR image, got shape \\(10, 10, 3\\) dtype float32"):
        detector(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="got shape \\(10, 10\\)"):
        detector(np.zeros((10, 10), np.uint8))


@pytest.mark.filterwarnings("ignore:YOLOXDetector")
def test_refresh_picks_up_new_weights() -> None:
    detector = _grid_detector((64, 64))
    frame = np.zeros((64, 64, 3), np.uint8)
    assert len(detector(frame)) > 0
    with torch.no_grad():
        for pred in detector.model.head.obj_preds:
            pred.bias.fill_(-20.0)  # "training" made every cell background
    assert len(detector(frame)) > 0  # the fused inference copy is stale until refresh()
    detector.refresh()
    assert len(detector(frame)) == 0
