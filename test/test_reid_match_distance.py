"""The network's take-back distance (issue 20).

Measured at training time, stored with the weights (checkpoint, inference copy, ONNX), used
by the tracker, refused when malformed.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from test_reid_checkpoint import tiny_model

from finetrack_ros import settings
from finetrack_ros.reid import load_reid, save_reid
from finetrack_ros.reid.checkpoint import save_reid_for_inference
from finetrack_ros.reid.match_distance import describe, measure_match_distance


def _two_people(noise: float, rng: np.random.Generator):
    """Crops of 2 identities over 10 frames: unit features near two orthogonal axes."""
    labels = np.repeat([0, 1], 10)
    frames = np.tile(np.arange(10), 2)
    centres = np.eye(8)[labels]
    return centres + noise * rng.normal(size=(20, 8)), labels, frames


def test_the_distance_lets_through_the_asked_share_of_different_people():
    emb, labels, frames = _two_people(0.3, np.random.default_rng(0))
    measured = measure_match_distance(emb, labels, frames, false_match_rate=0.05)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    dist = 1.0 - unit @ unit.T
    other_frame = frames[:, None] != frames[None, :]
    different = dist[np.triu(other_frame & (labels[:, None] != labels[None, :]), 1)]
    same = dist[np.triu(other_frame & (labels[:, None] == labels[None, :]), 1)]
    assert measured["different_pairs"] == len(different) == 90
    assert measured["same_pairs"] == len(same) == 90  # same-frame pairs are left out
    assert np.mean(different <= measured["distance"]) == pytest.approx(0.05, abs=0.012)
    assert measured["true_match_rate"] == pytest.approx(np.mean(same <= measured["distance"]))
    # a stricter rate gives a smaller distance; a network that separates better a larger one
    strict = measure_match_distance(emb, labels, frames, false_match_rate=0.01)
    assert strict["distance"] < measured["distance"]
    cleaner = measure_match_distance(*_two_people(0.1, np.random.default_rng(0)),
                                     false_match_rate=0.05)
    assert cleaner["distance"] > measured["distance"]


def test_no_pairs_of_one_kind_gives_none():
    emb = np.random.default_rng(1).normal(size=(5, 4))
    assert measure_match_distance(emb, np.zeros(5), np.arange(5)) is None  # one person
    assert measure_match_distance(emb, np.arange(5), np.zeros(5)) is None  # one frame


def test_stored_with_the_weights_and_used_by_the_pipeline(tmp_path):
    model = tiny_model()
    model.match_distance = {"distance": 0.31, "false_match_rate": 0.01,
                            "true_match_rate": 0.9, "split": "training"}
    path = save_reid(tmp_path / "reid.pt", model)
    assert load_reid(path).match_distance["distance"] == 0.31
    slim = save_reid_for_inference(path, tmp_path / "slim.pt")
    assert load_reid(slim).match_distance["distance"] == 0.31
    params = {"device": "cpu", "external_detections": True, "reid.checkpoint": str(slim),
              "tracker.gallery_seconds": 30.0}
    pipeline = settings.pipeline_from_params(params)
    assert pipeline.tracker.gallery_thresh() == (0.31, "the Re-ID checkpoint")
    line = settings.describe_gallery(pipeline)
    assert "0.310" in line and "1 % false matches" in line and "training" in line
    off = settings.pipeline_from_params({**params, "tracker.gallery_thresh_from_reid": False,
                                         "tracker.gallery_thresh": 0.2})
    assert off.tracker.gallery_thresh() == (0.2, "tracker.gallery_thresh")
    # a runtime change of the tracker's parameters keeps the network's value
    pipeline.tracker.config = settings.tracker_config({"tracker.track_thresh": 0.7},
                                                      pipeline.tracker.config)
    assert pipeline.tracker.gallery_thresh()[0] == 0.31


def test_a_checkpoint_without_it_keeps_the_parameter_and_says_so(tmp_path):
    path = save_reid(tmp_path / "old.pt", tiny_model())
    pipeline = settings.pipeline_from_params({
        "device": "cpu", "external_detections": True, "reid.checkpoint": str(path),
        "tracker.gallery_seconds": 30.0, "tracker.gallery_thresh": 0.22})
    assert pipeline.tracker.gallery_thresh()[0] == 0.22
    assert "0.220 from tracker.gallery_thresh (the Re-ID checkpoint stores none)" in \
        settings.describe_gallery(pipeline)
    assert describe(None) == "none stored"


@pytest.mark.parametrize("bad", [{"distance": float("nan")}, {"distance": 3.0}, "0.3",
                                 {"distance": True}, {"thresh": 0.3}])
def test_a_malformed_value_is_refused_naming_the_file(tmp_path, bad):
    path = tmp_path / "bad.pt"
    save_reid(path, tiny_model())
    data = torch.load(path, weights_only=True)
    data["match_distance"] = bad
    torch.save(data, path)
    with pytest.raises(ValueError, match=r"bad\.pt: match_distance"):
        load_reid(path)


def test_exported_onnx_files_carry_it(tmp_path):
    pytest.importorskip("onnxruntime")
    from finetrack_ros.inference.export import export_reid
    from finetrack_ros.reid import FeatureExtractor

    model = tiny_model(num_classes=0)
    model.match_distance = {"distance": 0.27, "false_match_rate": 0.01}
    export_reid(model.eval(), tmp_path / "reid.onnx")
    extractor = FeatureExtractor.load(tmp_path / "reid.onnx", "cpu",
                                      inference=settings.inference_options(settings.nest(
                                          {**settings.defaults(), "backend": "onnxruntime"})))
    assert extractor.match_distance["distance"] == 0.27
