"""Camera-motion compensation (issue 14 §3).

The warp of a synthetic pan (also when a crowd walking against it fills the frame), Kalman
states moved by it, and ids kept through a pan that IoU alone cannot follow.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from finetrack_ros.camera_motion import IDENTITY, CameraMotion
from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput
from finetrack_ros.tracker.kalman import CX, CY, HEIGHT, V_CX, V_CY, V_HEIGHT, warp_states

H, W = 480, 640


def panorama(seed: int = 0) -> np.ndarray:
    """Make a textured scene wider and taller than the frame (corners everywhere)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (H // 8 + 20, W // 8 + 40), dtype=np.uint8)
    big = cv2.resize(noise, (W + 320, H + 160), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(cv2.GaussianBlur(big, (5, 5), 1.0), cv2.COLOR_GRAY2BGR)


def view(pano: np.ndarray, x0: int, y0: int, person_x: int | None = None) -> np.ndarray:
    """Cut the frame of a camera whose top-left corner looks at (x0, y0) of the panorama.

    A flat grey 'person' is drawn at image column ``person_x`` (moving on its own).
    """
    frame = pano[y0:y0 + H, x0:x0 + W].copy()
    if person_x is not None:
        frame[200:360, person_x:person_x + 60] = 128
    return frame


@pytest.mark.parametrize("method", ["sparse", "ecc"])
@pytest.mark.parametrize("shift", [(7, -3), (-12, 5), (0, 0), (30, 10)])
def test_a_pan_is_recovered_within_a_pixel(method, shift):
    pano, (dx, dy) = panorama(), shift
    motion = CameraMotion(method)
    person = np.array([[300.0, 200.0, 360.0, 360.0]])
    assert np.allclose(motion.estimate(view(pano, 100, 60, 300), person), IDENTITY)
    # the camera moves by (dx, dy): the scene moves by (-dx, -dy) on the screen, while the
    # person (masked out by its box) walks 25 px the other way
    second = view(pano, 100 + dx, 60 + dy, 325)
    warp = motion.estimate(second, person + [25, 0, 25, 0])
    np.testing.assert_allclose(warp[:, :2], np.eye(2), atol=0.01)
    np.testing.assert_allclose(warp[:, 2], [-dx, -dy], atol=1.0)


def crowd_texture(seed: int = 3) -> np.ndarray:
    """Make black and white blocks bigger than the frame (stronger corners than the panorama's)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 2, (H // 6 + 20, W // 6 + 40), dtype=np.uint8) * 255
    big = cv2.resize(blocks, (W + 320, H + 160), interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)


# Four people side by side, rows 100-400: their boxes cover half of the frame.
CROWD_BOXES = np.array([[20.0 + 155 * i, 100.0, 150.0 + 155 * i, 400.0] for i in range(4)])
CROWD_INSET = 20  # px of background inside each box, around the person (a loose box)


def crowd_view(pano: np.ndarray, crowd: np.ndarray, x0: int, y0: int,
               walk: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Return (the frame of the camera at (x0, y0), the people's boxes).

    The people walk together: ``walk`` is how far they and their texture moved on the
    screen.
    """
    frame = view(pano, x0, y0)
    boxes = CROWD_BOXES + [walk[0], walk[1], walk[0], walk[1]]
    layer = crowd[80 - walk[1]:80 - walk[1] + H, 160 - walk[0]:160 - walk[0] + W]
    for x1, y1, x2, y2 in boxes.astype(int) + [CROWD_INSET, CROWD_INSET, -CROWD_INSET,
                                               -CROWD_INSET]:
        frame[y1:y2, x1:x2] = layer[y1:y2, x1:x2]
    return frame, boxes


def _worst_error_px(warp: np.ndarray, shift: tuple[int, int]) -> float:
    """Return how far ``warp`` and a pure ``shift`` move a frame corner or the centre apart."""
    points = np.array([[0, 0], [W, 0], [0, H], [W, H], [W / 2, H / 2]], float)
    return float(np.abs(points @ warp[:, :2].T + warp[:, 2] - (points + shift)).max())


@pytest.mark.parametrize("method", ["sparse", "ecc"])
@pytest.mark.parametrize("pan, walk", [((8, -3), (18, 2)), ((-10, 4), (-20, 0)),
                                       ((12, 0), (30, 6))])
def test_a_crowd_walking_against_the_pan_does_not_drag_the_estimate(method, pan, walk):
    """Detections are masked out of the estimate: the background decides, not the people.

    The crowd is half of the frame and holds the strongest texture, so without its boxes the
    estimate follows the people (checked first: the scene is one where the mask matters).
    """
    pano, crowd = panorama(), crowd_texture()
    first, boxes = crowd_view(pano, crowd, 100, 60, (0, 0))
    second, moved = crowd_view(pano, crowd, 100 + pan[0], 60 + pan[1], walk)
    background = (-pan[0], -pan[1])  # the screen motion of everything that stands still
    blind = CameraMotion(method)
    blind.estimate(first, np.zeros((0, 4)))
    assert _worst_error_px(blind.estimate(second, np.zeros((0, 4))), background) > 20
    motion = CameraMotion(method)
    motion.estimate(first, boxes)
    assert _worst_error_px(motion.estimate(second, moved), background) < 1.0


def test_none_is_the_identity_and_bad_methods_are_refused():
    motion = CameraMotion("none")
    assert np.array_equal(motion.estimate(view(panorama(), 0, 0), np.zeros((0, 4))), IDENTITY)
    with pytest.raises(ValueError, match="choose one of"):
        CameraMotion("orb")


def test_a_changed_frame_size_or_a_flat_frame_gives_the_identity():
    motion = CameraMotion("sparse")
    motion.estimate(view(panorama(), 0, 0), np.zeros((0, 4)))
    small = cv2.resize(view(panorama(), 5, 0), (320, 200))  # another aspect ratio
    assert np.allclose(motion.estimate(small, np.zeros((0, 4))), IDENTITY)
    flat = np.full((240, 320, 3), 90, np.uint8)
    assert np.allclose(motion.estimate(flat, np.zeros((0, 4))), IDENTITY)


def _state(cx=100.0, cy=50.0, aspect=0.4, height=80.0, vx=3.0, vy=-1.0, vh=0.5):
    return np.array([[cx, cy, aspect, height, vx, vy, 0.0, vh]])


def test_warp_states_translation_rotation_and_scale():
    mean, cov = _state(), np.eye(8)[None] * 4.0
    same_mean, same_cov = warp_states(mean, cov, IDENTITY)
    np.testing.assert_array_equal(same_mean, mean)
    np.testing.assert_array_equal(same_cov, cov)

    shift = np.array([[1.0, 0.0, 7.0], [0.0, 1.0, -3.0]])
    moved, moved_cov = warp_states(mean, cov, shift)
    assert (moved[0, CX], moved[0, CY]) == (107.0, 47.0)
    np.testing.assert_array_equal(moved[0, 2:], mean[0, 2:])  # velocities, size unchanged
    np.testing.assert_array_equal(moved_cov, cov)

    turn_and_double = np.array([[0.0, -2.0, 0.0], [2.0, 0.0, 0.0]])  # 90 degrees, scale 2
    turned, turned_cov = warp_states(mean, cov, turn_and_double)
    np.testing.assert_allclose(turned[0, [CX, CY]], [-100.0, 200.0])
    np.testing.assert_allclose(turned[0, [V_CX, V_CY]], [2.0, 6.0])
    np.testing.assert_allclose(turned[0, [HEIGHT, V_HEIGHT]], [160.0, 1.0])
    assert turned[0, 2] == mean[0, 2]  # aspect ratio
    np.testing.assert_allclose(turned_cov[0, CX, CX], 16.0)  # position std doubles
    np.testing.assert_allclose(turned_cov[0, 2, 2], 4.0)


def test_compensation_keeps_ids_through_a_fast_pan():
    """Two people stand still in the world while the camera pans 45 px per frame.

    On the screen they jump by more than their width, so IoU alone loses them every frame.
    """
    world = np.array([[400.0, 100.0, 440.0, 200.0], [600.0, 120.0, 640.0, 220.0]])
    scores = np.array([0.9, 0.9])
    pan = 45.0
    results = {}
    for compensate in (False, True):
        tracker = ByteTracker(TrackerConfig())
        ids = []
        for frame in range(8):
            boxes = world - [pan * frame, 0, pan * frame, 0]
            warp = np.array([[1.0, 0.0, -pan], [0.0, 1.0, 0.0]]) if frame else IDENTITY
            tracker.predict(warp if compensate else None)
            tracks = tracker.update(TrackerInput(boxes, scores))
            ids.append(sorted(t.track_id for t in tracks))
        results[compensate] = ids
    assert all(ids == [1, 2] for ids in results[True])  # one id each, every frame
    # without it the predictions miss: both tracks are lost at once (and id 1 is later
    # re-found on the other person, an identity switch)
    assert all(ids != [1, 2] for ids in results[False][1:])


def test_pipeline_estimates_the_warp_from_frames():
    from finetrack_ros.pipeline import TrackingPipeline
    from finetrack_ros.structures import Detections

    pano = panorama(1)
    tracker = ByteTracker(TrackerConfig(camera_motion="sparse"))
    pipeline = TrackingPipeline(tracker)
    box = np.array([[300.0, 100.0, 340.0, 200.0]])
    pan = 30
    for frame in range(6):
        image = view(pano, 20 + pan * frame, 40)
        result = pipeline.process(image, Detections(box - [pan * frame, 0, pan * frame, 0],
                                                    [0.9], [0]))
        assert "camera_motion" in result.timings_ms
        assert [t.track_id for t in result.tracks] == [1]
    assert TrackerConfig().replace({"camera_motion": "ecc"}).camera_motion == "ecc"
    with pytest.raises(ValueError, match="choose one of"):
        TrackerConfig().replace({"camera_motion": "orb"})
