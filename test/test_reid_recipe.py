"""``config/reid_tiny_cpu.yaml``, docs/identity.md's real-camera recipe, is what it says it is.

Its header: reid_small.yaml with the tiny network, every frame training, 200 iterations, on
the CPU. The PETS09 tests and ``finetrack bench defaults`` train with it.
"""
from __future__ import annotations

from finetrack_ros.train.reid_config import load_train_config

# the recipe's stated difference from reid_small.yaml
TINY_CPU_CHANGES = ["model.preset=tiny", "data.split=none", "epochs=1000", "max_iters=200",
                    "device=cpu"]


def test_recipe_config_is_reid_small_with_the_stated_changes(repo_root):
    recipe = load_train_config(repo_root / "config" / "reid_tiny_cpu.yaml")
    stated = load_train_config(repo_root / "config" / "reid_small.yaml", TINY_CPU_CHANGES)
    assert recipe.to_dict() == stated.to_dict()
