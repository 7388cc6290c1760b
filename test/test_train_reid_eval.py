"""Rank-1 / mAP by hand; train + eval on real MOT17-mini; L_div alone on the real net; CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_train_synthetic import make_synthetic_mot

from finetrack_ros.cli import main
from finetrack_ros.train.reid_config import load_train_config
from finetrack_ros.train.reid_eval import average_precision, retrieval_metrics
from finetrack_ros.train.reid_trainer import ReIDTrainer

torch.set_num_threads(1)

TINY = ["model.crop_size=[64, 32]", "sampler.batch_size=16", "optim.warmup_iters=0",
        "optim.lr=0.003", "device=cpu", "augment.erase_prob=0.0"]


def test_average_precision_by_hand():
    assert average_precision(np.array([False, True, False, True])) == pytest.approx(0.5)
    assert average_precision(np.array([True, False, False])) == pytest.approx(1.0)
    assert average_precision(np.array([False, False])) == 0.0


def test_rank1_and_map_by_hand():
    # (sequence, frame, identity, embedding); identity 2 has no positive -> never a query
    rows = [(0, 1, 0, (1.0, 0.0)), (0, 1, 1, (0.0, 1.0)), (0, 2, 0, (0.28, 0.96)),
            (0, 2, 1, (0.8, 0.6)), (1, 1, 2, (0.96, 0.28)), (0, 3, 0, (1.0, 0.0))]
    seqs, frames, labels, emb = (np.array(col) for col in zip(*rows))
    result = retrieval_metrics(emb, labels, seqs, frames)
    # per query (cosine ranking of the other frames' crops):
    #   q0: 5(A) 4 3 2(A) -> r1 1, AP (1 + 2/4)/2;  q1: 2 3(B) 4 5 -> 0, 1/2
    #   q2: 1 4 0(A) 5(A) -> 0, (1/3 + 2/4)/2;      q3: 4 {0,5} 1(B) -> 0, 1/4
    #   q5: 0(A) 4 3 2(A) 1 -> 1, (1 + 2/4)/2
    aps = [0.75, 0.5, (1 / 3 + 0.5) / 2, 0.25, 0.75]
    assert result["num_queries"] == 5
    assert result["rank1"] == pytest.approx(2 / 5)
    assert result["mAP"] == pytest.approx(np.mean(aps))


def test_same_frame_crops_are_not_in_the_gallery():
    emb = np.array([[1.0, 0.0], [1.0, 0.0]])
    result = retrieval_metrics(emb, np.array([0, 0]), np.array([0, 0]), np.array([1, 1]))
    assert result["num_queries"] == 0


@pytest.mark.slow
def test_train_and_eval_on_real_mot17_mini(repo_root, shared_data, tmp_path):
    cfg = load_train_config(repo_root / "config" / "reid_small.yaml",
                            TINY + ["epochs=8", f"data.cache_dir={tmp_path / 'cache'}"])
    sequences = [shared_data / "MOT17-mini" / "train" / f"MOT17-{n}-FRCNN" for n in ("05", "09")]
    trainer = ReIDTrainer(cfg, sequences, tmp_path / "run")
    trainer.fit()
    epochs = [e["total"] for e in trainer.epoch_log]
    assert len(epochs) == 8 and trainer.train_split.num_identities > 5
    assert np.mean(epochs[-2:]) < 0.8 * np.mean(epochs[:2]), epochs
    held_out = trainer.epoch_log[-1]
    assert held_out["num_queries"] > 0 and 0.0 < held_out["mAP"] <= 1.0


@pytest.mark.slow
def test_diversity_loss_alone_decorrelates_the_real_parts(repo_root, tmp_path):
    make_synthetic_mot(tmp_path / "data", num_sequences=2, num_frames=6, num_people=4)
    cfg = load_train_config(repo_root / "config" / "reid_small.yaml",
                            TINY + ["epochs=4", "loss.alpha=0.0", "loss.beta=0.0", "loss.gamma=1.0",
                                    f"data.cache_dir={tmp_path / 'cache'}"])
    trainer = ReIDTrainer(cfg, [tmp_path / "data"], tmp_path / "run")
    trainer.fit()
    diversity = [e["diversity"] for e in trainer.epoch_log]
    k = trainer.model.config.num_parts
    assert diversity[-1] < diversity[0] - 0.03, diversity
    assert diversity[-1] >= -1.0 / (k - 1) - 1e-6  # the bound for K unit vectors


def test_cli_train_then_eval(repo_root, tmp_path, capsys):
    make_synthetic_mot(tmp_path / "data", num_sequences=2, num_frames=4, num_people=3)
    out = tmp_path / "run"
    sets = [a for item in TINY + ["max_iters=2", f"data.cache_dir={tmp_path / 'cache'}"]
            for a in ("--set", item)]
    code = main(["train-reid", "--data", str(tmp_path / "data"), "--out", str(out),
                 "--config", str(repo_root / "config" / "reid_small.yaml"), *sets])
    assert code == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert trained["steps"] == 2
    results = []
    for ckpt in ("last.pt", "reid.pt"):
        assert main(["eval-reid", "--data", str(tmp_path / "data"), "--ckpt", str(out / ckpt),
                     "--set", f"data.cache_dir={tmp_path / 'cache'}"]) == 0
        results.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert results[0]["num_queries"] == results[1]["num_queries"] > 0
    assert results[0]["mAP"] == pytest.approx(results[1]["mAP"])  # same weights, two formats


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    assert main(["train-reid", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["eval-reid", "--data", str(tmp_path), "--ckpt", str(tmp_path / "x.pt")]) == 2
    assert "x.pt" in capsys.readouterr().err
