"""People in the ground frame (finetrack_ros.world): a moving camera, walking people, no ROS."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from finetrack_ros.world import CameraModel, GroundFilter, WorldConfig, WorldStep

pytest.importorskip("cv2")
from test_camera_ground import pixels_of, robot_camera  # noqa: E402

CAMERA = CameraModel.checked([600.0, 0, 640, 0, 600.0, 360, 0, 0, 1],
                             [-0.05, 0.01, 0, 0, 0], "plumb_bob", 1280, 720)
HZ = 10
NS = 1_000_000_000


def person_box(pose, foot_xy, pixel_noise=0.0, rng=None) -> np.ndarray:
    """Make a 1.7 m person's box whose bottom centre is the foot's pixel (plus pixel noise)."""
    u, v = pixels_of(CAMERA, pose, np.array([foot_xy]))[0]
    if rng is not None:
        u, v = u + rng.normal(0, pixel_noise), v + rng.normal(0, pixel_noise)
    return np.array([u - 20, v - 120, u + 20, v])


def track(track_id, box):
    return SimpleNamespace(track_id=track_id, observed_xyxy=box, xyxy=box)


def test_a_still_person_stays_still_while_the_camera_drives_and_turns():
    step = WorldStep(CAMERA)
    person = np.array([8.0, 1.0])
    first_pixel = last_pixel = None
    for i in range(5 * HZ):
        t = i / HZ
        # the robot drives forward at 0.8 m/s and turns at 6 deg/s towards the person
        pose = robot_camera(1.1, 8.0, yaw_deg=6.0 * t - 10.0, x=0.8 * t, y=0.0)
        box = person_box(pose, person)
        first_pixel = box[2:] if first_pixel is None else first_pixel
        last_pixel = box[2:]
        (out,) = step.process([track(1, box)], int(t * NS) + 1, pose)
    assert np.linalg.norm(last_pixel - first_pixel) > 100  # the image moved a lot
    np.testing.assert_allclose(out.position, [*person, 0.0], atol=0.01)
    assert np.linalg.norm(out.velocity) < 0.02
    assert out.measured


def test_a_walking_person_gets_the_right_velocity_in_metres_per_second():
    rng = np.random.default_rng(0)
    step = WorldStep(CAMERA)
    velocity = np.array([-0.9, 0.6])  # 1.08 m/s, towards the camera and to its left
    pose = robot_camera(1.1, 8.0)
    speeds = []
    for i in range(6 * HZ):
        t = i / HZ
        foot = np.array([9.0, -3.0]) + velocity * t
        (out,) = step.process([track(7, person_box(pose, foot, 1.0, rng))], int(t * NS) + 1,
                              pose)
        speeds.append(out.velocity[:2])
    np.testing.assert_allclose(np.mean(speeds[-10:], axis=0), velocity, atol=0.1)
    np.testing.assert_allclose(out.position[:2], foot, atol=0.15)
    assert out.velocity[2] == 0.0 and out.position[2] == 0.0


def test_the_naive_projection_keeps_the_box_and_has_no_velocity():
    step = WorldStep(CAMERA, WorldConfig(filtered=False))
    pose = robot_camera(1.1, 8.0)
    box = person_box(pose, [5.0, 0.5])
    (out,) = step.process([track(3, box)], 1, pose)
    np.testing.assert_allclose(out.position, [5.0, 0.5, 0.0], atol=1e-3)
    assert np.isnan(out.velocity).all()


def test_a_jump_beyond_the_gate_restarts_the_filter_instead_of_smearing():
    ground = GroundFilter()
    for i in range(10):
        ground.update(1, i * NS // HZ + 1, np.array([5.0, 0.0]), 0.1)
    ground.update(1, 10 * NS // HZ + 1, np.array([5.0, 4.0]), 0.1)  # the id moved to another
    position, velocity = ground.state(1, 10 * NS // HZ + 1)
    np.testing.assert_allclose(position, [5.0, 4.0])
    np.testing.assert_allclose(velocity, [0.0, 0.0])
    assert ground.restarts == 1


def test_a_track_not_measured_for_forget_seconds_is_dropped():
    ground = GroundFilter(WorldConfig(forget_seconds=1.0))
    ground.update(1, 1, np.array([1.0, 1.0]), 0.1)
    ground.update(2, int(0.5 * NS), np.array([3.0, 1.0]), 0.1)
    ground.forget(int(1.2 * NS))
    assert sorted(ground.people) == [2]


def test_bad_world_settings_are_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"world.foot_noise_px = -1"):
        WorldConfig(foot_noise_px=-1)
    with pytest.raises(ValueError, match=r"world.max_range_m = nan"):
        WorldConfig(max_range_m=float("nan"))
