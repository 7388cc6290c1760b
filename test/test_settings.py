"""The node's parameter table and pipeline factory, without ROS.

Ranges, sections, and clear configure errors for missing or mismatched weights.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from finetrack_ros import settings as node_settings
from finetrack_ros.structures import Detections
from finetrack_ros.tracker import TrackerConfig


def settings(**changes):
    flat = node_settings.defaults()
    flat.update({"device": "cpu", "detector.checkpoint": "random", "detector.size": "nano",
                 "detector.input_size": [64, 96], "reid.checkpoint": "random",
                 "reid.crop_size": [64, 32]})
    flat.update(changes)
    return node_settings.nest(flat)


def test_every_tracker_field_is_a_runtime_parameter_with_its_default():
    """Tracker rows come from TrackerConfig (range, description).

    The node's defaults differ only where NODE_TRACKER_DEFAULTS says so.
    """
    assert set(node_settings.NODE_TRACKER_DEFAULTS) == {
        "use_appearance", "track_thresh", "min_box_area", "lost_track_seconds",
        "frame_rate_from_stamps", "part_weighting", "gallery_seconds"}
    for field in dataclasses.fields(TrackerConfig):
        spec = node_settings.BY_NAME[f"tracker.{field.name}"]
        assert spec.runtime and spec.description == field.metadata["doc"]
        assert (spec.low, spec.high) == (field.metadata["low"], field.metadata["high"])
        default = node_settings.NODE_TRACKER_DEFAULTS.get(field.name, field.default)
        default = list(default) if isinstance(default, tuple) else default
        assert spec.default == default


def test_nest_and_tracker_config():
    nested = node_settings.nest({"a.b": 1, "a.c": 2, "d": 3})
    assert nested == {"a": {"b": 1, "c": 2}, "d": 3}
    config = node_settings.tracker_config({"tracker.track_thresh": 0.7, "device": "cpu"})
    assert config.track_thresh == 0.7 and config.match_thresh == TrackerConfig().match_thresh


@pytest.mark.parametrize("name, value, message", [
    ("tracker.track_thresh", 1.5, "outside"),
    ("image_qos", "fast", "choose one of"),
    ("detector.input_size", [64], "height, width"),
    ("tracker.appearance_stages", ["second"], "appearance_stages"),
    ("no_such", 1, "unknown parameter"),
])
def test_validate_rejects_bad_values_naming_the_parameter(name, value, message):
    with pytest.raises(ValueError, match=message):
        node_settings.validate(name, value)


def test_random_pipeline_is_built_as_the_settings_say_and_tracks():
    pipeline = node_settings.build_pipeline(settings(**{"detector.conf": 0.3,
                                                        "tracker.track_buffer": 12}))
    detector = pipeline.detector.config
    assert (detector.size, detector.preprocess.input_size) == ("nano", (64, 96))
    assert (detector.postprocess.conf, detector.postprocess.nms) == (0.3, 0.7)
    assert pipeline.extractor.config.crop_size == (64, 32) and pipeline.uses_appearance
    node_tracker = node_settings.tracker_config(node_settings.defaults())
    assert pipeline.tracker.config == node_tracker.replace({"track_buffer": 12})

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 40.0, 100.0], [90.0, 10.0, 130.0, 110.0]], np.float32)
    first = pipeline.process(frame, Detections(boxes, [0.9, 0.8], [0, 0]))
    assert [t.track_id for t in first.tracks] == [1, 2]
    np.testing.assert_allclose([t.xyxy for t in first.tracks], boxes, atol=1e-3)
    norms = np.linalg.norm(first.embeddings, axis=1)  # the random Re-ID network's features
    assert first.embeddings.shape == (2, pipeline.extractor.dim)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    moved = boxes + [3, 1, 3, 1]
    second = pipeline.process(frame, Detections(moved, [0.9, 0.8], [0, 0]))
    assert second.frame_index == 1 and [t.track_id for t in second.tracks] == [1, 2]
    np.testing.assert_allclose([t.xyxy for t in second.tracks], moved, atol=2.0)


def test_external_detections_build_no_detector_and_reid_can_be_off():
    pipeline = node_settings.build_pipeline(settings(**{
        "external_detections": True, "reid.enabled": False, "detector.checkpoint": ""}))
    assert pipeline.detector is None and pipeline.extractor is None


def test_missing_weights_name_the_file(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        node_settings.build_pipeline(settings(**{"detector.checkpoint": str(missing)}))
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        node_settings.build_pipeline(settings(**{"reid.checkpoint": str(missing),
                                                 "external_detections": True}))
    with pytest.raises(ValueError, match="detector.checkpoint is empty"):
        node_settings.build_pipeline(settings(**{"detector.checkpoint": ""}))


def test_reid_weights_not_matching_the_parameters_name_file_and_field(tmp_path):
    from finetrack_ros.reid import FineTrackReID, ReIDConfig, save_reid

    config = ReIDConfig.preset("small", crop_size=(64, 32), num_parts=2, embed_dim=8,
                               fpn_channels=16, fam_channels=8)
    path = save_reid(tmp_path / "reid.pth", FineTrackReID(config))
    base = {"external_detections": True, "reid.checkpoint": str(path), "reid.crop_size": []}
    pipeline = node_settings.build_pipeline(settings(**base))
    assert pipeline.extractor.dim == 3 * 8
    with pytest.raises(ValueError, match=r"reid\.pth.*num_parts = 2.*reid\.num_parts"):
        node_settings.build_pipeline(settings(**base, **{"reid.num_parts": 6}))
    with pytest.raises(ValueError, match="crop_size"):
        node_settings.build_pipeline(settings(**{**base, "reid.crop_size": [128, 64]}))


def test_detector_weights_of_another_size_name_the_file(tmp_path):
    import torch

    from finetrack_ros.detector import build_yolox

    path = tmp_path / "yolox_nano.pth"
    torch.save({"model": build_yolox("nano", 1).state_dict()}, path)
    ok = node_settings.build_pipeline(settings(**{"detector.checkpoint": str(path),
                                                  "reid.enabled": False}))
    assert ok.detector is not None
    with pytest.raises(ValueError, match="yolox_nano.pth"):
        node_settings.build_pipeline(settings(**{"detector.checkpoint": str(path),
                                                 "detector.size": "tiny",
                                                 "reid.enabled": False}))


# --- one place for each default: docs/node.md and params files agree with the table ----------
def _flat_params(path) -> dict:
    """``{dotted name: value}`` of a ROS 2 params file (``/**: ros__parameters:``)."""
    import yaml

    data = yaml.safe_load(path.read_text())
    (section,) = data.values()
    flat = {}

    def walk(prefix, values):
        for key, value in values.items():
            if isinstance(value, dict):
                walk(f"{prefix}{key}.", value)
            else:
                flat[f"{prefix}{key}"] = value
    walk("", section["ros__parameters"])
    return flat


def test_docs_parameter_table_is_the_generated_one(repo_root):
    readme = (repo_root / "docs" / "node.md").read_text()  # the table moved out of README.md
    assert node_settings.markdown_table() in readme, \
        "docs/node.md parameter table is stale: paste finetrack_ros.settings.markdown_table()"


def test_params_files_use_known_names_and_valid_values(repo_root):
    node_only = {"autostart", "use_sim_time"}
    files = [path for path in sorted((repo_root / "config").glob("*.yaml"))
             if "ros__parameters" in path.read_text()]  # not e.g. the Re-ID training config
    assert repo_root / "config" / "finetrack.yaml" in files, files  # a check of no files passes
    for path in files:
        for name, value in _flat_params(path).items():
            if name not in node_only:
                node_settings.validate(name, value)  # unknown names and bad values raise


def test_the_launch_params_file_holds_exactly_the_defaults(repo_root):
    """config/finetrack.yaml (loaded by the launch file) = the node's defaults.

    So ros2 run and ros2 launch track alike; it lists every parameter, with a comment for
    each.
    """
    flat = _flat_params(repo_root / "config" / "finetrack.yaml")
    flat.pop("autostart", None)
    defaults = node_settings.defaults()
    assert set(flat) == set(defaults)
    for name, value in flat.items():
        assert value == defaults[name], f"config/finetrack.yaml {name}: {value!r} is not the " \
                                        f"default {defaults[name]!r}"
