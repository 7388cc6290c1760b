"""MOT sequence / video → rosbag2 → read back, with rosbags alone (no ROS)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from bag_scene import FPS, OBJECTS, make_mot_sequence
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from finetrack_ros.bag.mot_export import bag_topic_to_mot
from finetrack_ros.bag.reader import BagReader, play
from finetrack_ros.bag.typestore import VISION_MSGS_DEFS, build_typestore, finetrack_msg_dir
from finetrack_ros.bag.writer import StampConfig, write_mot_bag, write_video_bag
from finetrack_ros.cli import main
from finetrack_ros.image_codec import image_msg_to_bgr as image_from_msg
from finetrack_ros.messages import make_header

FRAMES = 5


@pytest.fixture
def seq(tmp_path: Path) -> Path:
    return make_mot_sequence(tmp_path / "mot", frames=FRAMES)


def _types_from_bag_msgdef(msgtype: str, msgdef: str) -> dict:
    """Parse a stored rosbag2 msgdef (``MSG: pkg/Name`` sections) as a ROS 2 reader does."""
    types: dict = {}
    sections = msgdef.split("=" * 80 + "\n")
    types.update(get_types_from_msg(sections[0], msgtype))
    for section in sections[1:]:
        header, _, body = section.partition("\n")
        name = header.removeprefix("MSG: ").strip()
        pkg, _, leaf = name.partition("/")
        types.update(get_types_from_msg(body, f"{pkg}/msg/{leaf}"))
    return types


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_reopens_with_plain_rosbags(seq: Path, tmp_path: Path, storage: str) -> None:
    out = tmp_path / "scene_bag"
    counts = write_mot_bag(seq, out, storage=storage)
    assert counts == {"/camera/image_raw": FRAMES, "/camera/camera_info": FRAMES,
                      "/ground_truth": FRAMES, "/detections": FRAMES}
    with Reader(out) as reader:
        topics = {c.topic: c for c in reader.connections}
        assert {t: c.msgtype for t, c in topics.items()} == {
            "/camera/image_raw": "sensor_msgs/msg/Image",
            "/camera/camera_info": "sensor_msgs/msg/CameraInfo",
            "/ground_truth": "vision_msgs/msg/Detection2DArray",
            "/detections": "vision_msgs/msg/Detection2DArray",
        }
        assert all(c.msgcount == FRAMES for c in topics.values())
        gt = topics["/ground_truth"]
        assert "vision_msgs/Detection2D[] detections" in gt.msgdef.data
        # decode with a typestore built only from what the bag itself stores
        store = get_typestore(Stores.ROS2_KILTED)
        store.register(_types_from_bag_msgdef(gt.msgtype, gt.msgdef.data))
        stamps, first = [], None
        for _, stamp, raw in reader.messages(connections=[gt]):
            msg = store.deserialize_cdr(raw, gt.msgtype)
            first = first or msg
            stamps.append(stamp)
    expected = [StampConfig().stamp_ns(i, FPS) for i in range(FRAMES)]
    assert stamps == expected and np.all(np.diff(stamps) > 0)
    # 3 objects + 1 ignored + 1 distractor per frame; ids and boxes as in gt.txt
    assert [d.id for d in first.detections] == ["1", "2", "3", "50", "51"]
    oid, x, y, w, h = OBJECTS[0][:5]
    box = first.detections[0].bbox
    assert (box.center.position.x, box.center.position.y, box.size_x, box.size_y) == (
        x + w / 2, y + h / 2, w, h)
    assert first.detections[3].results[0].hypothesis.score == 0.0


@pytest.mark.parametrize("compressed", [False, True])
def test_frames_come_back_with_their_detections(seq: Path, tmp_path: Path, compressed) -> None:
    write_mot_bag(seq, tmp_path / "b", compressed=compressed)
    topic = "/camera/image_raw/compressed" if compressed else "/camera/image_raw"
    with BagReader(tmp_path / "b" / "b.mcap") as bag:  # the storage file works as well
        frames = list(bag.frames(topic, "/detections"))
    assert [f.index for f in frames] == list(range(FRAMES))
    for frame in frames:
        original = cv2.imread(str(seq / "img1" / f"{frame.index + 1:06d}.png"))
        diff = np.abs(frame.image_bgr.astype(int) - original.astype(int)).mean()
        assert diff < 2.0 if compressed else diff == 0
        assert len(frame.detections["ids"]) == len(OBJECTS)
        assert frame.detections["ids"] == [""] * len(OBJECTS)


def test_ground_truth_topic_exports_as_the_original_rows(seq: Path, tmp_path: Path) -> None:
    write_mot_bag(seq, tmp_path / "b", storage="sqlite3")
    out = bag_topic_to_mot(tmp_path / "b", "/ground_truth", tmp_path / "gt_back.txt")
    back = np.loadtxt(out, delimiter=",")
    original = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",")
    order = np.lexsort((original[:, 1], original[:, 0]))
    np.testing.assert_allclose(back[:, :8], original[order, :8])


def test_player_yields_every_message_in_stamp_order(seq: Path, tmp_path: Path) -> None:
    write_mot_bag(seq, tmp_path / "b")
    store = build_typestore()
    messages = list(play(tmp_path / "b", ["/camera/image_raw", "/detections"]))
    assert len(messages) == 2 * FRAMES
    assert [m.stamp_ns for m in messages] == sorted(m.stamp_ns for m in messages)
    image = store.deserialize_cdr(messages[0].rawdata, messages[0].msgtype)
    assert messages[0].msgtype == "sensor_msgs/msg/Image" and image.encoding == "bgr8"


def test_missing_topic_and_wrong_type_name_bag_and_topic(seq: Path, tmp_path: Path) -> None:
    bag_path = tmp_path / "b"
    write_mot_bag(seq, bag_path)
    with BagReader(bag_path) as bag:
        with pytest.raises(ValueError, match=r"b: topic /nope not found"):
            list(bag.frames("/nope"))
        with pytest.raises(ValueError, match=r"topic /detections has type vision_msgs"):
            list(bag.frames("/detections"))
        with pytest.raises(ValueError, match=r"topic /camera/image_raw has type sensor_msgs"):
            list(bag.detection_arrays("/camera/image_raw"))
    with pytest.raises(FileNotFoundError, match="not found"):
        BagReader(tmp_path / "absent")


@pytest.mark.parametrize("storage,suffix", [("mcap", ".mcap"), ("sqlite3", ".db3")])
def test_truncated_bag_gives_a_clear_error(seq: Path, tmp_path: Path, storage, suffix) -> None:
    bag_path = tmp_path / "b"
    write_mot_bag(seq, bag_path, storage=storage)
    data_file = next(bag_path.glob(f"*{suffix}"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 3])
    with pytest.raises(ValueError, match=r"bag .*b: .*(corrupt|truncated)"):
        with BagReader(bag_path) as bag:
            list(bag.frames("/camera/image_raw", "/detections"))


def test_failed_write_leaves_nothing_behind(seq: Path, tmp_path: Path) -> None:
    (seq / "img1" / "000003.png").write_bytes(b"not a png")
    out = tmp_path / "out" / "b"
    with pytest.raises(ValueError, match="000003.png: cannot read image"):
        write_mot_bag(seq, out)
    assert list((tmp_path / "out").iterdir()) == []


def test_video_to_bag(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 12, (64, 48))
    for i in range(7):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    counts = write_video_bag(video, tmp_path / "vb", fps=25.0, storage="sqlite3")
    assert counts == {"/camera/image_raw": 7, "/camera/camera_info": 7}
    with BagReader(tmp_path / "vb") as bag:
        frames = list(bag.frames("/camera/image_raw"))
    assert [f.stamp_ns - frames[0].stamp_ns for f in frames[:3]] == [0, 40_000_000, 80_000_000]
    assert frames[6].image_bgr.shape == (48, 64, 3)
    assert abs(int(frames[6].image_bgr.mean()) - 180) <= 3


def test_vision_msgs_text_matches_the_ci_underlay(repo_root: Path) -> None:
    underlay = repo_root / "ci" / "underlay" / "vision_msgs" / "msg"
    if not underlay.is_dir():
        pytest.skip(f"{underlay} not written yet")
    for name, text in VISION_MSGS_DEFS.items():
        theirs = (underlay / f"{name}.msg").read_text()
        assert get_types_from_msg(text, f"vision_msgs/msg/{name}") == get_types_from_msg(
            theirs, f"vision_msgs/msg/{name}"), name


def test_finetrack_messages_are_registered(repo_root: Path) -> None:
    assert finetrack_msg_dir() == repo_root / "msg"
    fields = build_typestore().get_msgdef("finetrack_ros/msg/TrackedObject").fields
    assert [f[0] for f in fields][:3] == ["track_id", "class_id", "score"]


def test_corrupt_metadata_names_the_bag(seq: Path, tmp_path: Path) -> None:
    write_mot_bag(seq, tmp_path / "b")
    (tmp_path / "b" / "metadata.yaml").write_text("rosbag2_bagfile_information: [oops\n")
    with pytest.raises(ValueError, match=r"bag .*b: cannot open, corrupt or truncated"):
        BagReader(tmp_path / "b")


@pytest.mark.parametrize("encoding", ["rgb8", "mono8"])
def test_image_encodings_decode_to_bgr(encoding: str) -> None:
    store = build_typestore()
    bgr = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    if encoding == "rgb8":
        pixels, channels = bgr[:, :, ::-1], 3
    else:
        bgr = np.repeat(bgr[:, :, :1], 3, axis=2)
        pixels, channels = bgr[:, :, 0], 1
    step = 5 * channels + 3  # rows padded, as some cameras do
    data = np.zeros((4, step), np.uint8)
    data[:, : 5 * channels] = np.ascontiguousarray(pixels).reshape(4, -1)
    msg = store.types["sensor_msgs/msg/Image"](
        header=make_header(store, 0, "cam"), height=4, width=5, encoding=encoding,
        is_bigendian=0, step=step, data=data.reshape(-1))
    np.testing.assert_array_equal(image_from_msg(msg), bgr)
    msg.encoding = "16UC1"
    with pytest.raises(ValueError, match="unsupported encoding '16UC1'"):
        image_from_msg(msg)


def test_cli_from_mot_info_and_errors(seq: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli_bag"
    assert main(["bag", "from-mot", str(seq), str(out), "--storage", "sqlite3"]) == 0
    assert main(["bag", "info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"/ground_truth {FRAMES}" in printed
    assert "vision_msgs/msg/Detection2DArray" in printed and "0.400 s" in printed
    assert main(["bag", "from-mot", str(seq), str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
