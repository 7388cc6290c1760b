"""``config/reid_tiny_cpu.yaml``, docs/identity.md's real-camera recipe, is the measured training.

The PETS09 test and ``finetrack bench identity`` train with reid_small.yaml and overrides.
"""
from __future__ import annotations

from test_reid_beats_iou_pets09 import TRAIN_SETTINGS

from finetrack_ros.train.reid_config import load_train_config


def test_recipe_config_is_the_measured_training(repo_root):
    recipe = load_train_config(repo_root / "config" / "reid_tiny_cpu.yaml")
    measured = load_train_config(repo_root / "config" / "reid_small.yaml", TRAIN_SETTINGS)
    assert recipe.to_dict() == measured.to_dict()
