"""TrackerConfig: ROS 2 parameter files, flat mappings, --set overrides, the shipped configs."""
import pytest

from finetrack_ros.tracker import TrackerConfig

ROS_YAML = """
/**:
  ros__parameters:
    tracker:
      track_thresh: 0.7
      track_buffer: 60
      fuse_score: false
    detector:
      conf: 0.1
"""


def test_ros_parameter_file_and_flat_mapping(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(ROS_YAML)
    cfg = TrackerConfig.from_yaml(path)
    assert (cfg.track_thresh, cfg.track_buffer, cfg.fuse_score) == (0.7, 60, False)
    assert cfg.match_thresh == 0.8  # untouched keys keep ByteTrack's defaults
    flat = TrackerConfig.from_mapping({"match_thresh": 0.9, "track_buffer": 10})
    assert (flat.match_thresh, flat.track_buffer) == (0.9, 10)
    named = TrackerConfig.from_mapping({"finetrack_node": {"ros__parameters": {
        "tracker": {"frame_rate": 15}}}})
    assert named.frame_rate == 15.0 and named.max_time_lost == 15


def test_unknown_key_names_the_source_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("tracker:\n  track_tresh: 0.6\n")
    with pytest.raises(ValueError, match=r"bad.yaml.*track_tresh"):
        TrackerConfig.from_yaml(path)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        TrackerConfig.from_yaml(tmp_path / "missing.yaml")


def test_overrides_are_type_checked():
    cfg = TrackerConfig().with_overrides(["track_thresh=0.65", "track_buffer=50",
                                          "fuse_score=false", "appearance_stages=first"])
    assert cfg.track_thresh == 0.65 and cfg.track_buffer == 50 and cfg.fuse_score is False
    assert cfg.appearance_stages == ("first",)
    for bad, match in [("track_thresh=high", "number"), ("track_buffer=2.5", "integer"),
                       ("fuse_score=1", "true/false"), ("nope=1", "unknown tracker key"),
                       ("track_thresh", "key=value")]:
        with pytest.raises(ValueError, match=match):
            TrackerConfig().with_overrides([bad])


def test_invalid_values_are_rejected():
    with pytest.raises(ValueError, match="frame_rate"):
        TrackerConfig(frame_rate=0)
    with pytest.raises(ValueError, match="feature_momentum"):
        TrackerConfig(feature_momentum=1.5)


def test_shipped_configs(repo_root):
    mot17 = TrackerConfig.from_yaml(repo_root / "config" / "bytetrack_mot17.yaml")
    assert (mot17.track_thresh, mot17.match_thresh, mot17.min_box_area) == (0.6, 0.9, 100.0)
    assert mot17.fuse_score and not mot17.use_appearance
    mot20 = TrackerConfig.from_yaml(repo_root / "config" / "bytetrack_mot20.yaml")
    assert not mot20.fuse_score and mot20.match_thresh == 0.7
    fine = TrackerConfig.from_yaml(repo_root / "config" / "finetrack.yaml")
    assert fine.use_appearance and fine.appearance_stages == ("first", "unconfirmed")
