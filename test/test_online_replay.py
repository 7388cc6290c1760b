"""Issue 6 §4: a bag replayed into the running finetrack_node gives the offline tracks.

Replayed with use_sim_time, lock-step, real rclpy, node in a subprocess, it gives exactly the
tracks of the offline replay.

Both sides use Re-ID (a small random network saved to a file, so both load the same weights)
on a synthetic scene with GT-derived noisy detections; both tracks topics are exported with
the same function and compared as text.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ros_helpers import DOMAIN_ID, ros_install  # noqa: F401  (fixture)

from finetrack_ros.bag.mot_export import bag_topic_to_mot
from finetrack_ros.bag.replay import ReplayTopics, replay_bag
from finetrack_ros.bag.writer import write_mot_bag
from finetrack_ros.sim import SceneConfig, write_sequence

pytestmark = pytest.mark.ros

FRAMES = 16
PARAMS = {"device": "cpu", "tracker.frame_rate": 10.0, "reid.enabled": True,
          "tracker.use_appearance": True}


@pytest.fixture
def single_thread(monkeypatch):
    """One torch thread here and in the node, so both compute bit-identical features."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def scene_bag(tmp_path: Path) -> tuple[Path, Path]:
    """(bag with raw images, /detections, /ground_truth; a random small Re-ID checkpoint)."""
    import torch

    from finetrack_ros.reid import FineTrackReID, ReIDConfig, save_reid

    seq = write_sequence(tmp_path / "seq", SceneConfig(
        width=256, height=192, fps=10.0, frames=FRAMES, people=4, seed=3), progress=False)
    write_mot_bag(seq, tmp_path / "bag")
    torch.manual_seed(0)
    reid = save_reid(tmp_path / "reid.pth",
                     FineTrackReID(ReIDConfig.preset("small", crop_size=(64, 32))))
    return tmp_path / "bag", reid


def _offline_tracks(bag: Path, reid: Path, out: Path) -> Path:
    from finetrack_ros import settings

    params = {**PARAMS, "reid.checkpoint": str(reid), "external_detections": True}
    summary = replay_bag(bag, settings.pipeline_from_params(params), None,
                         detections_topic="/detections", out_bag=out / "offline_bag",
                         options=settings.frame_options(params), progress=False)
    assert summary.tracked == FRAMES
    return bag_topic_to_mot(out / "offline_bag", ReplayTopics().tracks, out / "offline.txt")


def test_online_replay_into_the_node_equals_offline_replay(
        ros_install, scene_bag, single_thread, tmp_path):  # noqa: F811
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.ros.online_replay import OnlineReplayConfig, replay_into_node

    bag, reid = scene_bag
    online = replay_into_node(
        bag, tmp_path / "online_bag", {**PARAMS, "reid.checkpoint": str(reid)},
        OnlineReplayConfig(detections_topic="/detections", startup_timeout_s=90.0),
        domain_id=DOMAIN_ID)
    log = online.node_log.read_text()
    assert online.frames_sent == FRAMES and online.frames_dropped == 0, log
    assert online.frames_tracked == FRAMES, log
    assert "FineTrack Re-ID" in log  # the node really ran with appearance
    with BagReader(online.tracks_bag) as recorded:
        assert recorded.count(online.tracks_topic) == FRAMES
        assert recorded.count("/finetrack_node/tracked_objects") == FRAMES
    online_txt = bag_topic_to_mot(online.tracks_bag, online.tracks_topic, tmp_path / "online.txt")
    offline_txt = _offline_tracks(bag, reid, tmp_path)

    online_rows = np.loadtxt(online_txt, delimiter=",", ndmin=2)
    assert len(online_rows) > 2 * FRAMES  # several people tracked on most frames
    assert len(np.unique(online_rows[:, 1])) >= 3
    assert online_txt.read_text() == offline_txt.read_text()


def test_player_paces_and_stamps_with_sim_time(ros_install, scene_bag, tmp_path):  # noqa: F811
    """The player's /clock and the recorder's receive stamps follow the bag, not the wall."""
    from finetrack_ros.bag.bag_writer import BagWriter
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.bag.typestore import DETECTION_ARRAY_TYPE
    from finetrack_ros.ros.bag_player import BagPlayer, TopicRecorder
    from finetrack_ros.ros.runtime import rclpy_session

    bag, _ = scene_bag
    with BagReader(bag) as reader:
        stamps = [s for s, _ in reader.messages("/detections")]
    with rclpy_session("player_test", DOMAIN_ID, use_sim_time=True) as session, \
            BagWriter(tmp_path / "echo_bag") as writer:
        recorder = TopicRecorder(session, writer, {"/echo/detections": DETECTION_ARRAY_TYPE})
        player = BagPlayer(session, bag, ["/detections"], remap={"/detections": "/echo/detections"})
        assert session.spin_until(lambda: recorder.publisher_count() > 0, 20.0)
        counts = recorder.counts
        summary = player.play(lambda i, stamp, topics: session.spin_until(
            lambda: counts["/echo/detections"] >= i + 1, 10.0))
        player.close()
        recorder.close()
    assert summary.groups == FRAMES and summary.counts == {"/echo/detections": FRAMES}
    with BagReader(tmp_path / "echo_bag") as echoed, BagReader(bag) as original:
        received = [s for s, _ in echoed.messages("/echo/detections")]
        copies = [m for _, m in echoed.messages("/echo/detections")]
        originals = [m for _, m in original.messages("/detections")]
    assert received == stamps  # sim time = the /clock the player sent before each frame
    assert [len(m.detections) for m in copies] == [len(m.detections) for m in originals]


# --- one frame path: every seam between node and offline replay ---------------------------
SEAM_PARAMS = {"device": "cpu", "tracker.frame_rate": 10.0, "reid.enabled": True,
               "tracker.use_appearance": True}
SEAM_FRAMES = 12
SEAM_START_NS = 1_700_000_000 * 10**9
SEAM_HW = (96, 160)  # even width: yuv422 packs pixel pairs


def _uyvy(bgr: np.ndarray) -> np.ndarray:
    """(H, W, 2) packed U Y0 V Y1 of a BGR frame (what a yuv422 camera sends)."""
    import cv2

    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV).astype(np.int32)
    out = np.empty(bgr.shape[:2] + (2,), np.uint8)
    out[:, :, 1] = yuv[:, :, 0]
    chroma = (yuv[:, 0::2, 1:] + yuv[:, 1::2, 1:]) // 2  # (H, W/2, 2): U, V per pair
    out[:, 0::2, 0], out[:, 1::2, 0] = chroma[:, :, 0], chroma[:, :, 1]
    return out


def _seam_frame(frame: int) -> tuple[np.ndarray, list]:
    """Draw a BGR frame with two walking people (coloured boxes) and their detections."""
    rng = np.random.default_rng(frame)
    image = rng.integers(0, 60, SEAM_HW + (3,), dtype=np.uint8)
    people = [((10 + 4 * frame, 20), (40, 200, 60)), ((120 - 3 * frame, 30), (200, 60, 40))]
    boxes = []
    for (x, y), colour in people:
        image[y:y + 50, x:x + 20] = colour
        boxes.append(((x, y, x + 20, y + 50), 0.9, "person"))
    return image, boxes


def _write_seam_bag(path: Path) -> list[int]:
    """Write the bag of the parity test; return the image header stamps.

    Frame 1 is mono16 (big-endian), frame 2 yuv422, frames 3-7 add a wide box of an unknown
    class, frame 4 has no detections message, frame 6 has no person (only the unknown class),
    and frame 8 jumps 5 s back in time (a looped bag); receive stamps always increase.
    """
    from finetrack_ros import messages as m
    from finetrack_ros.bag.bag_writer import BagWriter
    from finetrack_ros.bag.typestore import DETECTION_ARRAY_TYPE, IMAGE_TYPE

    stamps = []
    with BagWriter(path) as bag:
        bag.add_topic("/camera/image_raw", IMAGE_TYPE)
        bag.add_topic("/detections", DETECTION_ARRAY_TYPE)
        for frame in range(SEAM_FRAMES):
            receive = SEAM_START_NS + frame * 10**8
            stamp = receive - (5 * 10**9 if frame >= 8 else 0)
            header = m.make_header(bag.store, stamp, "cam")
            image, boxes = _seam_frame(frame)
            if frame == 1:
                grey = image.mean(axis=2).astype(np.uint16) * 257
                msg = m.image_msg(bag.store, header, grey, "mono16")
                msg.is_bigendian, msg.data = 1, grey.astype(">u2").view(np.uint8).reshape(-1)
            elif frame == 2:
                msg = m.image_msg(bag.store, header, _uyvy(image), "yuv422")
            else:
                msg = m.image_msg(bag.store, header, image)
            bag.write("/camera/image_raw", receive, msg)
            stamps.append(stamp)
            forklift = ((60 + frame, 60, 140 + frame, 90), 0.8, "forklift")
            if frame == 6:
                boxes = [forklift]
            elif 3 <= frame <= 7:
                boxes.append(forklift)
            if frame != 4:
                arr = m.detection_array_msg(bag.store, header, [b[0] for b in boxes],
                                            [b[1] for b in boxes], [b[2] for b in boxes])
                bag.write("/detections", receive, arr)
    return stamps


def _published(bag: Path, topic: str) -> dict:
    """Header stamp → [(id, class, score, cx, cy, w, h)] of a Detection2DArray topic."""
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.messages import header_stamp_ns

    out = {}
    with BagReader(bag) as reader:
        for _, msg in reader.messages(topic):
            out[header_stamp_ns(msg.header)] = [
                (d.id, d.results[0].hypothesis.class_id, round(d.results[0].hypothesis.score, 5),
                 round(d.bbox.center.position.x, 3), round(d.bbox.center.position.y, 3),
                 round(d.bbox.size_x, 3), round(d.bbox.size_y, 3)) for d in msg.detections]
    return out


def test_online_and_offline_agree_on_every_seam(
        ros_install, single_thread, tmp_path):  # noqa: F811
    import torch

    from finetrack_ros import settings
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.messages import header_stamp_ns
    from finetrack_ros.reid import FineTrackReID, ReIDConfig, save_reid
    from finetrack_ros.ros.online_replay import OnlineReplayConfig, replay_into_node

    stamps = _write_seam_bag(tmp_path / "seam_bag")
    torch.manual_seed(0)
    reid = save_reid(tmp_path / "reid.pth",
                     FineTrackReID(ReIDConfig.preset("small", crop_size=(64, 32))))
    params = {**SEAM_PARAMS, "reid.checkpoint": str(reid)}
    online = replay_into_node(
        tmp_path / "seam_bag", tmp_path / "online_bag", params,
        OnlineReplayConfig(detections_topic="/detections", startup_timeout_s=90.0),
        domain_id=DOMAIN_ID)
    log = online.node_log.read_text()
    assert online.frames_sent == SEAM_FRAMES and online.frames_dropped == 0, log
    assert online.frames_tracked == SEAM_FRAMES - 1, log  # frame 4 has no detections
    assert "time jumped backwards" in log and "bad frame" not in log, log

    pipeline = settings.pipeline_from_params({**params, "external_detections": True})
    offline = replay_bag(tmp_path / "seam_bag", pipeline, None, out_bag=tmp_path / "off_bag",
                         options=settings.frame_options(params), progress=False)
    assert (offline.tracked, offline.bad) == (SEAM_FRAMES - 1, 0)

    online_tracks = _published(online.tracks_bag, online.tracks_topic)
    offline_tracks = _published(tmp_path / "off_bag", ReplayTopics().tracks)
    assert sorted(online_tracks) == sorted(offline_tracks) == sorted(
        s for i, s in enumerate(stamps) if i != 4)
    assert online_tracks == offline_tracks
    classes = {det[1] for dets in offline_tracks.values() for det in dets}
    assert classes == {"person", "forklift"}  # the wide unknown class is not filtered
    assert {det[1] for det in offline_tracks[stamps[6]]} == {"forklift"}  # no person
    with BagReader(tmp_path / "off_bag") as reader:
        ages = {header_stamp_ns(msg.header): [o.age for o in msg.objects]
                for _, msg in reader.messages(ReplayTopics().tracked_objects)}
    assert max(ages[stamps[7]]) >= 5 and max(ages[stamps[8]]) <= 1  # reset at the jump


# --- 3D: a bag's camera_info and /tf_static, into the node and offline ----------------------
WORLD_PARAMS = {"device": "cpu", "tracker.frame_rate": 10.0, "reid.enabled": False,
                "tracker.use_appearance": False,
                "world.camera_info_topic": "/camera/camera_info", "world.ground_frame": "world"}
WORLD_FRAMES = 8


def _people_3d(bag: Path, topic: str) -> dict:
    """Header stamp → (frame_id, [(id, x, y, z of the box centre)]) of a Detection3DArray topic."""
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.messages import header_stamp_ns

    with BagReader(bag) as reader:
        return {header_stamp_ns(msg.header): (msg.header.frame_id, [
            (d.id, d.bbox.center.position.x, d.bbox.center.position.y,
             d.bbox.center.position.z) for d in msg.detections])
            for _, msg in reader.messages(topic)}


def test_online_and_offline_agree_in_3d(ros_install, tmp_path):  # noqa: F811
    """Check the node's ~/tracks_3d (tf2) against the offline tracks_3d (numpy tf tree).

    A bag with calibrated camera_info and /tf_static: every frame, every person, within 1e-6 m.
    """
    from bag_scene import make_mot_sequence
    from test_bag_world import write_camera_yaml
    from test_camera_ground import robot_camera

    from finetrack_ros import settings
    from finetrack_ros.bag.world import BagWorldConfig
    from finetrack_ros.ros.online_replay import OnlineReplayConfig, replay_into_node

    seq = make_mot_sequence(tmp_path, WORLD_FRAMES)
    camera = write_camera_yaml(tmp_path / "camera.yaml",
                               robot_camera(3.0, 40.0, yaw_deg=20.0, x=-1.0, y=0.5))
    write_mot_bag(seq, tmp_path / "bag", camera=camera)
    online = replay_into_node(
        tmp_path / "bag", tmp_path / "online_bag", WORLD_PARAMS,
        OnlineReplayConfig(detections_topic="/detections", startup_timeout_s=90.0,
                           world_topics=("/camera/camera_info", "/tf_static"), record_3d=True),
        domain_id=DOMAIN_ID)
    log = online.node_log.read_text()
    assert online.frames_tracked == WORLD_FRAMES and online.frames_dropped == 0, log
    assert "3D on" in log and "3D skipped" not in log, log

    pipeline = settings.pipeline_from_params({**WORLD_PARAMS, "external_detections": True})
    replay_bag(tmp_path / "bag", pipeline, None, out_bag=tmp_path / "off_bag",
               options=settings.frame_options(WORLD_PARAMS), progress=False,
               world=BagWorldConfig.from_params(WORLD_PARAMS, "/camera/camera_info"))

    online_3d = _people_3d(online.tracks_bag, "/finetrack_node/tracks_3d")
    offline_3d = _people_3d(tmp_path / "off_bag", ReplayTopics().tracks_3d)
    assert len(online_3d) == WORLD_FRAMES and sorted(online_3d) == sorted(offline_3d)
    for stamp, (frame_id, people) in offline_3d.items():
        online_frame, online_people = online_3d[stamp]
        assert frame_id == online_frame == "world"
        assert len(people) == 3 and [p[0] for p in people] == [p[0] for p in online_people]
        np.testing.assert_allclose(np.array([p[1:] for p in online_people]),
                                   np.array([p[1:] for p in people]), atol=1e-6)
    # one output seam: ~/tracked_objects carries the same world positions online and offline
    online_world = _world_fields(online.tracks_bag, "/finetrack_node/tracked_objects")
    offline_world = _world_fields(tmp_path / "off_bag", ReplayTopics().tracked_objects)
    assert sorted(online_world) == sorted(offline_world) == sorted(offline_3d)
    for stamp, objects in offline_world.items():
        assert [o[:2] for o in objects] == [o[:2] for o in online_world[stamp]]
        assert {o[1] for o in objects} == {"world"}
        np.testing.assert_allclose(np.array([o[2:] for o in online_world[stamp]]),
                                   np.array([o[2:] for o in objects]), atol=1e-6)


def _world_fields(bag: Path, topic: str) -> dict:
    """Header stamp → [(id, world_frame_id, x, y, z)] of a TrackedObjectArray topic."""
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.messages import header_stamp_ns

    with BagReader(bag) as reader:
        return {header_stamp_ns(msg.header): [
            (o.track_id, o.world_frame_id, o.world_position.x, o.world_position.y,
             o.world_position.z) for o in msg.objects]
            for _, msg in reader.messages(topic)}
