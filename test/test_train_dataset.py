"""Re-ID crops from MOT ground truth: filtering, identity labels, splits, cache, augmentation."""
from __future__ import annotations

import numpy as np
import pytest
from test_train_synthetic import PERSON_H, PERSON_W, make_synthetic_mot

from finetrack_ros.train.reid_dataset import (
    AugmentConfig,
    ReIDCropDataset,
    ReIDDataConfig,
    augment_crop,
    cache_dir_of,
    find_sequences,
    load_reid_splits,
)


def test_crops_keep_visible_pedestrians_with_ids_unique_across_sequences(tmp_path):
    make_synthetic_mot(tmp_path / "data", num_sequences=2, num_frames=4, num_people=3)
    cfg = ReIDDataConfig(crop_height=32, crop_width=16, cache_dir=str(tmp_path / "cache"))
    train, val = load_reid_splits([tmp_path / "data"], cfg)
    # half split: frames 1-2 train, 3-4 val; 2 seqs x 3 people; distractor rows dropped
    assert len(train) == len(val) == 2 * 2 * 3
    assert train.identity_keys == [f"SYN-0{s}:{p}" for s in range(2) for p in (1, 2, 3)]
    assert train.num_identities == 6 and set(train.labels.tolist()) == set(range(6))
    assert set(train.frames.tolist()) == {1, 2} and set(val.frames.tolist()) == {3, 4}
    assert train.crops.shape == (12, 32, 16, 3) and train.crops.dtype == np.uint8
    # the crop shows the person's shirt (uniform colour), not the noisy background
    shirt = train.crops[0, 12:18, 5:11].reshape(-1, 3).astype(float)
    assert shirt.std(axis=0).max() < 20


def test_split_by_sequence_and_bad_names(tmp_path):
    make_synthetic_mot(tmp_path / "data", num_sequences=2, num_frames=2, num_people=2)
    cfg = ReIDDataConfig(crop_height=16, crop_width=8, split="sequence",
                         val_sequences=["SYN-01"], cache_dir=str(tmp_path / "cache"))
    train, val = load_reid_splits([tmp_path / "data" / "SYN-00", tmp_path / "data" / "SYN-01"], cfg)
    assert {k.split(":")[0] for k in train.identity_keys} == {"SYN-00"}
    assert {k.split(":")[0] for k in val.identity_keys} == {"SYN-01"}
    cfg.val_sequences = ["NOPE"]
    with pytest.raises(ValueError, match="val_sequences"):
        load_reid_splits([tmp_path / "data"], cfg)
    with pytest.raises(FileNotFoundError, match="missing-dir"):
        find_sequences([tmp_path / "missing-dir"])
    with pytest.raises(ValueError, match="data.split"):
        ReIDDataConfig(split="thirds")


def test_cache_is_reused_and_invalidated_by_gt_changes(tmp_path):
    (seq,) = make_synthetic_mot(tmp_path / "data", num_sequences=1, num_frames=2, num_people=2)
    cfg = ReIDDataConfig(crop_height=16, crop_width=8, split="none",
                         cache_dir=str(tmp_path / "cache"))
    first, _ = load_reid_splits([seq], cfg)
    files = list(cache_dir_of(cfg).glob("*.npz"))
    assert len(files) == 1
    (seq / "img1" / "000001.jpg").unlink()  # a cache hit must not need the images
    again, _ = load_reid_splits([seq], cfg)
    np.testing.assert_array_equal(first.crops, again.crops)
    gt = seq / "gt" / "gt.txt"
    gt.write_text(gt.read_text().replace("1,1,", "1,7,", 1))  # edit an identity
    with pytest.raises(FileNotFoundError, match="000001.jpg"):
        load_reid_splits([seq], cfg)  # new hash -> re-cut -> needs the deleted frame


def test_augmentation_is_seeded_and_keeps_shape():
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, size=(PERSON_H, PERSON_W, 3), dtype=np.uint8)
    cfg = AugmentConfig(flip_prob=1.0, pad=0, erase_prob=0.0, jitter_prob=0.0)
    np.testing.assert_array_equal(augment_crop(crop, cfg, rng), crop[:, ::-1])
    full = AugmentConfig(flip_prob=0.5, pad=4, erase_prob=1.0, jitter_prob=1.0)
    a = augment_crop(crop, full, np.random.default_rng(5))
    b = augment_crop(crop, full, np.random.default_rng(5))
    assert a.shape == crop.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, crop)


def test_dataset_items_are_normalised_tensors(tmp_path):
    make_synthetic_mot(tmp_path / "data", num_sequences=1, num_frames=2, num_people=2)
    cfg = ReIDDataConfig(crop_height=32, crop_width=16, cache_dir=str(tmp_path / "cache"))
    train, _ = load_reid_splits([tmp_path / "data"], cfg)
    ds = ReIDCropDataset(train, AugmentConfig(), seed=1)
    image, label = ds[1]
    assert tuple(image.shape) == (3, 32, 16) and label == int(train.labels[1])
    assert abs(float(image.mean())) < 3.0
    again, _ = ds[1]
    assert bool((image == again).all())
    ds.set_epoch(1)
    assert not bool((ds[1][0] == image).all())


def test_real_mot17_mini_crops(shared_data, tmp_path):
    cfg = ReIDDataConfig(crop_height=64, crop_width=32, min_visibility=0.3,
                         cache_dir=str(tmp_path / "cache"))
    train, val = load_reid_splits([shared_data / "MOT17-mini" / "train"], cfg)
    assert len(train.sequence_names) == 7
    assert len(train) > 100 and len(val) > 100
    # identities are per sequence: MOT17-02:1 and MOT17-04:1 are different people
    assert len({k.split(":")[0] for k in train.identity_keys}) == 7
    assert train.crops.mean() > 20  # real pixels, not empty crops


def test_trainings_started_together_share_one_crop_cache(tmp_path, monkeypatch):
    """Two processes cutting the same crops at once (bench defaults --jobs 2, two seeds).

    The second process writes and renames its cache file while the first is between its
    write and its rename; both must load, and one cache file remains.
    """
    import os

    from finetrack_ros.train import reid_dataset

    (seq,) = make_synthetic_mot(tmp_path / "data", num_sequences=1, num_frames=2, num_people=2)
    cfg = ReIDDataConfig(crop_height=16, crop_width=8, split="none",
                         cache_dir=str(tmp_path / "cache"))
    real_savez, real_getpid = np.savez, os.getpid
    other_done = []

    def savez_then_the_other_process(path, **arrays):
        real_savez(path, **arrays)
        if not other_done:  # the other training, from its own pid, finishes in between
            other_done.append(True)
            monkeypatch.setattr(os, "getpid", lambda: real_getpid() + 1)
            other_done.append(reid_dataset.load_sequence_crops(seq, cfg))
            monkeypatch.setattr(os, "getpid", real_getpid)

    monkeypatch.setattr(reid_dataset.np, "savez", savez_then_the_other_process)
    first = reid_dataset.load_sequence_crops(seq, cfg)
    np.testing.assert_array_equal(first.crops, other_done[1].crops)
    assert [f.suffixes for f in cache_dir_of(cfg).iterdir()] == [[".npz"]]  # no tmp left
