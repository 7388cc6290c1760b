"""YOLOX loss, SimOTA assignment and the detector trainer on a tiny generated scene."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from finetrack_ros.detector import YOLOXDetector, build_yolox
from finetrack_ros.sim import SceneConfig, write_sequence
from finetrack_ros.structures import Detections
from finetrack_ros.train.yolox_assign import simota_assign
from finetrack_ros.train.yolox_data import AugmentConfig, augment
from finetrack_ros.train.yolox_eval import FALSE_POSITIVE, IGNORED, TRUE_POSITIVE, match_frame
from finetrack_ros.train.yolox_trainer import DetectorTrainConfig, DetectorTrainer

NO_AUGMENT = AugmentConfig(flip_prob=0.0, scale_range=(1.0, 1.0), brightness=0.0)


def test_simota_picks_anchors_near_each_object_and_each_anchor_once():
    # a 4x4 grid of stride-8 anchors over a 32x32 input
    ys, xs = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    centres = (torch.stack([xs, ys], -1).reshape(-1, 2).float() + 0.5) * 8
    strides = torch.full((16,), 8.0)
    gt = torch.tensor([[8.0, 8.0, 14.0, 14.0], [24.0, 24.0, 14.0, 14.0]])  # cx, cy, w, h
    pred = torch.cat([centres, torch.full((16, 2), 14.0)], 1)  # boxes centred on anchors
    scores = torch.full((16, 1), 0.5)
    out = simota_assign(pred, scores, centres, strides, gt, torch.zeros(2, dtype=torch.long), 1)
    fg = out["foreground"].nonzero().flatten()
    assert len(fg) == len(out["matched_gt"]) >= 2
    for anchor, g in zip(fg.tolist(), out["matched_gt"].tolist()):
        assert (centres[anchor] - gt[g, :2]).abs().max() < 8  # the anchor sits on its object
    assert set(out["matched_gt"].tolist()) == {0, 1}


def test_augment_flip_mirrors_boxes():
    image = np.zeros((64, 96, 3), np.uint8)
    boxes = np.array([[10.0, 8.0, 30.0, 60.0]], np.float32)
    flip = AugmentConfig(flip_prob=1.0, scale_range=(1.0, 1.0), brightness=0.0)
    _, out = augment(image, boxes, (64, 96), flip, np.random.default_rng(0))
    np.testing.assert_allclose(out, [[66.0, 8.0, 86.0, 60.0]])


def test_match_frame_counts_hidden_people_as_neither_hit_nor_false_alarm():
    gt = np.array([[0, 0, 10, 20], [50, 0, 60, 20]], np.float32)
    required = np.array([True, False])
    det = Detections(np.array([[0, 0, 10, 20], [50, 0, 60, 20], [100, 100, 110, 120]]),
                     np.array([0.9, 0.8, 0.7]), np.zeros(3))
    assert match_frame(det, gt, required, 0.5).tolist() == [TRUE_POSITIVE, IGNORED,
                                                            FALSE_POSITIVE]


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory):
    config = SceneConfig(width=160, height=128, frames=4, people=4, seed=11)
    return write_sequence(tmp_path_factory.mktemp("det") / "tiny", config, progress=False)


def test_training_lowers_loss_and_checkpoint_loads_in_detector(tiny_scene, tmp_path):
    torch.manual_seed(0)
    config = DetectorTrainConfig(model_size="nano", input_size=(128, 160), batch_size=2,
                                 iterations=10, lr=5e-3, warmup_iterations=1, threads=1,
                                 augment=NO_AUGMENT, fp16_checkpoint=True)
    trainer = DetectorTrainer(config, [tiny_scene])
    images, targets = trainer.batch()
    assert sum(len(boxes) for boxes, _ in targets) > 0
    losses = [trainer.step(images, targets)["total"] for _ in range(config.iterations)]
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])
    path = trainer.train(tmp_path, progress=False)  # no steps left: just writes the file
    blob = torch.load(path, weights_only=True)
    assert blob["size"] == "nano" and blob["input_size"] == [128, 160]
    assert blob["model"]["head.cls_preds.0.weight"].dtype == torch.float16
    detector = YOLOXDetector(path, size="nano", input_size=(128, 160), conf=0.01)
    reference = build_yolox("nano", 1)
    reference.load_state_dict(trainer.model.state_dict())
    for name, value in detector.model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, reference.state_dict()[name].float(),
                                       atol=1e-2, rtol=1e-2)
    assert isinstance(detector(np.zeros((128, 160, 3), np.uint8)), Detections)


def test_cli_trains_writes_checkpoint_and_validation_metrics(tiny_scene, tmp_path):
    from finetrack_ros.cli import main

    out = tmp_path / "run"
    code = main(["train-detector", "--data", str(tiny_scene), "--out", str(out),
                 "--input-size", "128x160", "--iterations", "2", "--batch-size", "1",
                 "--val", str(tiny_scene), "--quiet"])
    assert code == 0
    assert (out / "detector_last.pth").is_file()
    metrics = (out / "val_metrics.json").read_text()
    assert '"recall"' in metrics and '"num_gt"' in metrics
    assert len((out / "log.csv").read_text().splitlines()) == 3  # header + 2 iterations
    bad = main(["train-detector", "--data", str(tmp_path / "missing"), "--out", str(out)])
    assert bad == 2
