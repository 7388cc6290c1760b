"""People from a registered depth image (finetrack_ros.world.depth and WorldStep with depth).

A ray-cast scene: a level camera 1.2 m above a floor, a person (a 0.5 m wide, 1.7 m tall
slab) at a known ground position, a wall far behind. Its depth image, in 16UC1 millimetres
and 32FC1 metres, with holes (zeros, NaN), must put the person at that position (the floor
and the wall around the body do not pull the depth), also when the box's feet are cut off
(where the foot point is metres off); other encodings and sizes are refused with one line.
"""
from __future__ import annotations

import numpy as np
import pytest
from test_camera_ground import robot_camera

from finetrack_ros.bag.typestore import build_typestore
from finetrack_ros.world import CameraModel, WorldConfig, WorldStep
from finetrack_ros.world.depth import DepthConfig, box_depths, depth_for_camera, depth_to_metres

WIDTH, HEIGHT = 320, 240
K = [300.0, 0.0, 160.0, 0.0, 300.0, 120.0, 0.0, 0.0, 1.0]
CAMERA = CameraModel.checked(K, [], "plumb_bob", WIDTH, HEIGHT)
POSE = robot_camera(1.2, 0.0)  # ground_from_camera: level, looking along x
PERSON_XY = (4.0, 0.5)
PERSON_HALF_WIDTH, PERSON_HEIGHT = 0.25, 1.7
WALL_X = 12.0
TOLERANCE_M = 0.05


def depth_scene() -> np.ndarray:
    """(H, W) z-depth in metres of the floor, the person and the wall (ray cast)."""
    u, v = np.meshgrid(np.arange(WIDTH) + 0.5, np.arange(HEIGHT) + 0.5)
    rays = np.stack([(u - K[2]) / K[0], (v - K[5]) / K[4], np.ones_like(u)], -1)  # z = 1
    dirs = rays @ POSE.rotation.T  # ground frame; the ray parameter is the z-depth
    origin = POSE.translation
    with np.errstate(divide="ignore", invalid="ignore"):
        hits = [np.where(dirs[..., 2] < 0, -origin[2] / dirs[..., 2], np.inf),  # floor
                np.full(u.shape, (WALL_X - origin[0])) / dirs[..., 0]]  # wall
        t = (PERSON_XY[0] - origin[0]) / dirs[..., 0]
        y, z = origin[1] + t * dirs[..., 1], origin[2] + t * dirs[..., 2]
        on_person = (np.abs(y - PERSON_XY[1]) <= PERSON_HALF_WIDTH) & (z >= 0) & \
            (z <= PERSON_HEIGHT)
        hits.append(np.where(on_person & (t > 0), t, np.inf))
    return np.min(np.where(np.stack(hits) > 0, np.stack(hits), np.inf), axis=0)


def person_box(feet_cut: float = 0.0) -> np.ndarray:
    """Return the xyxy box of the person (``feet_cut`` m of the legs hidden, e.g. by a bench)."""
    x, y = PERSON_XY
    corners = np.array([[x, y + PERSON_HALF_WIDTH, PERSON_HEIGHT],
                        [x, y - PERSON_HALF_WIDTH, feet_cut]])
    pixels = CAMERA.project(POSE.inverse().apply(corners))
    return np.array([pixels[0, 0], pixels[0, 1], pixels[1, 0], pixels[1, 1]])


def depth_msg(depth_m: np.ndarray, encoding: str, bigendian: bool = False):
    store = build_typestore()
    if encoding == "16UC1":
        data = np.nan_to_num(depth_m * 1000.0, posinf=0.0).round().astype(np.uint16)
    else:
        data = depth_m.astype(np.float32)
    data = data.astype(data.dtype.newbyteorder(">" if bigendian else "<"))
    header = store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="cam")
    return store.types["sensor_msgs/msg/Image"](
        header=header, height=depth_m.shape[0], width=depth_m.shape[1], encoding=encoding,
        is_bigendian=int(bigendian), step=depth_m.shape[1] * data.itemsize,
        data=data.view(np.uint8).reshape(-1))


class _Track:
    def __init__(self, box):
        self.track_id, self.observed_xyxy, self.xyxy = 1, box, box


def _position(depth_m, box, filtered=True):
    step = WorldStep(CAMERA, WorldConfig(filtered=filtered))
    (person,) = step.process([_Track(box)], 10**9, POSE, depth_m)
    return person.position, step


def _with_holes(depth: np.ndarray, seed: int = 0) -> np.ndarray:
    """Punch holes: 15 % of pixels without a return (0), 15 % NaN, as real sensors give."""
    rng = np.random.default_rng(seed)
    out = depth.copy()
    out[rng.random(depth.shape) < 0.15] = 0.0
    out[rng.random(depth.shape) < 0.15] = np.nan
    return out


@pytest.mark.parametrize("encoding, bigendian", [("16UC1", False), ("32FC1", False),
                                                 ("16UC1", True)])
def test_depth_puts_the_person_at_the_known_position(encoding, bigendian):
    depth = depth_to_metres(depth_msg(depth_scene(), encoding, bigendian))
    assert depth.shape == (HEIGHT, WIDTH) and np.isfinite(depth).all()
    for name, image in (("clean", depth), ("holes", _with_holes(depth))):
        position, step = _position(image, person_box())
        np.testing.assert_allclose(position, [*PERSON_XY, 0.0], atol=TOLERANCE_M,
                                   err_msg=name)
        assert step.from_depth == 1 and step.no_depth == 0


def test_depth_reads_the_body_not_the_floor_nor_the_wall():
    depth = depth_scene()
    box = person_box()
    (z,), _ = box_depths(depth, box[None], DepthConfig())
    assert z == pytest.approx(PERSON_XY[0], abs=0.01)
    wide = box + [-40, 0, 40, 0]  # a loose box: mostly wall beside the person
    (z_wide,), _ = box_depths(depth, wide[None], DepthConfig(core_width=1.0))
    assert z_wide == pytest.approx(PERSON_XY[0], abs=0.01)  # the low percentile stays on her
    (z_median,), _ = box_depths(depth, wide[None], DepthConfig(core_width=1.0, percentile=90))
    assert z_median > WALL_X - 1  # what a high percentile would do: the wall


def test_depth_fixes_a_box_whose_feet_are_hidden():
    cut = person_box(feet_cut=0.6)  # legs behind something: the box ends at the knees
    by_foot, _ = _position(None, cut, filtered=False)
    by_depth, _ = _position(depth_scene(), cut, filtered=False)
    assert np.hypot(*(by_foot[:2] - PERSON_XY)) > 1.0  # the foot point is far off
    np.testing.assert_allclose(by_depth, [*PERSON_XY, 0.0], atol=TOLERANCE_M)


def test_a_box_without_valid_depth_falls_back_to_its_foot_point():
    empty = np.full((HEIGHT, WIDTH), np.nan, np.float32)
    position, step = _position(empty, person_box())
    np.testing.assert_allclose(position, [*PERSON_XY, 0.0], atol=TOLERANCE_M)
    assert step.from_depth == 0 and step.no_depth == 1
    out_of_range = np.full((HEIGHT, WIDTH), 80.0, np.float32)  # beyond max_m: ignored
    _, step = _position(out_of_range, person_box())
    assert step.no_depth == 1


@pytest.mark.parametrize("encoding", ["rgb8", "mono16", "16SC1", "32FC3"])
def test_other_encodings_are_refused_naming_them(encoding):
    msg = depth_msg(depth_scene(), "32FC1")
    msg.encoding = encoding
    with pytest.raises(ValueError, match=f"encoding '{encoding}' is not a depth image") as err:
        depth_to_metres(msg, "depth on /camera/depth")
    assert len(str(err.value).splitlines()) == 1


def test_a_depth_of_another_size_or_short_data_is_refused():
    half = depth_msg(depth_scene()[::2, ::2], "32FC1")
    with pytest.raises(ValueError, match="160 x 120 is not the camera's 320 x 240"):
        depth_for_camera(half, CAMERA)
    short = depth_msg(depth_scene(), "16UC1")
    short.data = short.data[:100]
    with pytest.raises(ValueError, match="bytes do not hold 240 x 320 16UC1"):
        depth_to_metres(short)


def test_depth_queue_pairs_by_exact_stamp_else_the_newest_older_within_max_age():
    from finetrack_ros.world.depth import DepthQueue

    ms = 1_000_000
    queue = DepthQueue(max_age_ns=100 * ms, keep=3)
    for stamp in (1000, 1033, 1066):
        queue.add(stamp * ms, f"depth {stamp}")
    assert queue.pick(1033 * ms) == ("depth 1033", 0.0)  # exact stamp first
    assert queue.pick(1050 * ms) == ("depth 1033", pytest.approx(0.017))  # newest older
    assert queue.pick(1160 * ms) == ("depth 1066", pytest.approx(0.094))
    msg, age = queue.pick(1200 * ms)  # 134 ms after the newest: stale, not used
    assert msg is None and age == pytest.approx(0.134) and queue.stale == 1
    assert queue.pick(999 * ms) == (None, None) and queue.missing == 1  # only newer ones
    queue.add(1099 * ms, "depth 1099")  # keeps the newest three by stamp
    assert queue.pick(1000 * ms) == (None, None)  # 1000 dropped
    queue.add(1010 * ms, "late 1010")  # arrives late, older than all kept: dropped
    assert queue.pick(1020 * ms) == (None, None)
    queue.add(1099 * ms, "depth 1099 again")  # the same stamp replaces
    assert queue.pick(1099 * ms) == ("depth 1099 again", 0.0)
    exact_only = DepthQueue(max_age_ns=0)
    exact_only.add(5 * ms, "d")
    assert exact_only.pick(5 * ms)[0] == "d" and exact_only.pick(6 * ms)[0] is None
