"""Box conversions and ByteTrack's pixel-inclusive IoU."""
import numpy as np
import pytest

from finetrack_ros import boxes


def test_conversions_round_trip():
    xyxy = np.array([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 1.0, 2.0]])
    tlwh = boxes.xyxy_to_tlwh(xyxy)
    np.testing.assert_allclose(tlwh[0], [10, 20, 40, 100])
    xyah = boxes.xyxy_to_xyah(xyxy)
    np.testing.assert_allclose(xyah[0], [30, 70, 0.4, 100])
    np.testing.assert_allclose(boxes.xyah_to_xyxy(xyah), xyxy)
    np.testing.assert_allclose(boxes.tlwh_to_xyxy(tlwh), xyxy)
    # a single box keeps rank 1
    assert boxes.tlwh_to_xyah(tlwh[0]).shape == (4,)


def test_conversions_do_not_modify_input():
    xyxy = np.array([10.0, 20.0, 50.0, 120.0])
    boxes.xyxy_to_xyah(xyxy)
    np.testing.assert_array_equal(xyxy, [10, 20, 50, 120])


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        boxes.tlwh_to_xyxy(np.zeros((3, 5)))


def test_iou_is_pixel_inclusive_like_cython_bbox():
    a = np.array([[0.0, 0.0, 9.0, 9.0]])  # 10 x 10 pixels inclusive
    b = np.array([[5.0, 0.0, 14.0, 9.0]])  # overlaps 5 columns
    iou = boxes.iou_matrix(a, b)[0, 0]
    assert iou == pytest.approx(50 / 150)  # the continuous IoU would be 45 / 135 = 1/3 too
    c = np.array([[0.0, 0.0, 4.0, 4.0]])
    d = np.array([[2.0, 2.0, 6.0, 6.0]])
    # inclusive: inter 3x3 = 9, areas 25 -> 9 / 41 (continuous would be 4 / 28)
    assert boxes.iou_matrix(c, d)[0, 0] == pytest.approx(9 / 41)


def test_iou_touching_boxes_overlap_by_one_pixel_row():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[10.0, 0.0, 20.0, 10.0]])  # shares the column x = 10
    assert boxes.iou_matrix(a, b)[0, 0] == pytest.approx(11 / (121 + 121 - 11))
    far = np.array([[11.0, 0.0, 20.0, 10.0]])
    assert boxes.iou_matrix(a, far)[0, 0] == 0.0


def test_iou_empty_inputs_keep_shape():
    assert boxes.iou_matrix(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    assert boxes.iou_matrix(np.ones((2, 4)), np.zeros((0, 4))).shape == (2, 0)
