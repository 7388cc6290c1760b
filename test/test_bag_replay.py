"""Round trip: MOT sequence → bag → offline replay (ground truth as detections) → metrics."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bag_scene import OBJECTS, make_mot_sequence

from finetrack_ros.bag.mot_export import bag_topic_to_mot
from finetrack_ros.bag.reader import BagReader
from finetrack_ros.bag.replay import replay_bag
from finetrack_ros.bag.writer import write_mot_bag
from finetrack_ros.cli import main
from finetrack_ros.eval.metrics import SequencePair, evaluate_sequences
from finetrack_ros.mot import CLASS, CONF, FRAME, ID, open_sequence, read_mot_txt
from finetrack_ros.pipeline import TrackingPipeline
from finetrack_ros.tracker import ByteTracker, TrackerConfig


def _track(path: Path, out: Path, *extra: str) -> int:
    """``finetrack track`` on a bag (ground truth as detections) or a MOT folder."""
    return main(["track", str(path), "--out", str(out), *extra])


def _track_bag(bag: Path, out: Path, *extra: str) -> int:
    return _track(bag, out, "--image-topic", "/camera/image_raw/compressed",
                  "--detections-topic", "/ground_truth", *extra)


def _metrics(name: str, gt: Path, results: Path) -> dict:
    return evaluate_sequences([SequencePair(name, gt, results)])[name]


@pytest.fixture
def scene_bag(tmp_path: Path) -> tuple[Path, Path]:
    seq = make_mot_sequence(tmp_path / "mot", frames=8)
    write_mot_bag(seq, tmp_path / "scene_bag", compressed=True, storage="sqlite3")
    return seq, tmp_path / "scene_bag"


def test_scene_round_trip_is_perfect_and_the_out_bag_matches(scene_bag, tmp_path) -> None:
    seq, bag = scene_bag
    out_txt, out_bag = tmp_path / "res" / "scene.txt", tmp_path / "tracks_bag"
    # ground truth holds other classes too: track the pedestrians only, as a node would with
    # detector.keep_classes: [0]
    assert _track_bag(bag, out_txt, "--out-bag", str(out_bag), "--seq-frame-rate",
                      "--set", "detector.keep_classes=[0]") == 0
    metrics = _metrics("SCENE-01", seq / "gt" / "gt.txt", out_txt)
    assert (metrics["MOTA"], metrics["IDF1"]) == (1.0, 1.0)
    assert (metrics["FP"], metrics["FN"], metrics["IDSW"]) == (0, 0, 0)

    with BagReader(out_bag) as reader:
        assert reader.topics == {
            "/finetrack/tracks": ("vision_msgs/msg/Detection2DArray", 8),
            "/finetrack/tracked_objects": ("finetrack_ros/msg/TrackedObjectArray", 8),
            "/finetrack/annotated_image": ("sensor_msgs/msg/Image", 8),
        }
        objects = [msg for _, msg in reader.messages("/finetrack/tracked_objects")]
        images = list(reader.frames("/finetrack/annotated_image", "/finetrack/tracks"))
    with BagReader(bag) as reader:
        input_stamps = [f.stamp_ns for f in reader.frames("/camera/image_raw/compressed")]
    assert [f.stamp_ns for f in images] == input_stamps
    assert all(f.detections["ids"] == ["1", "2", "3"] for f in images)
    last = objects[-1].objects
    assert [o.track_id for o in last] == [1, 2, 3] and {o.state for o in last} == {1}
    # velocity in pixels per second (frame_rate 10 from the bag's stamps: --seq-frame-rate):
    # OBJECTS move (dx, dy) pixels per frame at 10 fps
    np.testing.assert_allclose([last[0].velocity_x, last[0].velocity_y],
                               np.array(OBJECTS[0][5:7]) * 10.0, atol=6.0)
    # the tracks topic exports to the same rows as the results file
    exported = read_mot_txt(bag_topic_to_mot(out_bag, "/finetrack/tracks", tmp_path / "t.txt"))
    results = read_mot_txt(out_txt)
    np.testing.assert_allclose(exported[:, :6], results[:, :6], atol=0.01)


def test_replay_is_deterministic(scene_bag, tmp_path) -> None:
    _, bag = scene_bag
    texts = []
    for run in range(2):
        pipeline = TrackingPipeline(ByteTracker(TrackerConfig()))
        out = tmp_path / f"run{run}.txt"
        summary = replay_bag(bag, pipeline, out, "/camera/image_raw/compressed", "/detections")
        assert summary.tracked == 8 and len(summary.track_ids) == len(OBJECTS)
        texts.append(out.read_text())
    assert texts[0] == texts[1] and texts[0].count("\n") == 8 * len(OBJECTS)


def test_missing_detections_topic_fails_cleanly(scene_bag, tmp_path) -> None:
    _, bag = scene_bag
    out_txt, out_bag = tmp_path / "res.txt", tmp_path / "out_bag"
    with pytest.raises(ValueError, match=r"scene_bag: topic /no_such_topic not found"):
        replay_bag(bag, TrackingPipeline(ByteTracker(TrackerConfig())), out_txt,
                   "/camera/image_raw/compressed", "/no_such_topic", out_bag)
    assert not out_txt.exists() and not out_bag.exists()
    assert not any(p.name.startswith(".out_bag") for p in tmp_path.iterdir())


def _first_frame_births_only(gt_rows: np.ndarray) -> bool:
    """Return True when every evaluated pedestrian is present on frame 1.

    ByteTrack confirms tracks born later only on their second frame, so those cost one FN
    each by design.
    """
    rows = gt_rows[(gt_rows[:, CONF] != 0) & (gt_rows[:, CLASS] == 1)]
    first = {int(i): int(rows[rows[:, ID] == i, FRAME].min()) for i in np.unique(rows[:, ID])}
    return all(frame == 1 for frame in first.values())


def test_mot17_mini_round_trip(shared_data: Path, tmp_path: Path) -> None:
    sequences = sorted((shared_data / "MOT17-mini" / "train").glob("MOT17-*-FRCNN"))
    assert len(sequences) == 7
    perfect = 0
    for seq_dir in sequences:
        seq = open_sequence(seq_dir)
        bag = tmp_path / f"{seq.name}_bag"
        write_mot_bag(seq_dir, bag, compressed=True)
        # 1. the ground truth survives the bag exactly
        gt_rows = read_mot_txt(seq.gt_path)
        gt_back = read_mot_txt(
            bag_topic_to_mot(bag, "/ground_truth", tmp_path / f"{seq.name}_gt.txt"))
        order = np.lexsort((gt_rows[:, ID], gt_rows[:, FRAME]))
        np.testing.assert_allclose(gt_back[:, :8], gt_rows[order, :8])
        # 2. replaying the bag equals tracking the folder with the same (pedestrian) boxes:
        #    other ground-truth classes are learnt (as the node does) and filtered out
        out_txt = tmp_path / f"{seq.name}.txt"
        assert _track_bag(bag, out_txt, "--set", "detector.keep_classes=[0]") == 0
        det_path = tmp_path / f"{seq.name}_det.txt"
        person = gt_rows[gt_rows[:, CLASS] == 1][:, :7]
        np.savetxt(det_path, person, delimiter=",", fmt="%.2f")
        folder_txt = tmp_path / f"{seq.name}_folder.txt"
        assert _track(seq_dir, folder_txt, "--detections", str(det_path)) == 0
        assert out_txt.read_text() == folder_txt.read_text()
        # 3. perfect scores where ByteTrack's confirmation rule allows them
        if _first_frame_births_only(gt_rows):
            metrics = _metrics(seq.name, seq.gt_path, out_txt)
            assert (metrics["MOTA"], metrics["IDF1"]) == (1.0, 1.0), seq.name
            perfect += 1
    assert perfect >= 6
