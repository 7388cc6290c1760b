"""Training the small FineTrack Re-ID config: the loss falls, resume is exact, eval works."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_train_synthetic import make_synthetic_mot

from finetrack_ros.train.reid_config import load_train_config
from finetrack_ros.train.reid_trainer import ReIDTrainer, lr_factor

torch.set_num_threads(1)

# Tiny crops and batches so a step takes well under a second on one core.
TINY = ["model.crop_size=[64, 32]", "sampler.batch_size=16", "sampler.group_size=2",
        "optim.warmup_iters=0", "optim.lr=0.003", "eval_batch_size=64", "device=cpu"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn")
    make_synthetic_mot(root / "data", num_sequences=2, num_frames=6, num_people=4)
    return root


def _config(repo_root, cache, *extra):
    return load_train_config(repo_root / "config" / "reid_small.yaml",
                             TINY + [f"data.cache_dir={cache}", *extra])


@pytest.mark.slow
def test_loss_falls_on_self_made_crops(repo_root, synthetic, tmp_path):
    cfg = _config(repo_root, synthetic / "cache", "epochs=10", "augment.erase_prob=0.0")
    trainer = ReIDTrainer(cfg, [synthetic / "data"], tmp_path / "run")
    summary = trainer.fit()
    assert summary["steps"] == len(trainer.history) >= 10 and len(trainer.epoch_log) == 10
    epochs = trainer.epoch_log  # per-epoch means: the same crops each epoch, so comparable
    assert epochs[-1]["total"] < 0.8 * epochs[0]["total"], [e["total"] for e in epochs]
    for name in ("last.pt", "reid.pt", "log.csv", "summary.json", "loss_curves.png"):
        assert (tmp_path / "run" / name).is_file(), name
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert written["epochs"][-1]["num_queries"] > 0 and 0 <= written["epochs"][-1]["mAP"] <= 1
    assert len(written["identity_keys"]) == 8  # 2 sequences x 4 people
    # the take-back distance of the gallery, measured at training time, travels along
    from finetrack_ros.reid import load_reid

    stored = load_reid(tmp_path / "run" / "reid.pt").match_distance
    # reid_small.yaml holds people out for validation: measured on people never trained on
    assert stored == written["match_distance"] and stored["split"] == "validation"
    assert 0.0 < stored["distance"] < 2.0 and stored["same_pairs"] > 0


@pytest.mark.slow
def test_resume_continues_with_the_same_next_batch_loss(repo_root, synthetic, tmp_path):
    cfg_args = (repo_root, synthetic / "cache", "epochs=2")
    full = ReIDTrainer(_config(*cfg_args), [synthetic / "data"], tmp_path / "full")
    full.fit()
    assert full.iters_per_epoch >= 2  # so stopping at step 3 interrupts mid-epoch
    interrupted = ReIDTrainer(_config(*cfg_args), [synthetic / "data"], tmp_path / "resumed")
    interrupted.fit(stop_at_step=3)
    resumed = ReIDTrainer(_config(*cfg_args), [synthetic / "data"], tmp_path / "resumed",
                          resume=True)
    assert resumed.step == 3
    resumed.fit()

    def steps(t):
        return [(r["step"], r["total"], r["lr"]) for r in t.history]

    expected, got = steps(full), steps(resumed)
    assert [s for s, _, _ in got] == [s for s, _, _ in expected]
    np.testing.assert_allclose([v for _, v, _ in got], [v for _, v, _ in expected], rtol=1e-5)
    np.testing.assert_allclose([lr for *_, lr in got], [lr for *_, lr in expected])


def test_resume_rejects_a_different_identity_map(repo_root, synthetic, tmp_path):
    trainer = ReIDTrainer(_config(repo_root, synthetic / "cache", "max_iters=1"),
                          [synthetic / "data"], tmp_path / "run")
    trainer.fit()
    other = _config(repo_root, synthetic / "cache", "data.split=sequence",
                    "data.val_sequences=[SYN-01]")
    with pytest.raises(ValueError, match="identity map"):
        ReIDTrainer(other, [synthetic / "data"], tmp_path / "run", resume=True)


def test_schedule_warms_up_then_decays():
    cfg = load_train_config(None, ["optim.warmup_iters=10", "optim.warmup_factor=0.1",
                                   "optim.min_lr_factor=0.0"]).optim
    assert lr_factor(0, cfg, 110, 10) == pytest.approx(0.1)
    assert lr_factor(5, cfg, 110, 10) == pytest.approx(0.55)
    assert lr_factor(10, cfg, 110, 10) == pytest.approx(1.0)
    assert lr_factor(60, cfg, 110, 10) == pytest.approx(0.5)
    assert lr_factor(110, cfg, 110, 10) == pytest.approx(0.0, abs=1e-12)
    step = load_train_config(None, ["optim.scheduler=step", "optim.warmup_iters=0",
                                    "optim.step_epochs=[2, 4]"]).optim
    assert [lr_factor(s * 10, step, 100, 10) for s in (1, 2, 4)] == pytest.approx([1, 0.1, 0.01])


def test_config_errors_name_the_key(repo_root):
    with pytest.raises(ValueError, match="optim.lrr"):
        load_train_config(None, ["optim.lrr=1"])
    with pytest.raises(ValueError, match="sampler.kind"):
        from finetrack_ros.train.sampler import build_batch_sampler
        build_batch_sampler("magic", np.zeros(4), np.zeros(4), np.ones(4), 4, 1, 2, 0)
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_train_config(repo_root / "nope.yaml")
