"""Issue 6 §4: a bag replayed into the running finetrack_node (use_sim_time, lock-step, real
rclpy, node in a subprocess) gives exactly the tracks of the offline replay.

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
from finetrack_ros.demo import baseline_pipeline
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
    from finetrack_ros.reid import FeatureExtractor, load_reid

    pipeline = baseline_pipeline({**PARAMS, "reid.enabled": False}, external_detections=True)
    pipeline.tracker.config = pipeline.tracker.config.replace({"use_appearance": True})
    pipeline.extractor = FeatureExtractor(load_reid(reid, "cpu"), device="cpu")
    summary = replay_bag(bag, pipeline, None, detections_topic="/detections",
                         out_bag=out / "offline_bag")
    assert summary.frames == FRAMES
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
