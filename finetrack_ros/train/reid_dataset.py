"""Re-ID training data cut from MOTChallenge ground truth.

A sequence directory holds ``seqinfo.ini`` (optional), ``img1/NNNNNN.jpg`` and ``gt/gt.txt``
in the MOT16+ layout ``frame, id, x, y, w, h, conf, class, visibility`` or the 2DMOT2015
layout ``frame, id, x, y, w, h, flag, wx, wy, wz`` (told apart by ``reid_gt``; each sequence
prints which layout it was read as). Crops of visible pedestrians (class 1, conf 1,
visibility >= a threshold; 2DMOT2015: flag != 0) are cut once per sequence and cached as
``.npz`` keyed by the SHA-1 of the GT file and the crop settings, so a changed annotation
file or crop size re-cuts and an unchanged one is read back in milliseconds.

Identities are keyed ``"<sequence>:<track id>"`` so they are unique across sequences; each
split maps its keys to contiguous labels ``0..C-1``.
"""
from __future__ import annotations

import configparser
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from finetrack_ros.progress import progress_bar
from finetrack_ros.train.reid_gt import GT_FRAME, GT_H, GT_ID, GT_X, GtReport, read_reid_gt

CACHE_VERSION = 3  # bump when the cached crop layout changes
SPLITS = ("half", "sequence", "none")
# ImageNet statistics of RGB pixels scaled to [0, 1]; the network's ReIDConfig overrides them.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


@dataclass
class ReIDDataConfig:
    """Which crops are cut from MOT ground truth and how they are split.

    Attributes:
        crop_height: crop height in pixels after resizing (the network's input height).
        crop_width: crop width in pixels after resizing.
        min_visibility: keep boxes with GT visibility >= this (0..1); raise it for cleaner crops.
        min_height: keep boxes at least this many pixels tall in the original frame.
        split: ``half`` = first half of each sequence's frames trains, second half validates
            (the MOT17 "half" protocol); ``sequence`` = ``val_sequences`` validate;
            ``none`` = everything trains, val is empty.
        val_sequences: sequence names held out when ``split == "sequence"``.
        cache_dir: where cut crops are cached; ``None`` = ``~/.cache/finetrack_ros``.
    """

    crop_height: int = 128
    crop_width: int = 64
    min_visibility: float = 0.25
    min_height: float = 16.0
    split: str = "half"
    val_sequences: list[str] = field(default_factory=list)
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"data.split: expected one of {SPLITS}, got {self.split!r}")
        if self.crop_height < 8 or self.crop_width < 8:
            raise ValueError(
                f"data.crop_height/crop_width: need >= 8 pixels, got "
                f"{self.crop_height}x{self.crop_width}"
            )


@dataclass
class SequenceCrops:
    """All crops of one sequence.

    ``crops`` (M, H, W, 3) uint8 RGB, ``frames`` (M,) int64 1-based, ``track_ids`` (M,)
    int64, ``seq_length`` frames in the sequence, ``gt_report`` how gt.txt was read (layout,
    rows each filter removed).
    """

    name: str
    crops: np.ndarray
    frames: np.ndarray
    track_ids: np.ndarray
    seq_length: int
    gt_report: GtReport


@dataclass
class ReIDSplit:
    """One split, rows sorted by (sequence, frame, track id).

    Attributes:
        crops: (M, H, W, 3) uint8 RGB.
        labels: (M,) int64 contiguous identity labels 0..C-1 of this split.
        sequences: (M,) int64 index into ``sequence_names``.
        frames: (M,) int64 1-based frame numbers.
        identity_keys: C strings ``"<sequence>:<track id>"``, label -> identity.
        sequence_names: names of the sequences the rows come from.
    """

    crops: np.ndarray
    labels: np.ndarray
    sequences: np.ndarray
    frames: np.ndarray
    identity_keys: list[str]
    sequence_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_identities(self) -> int:
        return len(self.identity_keys)


def find_sequences(paths: list[str | Path]) -> list[Path]:
    """Sequence directories (holding ``gt/gt.txt``) under each path, sorted by name.

    A path may be a sequence directory, a split directory (``MOT17/train``) or a dataset root
    whose sub-directories contain sequences (``MOT17``).
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"--data: {path} does not exist")
        if (path / "gt" / "gt.txt").is_file():
            found.append(path)
            continue
        gts = sorted(path.glob("gt/gt.txt")) + sorted(path.glob("*/gt/gt.txt"))
        gts += sorted(path.glob("*/*/gt/gt.txt"))
        if not gts:
            raise FileNotFoundError(f"--data: no MOT sequence (gt/gt.txt) found under {path}")
        found.extend(gt.parent.parent for gt in gts)
    unique = sorted(set(found), key=lambda p: (p.name, str(p)))
    names = [p.name for p in unique]
    if len(set(names)) != len(names):
        raise ValueError(f"--data: sequence names must be unique, got {names}")
    return unique


def read_seqinfo(seq_dir: Path) -> dict[str, str]:
    """``[Sequence]`` section of ``seqinfo.ini`` (empty dict when the file is absent)."""
    ini = seq_dir / "seqinfo.ini"
    if not ini.is_file():
        return {}
    parser = configparser.ConfigParser()
    parser.read(ini)
    return dict(parser["Sequence"]) if parser.has_section("Sequence") else {}


def _cache_key(gt_path: Path, cfg: ReIDDataConfig) -> str:
    digest = hashlib.sha1(gt_path.read_bytes())
    digest.update(
        f"v{CACHE_VERSION}:{cfg.crop_height}x{cfg.crop_width}:"
        f"{cfg.min_visibility}:{cfg.min_height}".encode()
    )
    return digest.hexdigest()[:20]


def cache_dir_of(cfg: ReIDDataConfig) -> Path:
    """Return the crop cache directory (created on first use)."""
    if cfg.cache_dir:
        return Path(cfg.cache_dir).expanduser()
    return Path.home() / ".cache" / "finetrack_ros"


def _crop_box(image: np.ndarray, tlwh: np.ndarray, crop_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resample of a tlwh box to ``crop_hw``: (H, W, 3) uint8 BGR.

    Same geometry as the inference crops of ``finetrack_ros.reid.crops`` (half-pixel
    centres, no clipping): box parts outside the image read the ImageNet mean colour, which
    is zero after normalisation, as there.
    """
    x, y, w, h = (float(v) for v in tlwh)
    crop_h, crop_w = crop_hw
    sx, sy = w / crop_w, h / crop_h
    # dst (u, v) -> src (x + (u + 0.5) sx - 0.5, y + (v + 0.5) sy - 0.5)
    affine = np.array([[sx, 0.0, x + 0.5 * sx - 0.5], [0.0, sy, y + 0.5 * sy - 0.5]])
    fill = tuple(float(255.0 * m) for m in IMAGENET_MEAN_RGB[::-1])  # BGR
    return cv2.warpAffine(image, affine, (crop_w, crop_h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def _cut_crops(seq_dir: Path, rows: np.ndarray, cfg: ReIDDataConfig) -> np.ndarray:
    """Cut and resize the boxes of ``rows`` from ``img1/``: (R, H, W, 3) uint8 RGB."""
    info = read_seqinfo(seq_dir)
    img_dir, ext = seq_dir / info.get("imdir", "img1"), info.get("imext", ".jpg")
    crops = np.zeros((len(rows), cfg.crop_height, cfg.crop_width, 3), np.uint8)
    frames = np.unique(rows[:, GT_FRAME]).astype(int)
    for frame in progress_bar(frames, desc=f"crops {seq_dir.name}", leave=False, unit="frame"):
        image_path = img_dir / f"{frame:06d}{ext}"
        image = cv2.imread(str(image_path))
        if image is None:
            raise FileNotFoundError(f"{seq_dir}: frame {frame} listed in gt.txt, "
                                    f"but {image_path} is missing or unreadable")
        for r in np.flatnonzero(rows[:, GT_FRAME] == frame):
            patch = _crop_box(image, rows[r, GT_X:GT_H + 1], (cfg.crop_height, cfg.crop_width))
            crops[r] = patch[:, :, ::-1]
    return crops


def load_sequence_crops(seq_dir: Path, cfg: ReIDDataConfig) -> SequenceCrops:
    """Crops of one sequence, from the cache when the GT file is unchanged."""
    gt_path = seq_dir / "gt" / "gt.txt"
    if not gt_path.is_file():
        raise FileNotFoundError(f"{seq_dir}: no gt/gt.txt")
    cache = cache_dir_of(cfg) / f"reid-{seq_dir.name}-{_cache_key(gt_path, cfg)}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            report = GtReport.from_json(str(data["gt_report"]))
            report.path = str(gt_path)  # the same file content may have been cut elsewhere
            return SequenceCrops(seq_dir.name, data["crops"], data["frames"],
                                 data["track_ids"], int(data["seq_length"]), report)
    rows, report = read_reid_gt(gt_path, cfg.min_visibility, cfg.min_height)
    crops = _cut_crops(seq_dir, rows, cfg)
    info_length = int(read_seqinfo(seq_dir).get("seqlength", 0))
    seq_length = max(info_length, int(rows[:, GT_FRAME].max()) if len(rows) else 0)
    result = SequenceCrops(seq_dir.name, crops, rows[:, GT_FRAME].astype(np.int64),
                           rows[:, GT_ID].astype(np.int64), seq_length, report)
    cache.parent.mkdir(parents=True, exist_ok=True)
    # a temporary name of this process's own: trainings started together (bench defaults
    # --jobs 2, two seeds of one split) each write the same crops, and the last rename wins
    tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, crops=result.crops, frames=result.frames, track_ids=result.track_ids,
                 seq_length=seq_length, gt_report=np.array(report.to_json()))
        tmp.replace(cache)  # atomic: a concurrent reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return result


def _in_train(seq: SequenceCrops, cfg: ReIDDataConfig) -> np.ndarray:
    """(M,) bool: which crops of ``seq`` belong to the train split."""
    if cfg.split == "half":
        return seq.frames <= (seq.seq_length + 1) // 2
    if cfg.split == "sequence":
        held_out = seq.name in cfg.val_sequences
        return np.full(len(seq.frames), not held_out)
    return np.ones(len(seq.frames), bool)


def _make_split(parts: list[tuple[int, SequenceCrops, np.ndarray]],
                names: list[str], cfg: ReIDDataConfig) -> ReIDSplit:
    keys = [f"{seq.name}:{tid}" for _, seq, keep in parts for tid in seq.track_ids[keep]]
    identity_keys = sorted(set(keys), key=lambda k: (k.rsplit(":", 1)[0], int(k.rsplit(":", 1)[1])))
    label_of = {key: i for i, key in enumerate(identity_keys)}
    empty = np.zeros((0, cfg.crop_height, cfg.crop_width, 3), np.uint8)
    crops = [seq.crops[keep] for _, seq, keep in parts] or [empty]
    return ReIDSplit(
        crops=np.concatenate(crops),
        labels=np.array([label_of[k] for k in keys], np.int64),
        sequences=np.concatenate([np.full(keep.sum(), i, np.int64) for i, _, keep in parts]
                                 or [np.zeros(0, np.int64)]),
        frames=np.concatenate([seq.frames[keep] for _, seq, keep in parts]
                              or [np.zeros(0, np.int64)]),
        identity_keys=identity_keys,
        sequence_names=names,
    )


def load_reid_splits(paths: list[str | Path], cfg: ReIDDataConfig) -> tuple[ReIDSplit, ReIDSplit]:
    """(train, val) splits of all sequences under ``paths`` (see ``find_sequences``)."""
    seq_dirs = find_sequences(paths)
    names = [d.name for d in seq_dirs]
    unknown = sorted(set(cfg.val_sequences) - set(names))
    if cfg.split == "sequence" and (unknown or not cfg.val_sequences):
        raise ValueError(f"data.val_sequences: {cfg.val_sequences} must name some of {names}")
    train_parts, val_parts = [], []
    for i, seq_dir in enumerate(seq_dirs):
        seq = load_sequence_crops(seq_dir, cfg)
        print(seq.gt_report.summary(), file=sys.stderr)
        in_train = _in_train(seq, cfg)
        train_parts.append((i, seq, in_train))
        val_parts.append((i, seq, ~in_train))
    train, val = _make_split(train_parts, names, cfg), _make_split(val_parts, names, cfg)
    if len(train) == 0:
        reports = "; ".join(
            f"{seq.gt_report.summary()}, {int(keep.sum())} of them in the train split"
            for _, seq, keep in train_parts)
        raise ValueError(f"--data: no training crops in {names} (data.split = "
                         f"{cfg.split!r}): {reports}")
    return train, val


@dataclass
class AugmentConfig:
    """Training augmentation of (H, W, 3) uint8 crops; set a probability to 0 to disable.

    Attributes:
        flip_prob: probability of a horizontal flip.
        pad: pixels of zero padding on each side before a random crop back to (H, W);
            0 disables. Simulates loose/tight detector boxes.
        erase_prob: probability of random erasing (one rectangle filled with noise),
            which simulates occlusion.
        erase_area: (min, max) erased fraction of the crop area.
        erase_min_aspect: min aspect ratio h/w of the erased rectangle (max is its inverse).
        jitter_prob: probability of colour jitter.
        brightness: max relative brightness change (0.2 = x0.8..x1.2).
        contrast: max relative contrast change around the mean grey level.
        saturation: max relative saturation change around the per-pixel grey level.
    """

    flip_prob: float = 0.5
    pad: int = 10
    erase_prob: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.4)
    erase_min_aspect: float = 0.3
    jitter_prob: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.15
    saturation: float = 0.1


def _pad_crop(crop: np.ndarray, pad: int, rng: np.random.Generator) -> np.ndarray:
    height, width = crop.shape[:2]
    padded = np.pad(crop, ((pad, pad), (pad, pad), (0, 0)))
    top, left = rng.integers(0, 2 * pad + 1, size=2)
    return padded[top:top + height, left:left + width]


def _color_jitter(crop: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    x = crop.astype(np.float32)
    x *= 1.0 + rng.uniform(-cfg.brightness, cfg.brightness)
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * (1.0 + rng.uniform(-cfg.saturation, cfg.saturation))
    mean = x.mean()
    x = mean + (x - mean) * (1.0 + rng.uniform(-cfg.contrast, cfg.contrast))
    return np.clip(x, 0, 255).astype(np.uint8)


def _random_erase(crop: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    height, width = crop.shape[:2]
    area = rng.uniform(*cfg.erase_area) * height * width
    log_aspect = rng.uniform(np.log(cfg.erase_min_aspect), -np.log(cfg.erase_min_aspect))
    h = int(round(np.sqrt(area * np.exp(log_aspect))))
    w = int(round(np.sqrt(area / np.exp(log_aspect))))
    h, w = min(max(h, 1), height), min(max(w, 1), width)
    top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    crop = crop.copy()
    crop[top:top + h, left:left + w] = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return crop


def augment_crop(crop: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Flip, pad + crop, colour jitter, random erasing: (H, W, 3) uint8 -> same shape."""
    if rng.random() < cfg.flip_prob:
        crop = crop[:, ::-1]
    if cfg.pad > 0:
        crop = _pad_crop(crop, cfg.pad, rng)
    if rng.random() < cfg.jitter_prob:
        crop = _color_jitter(crop, cfg, rng)
    if rng.random() < cfg.erase_prob:
        crop = _random_erase(crop, cfg, rng)
    return np.ascontiguousarray(crop)


class ReIDCropDataset:
    """Map-style dataset of a split: item -> (image (3, H, W) float32 normalised, label).

    Augmentation is seeded by (seed, epoch, index), so a batch is the same whichever worker
    builds it and a resumed run sees the same pixels as an uninterrupted one.
    Call ``set_epoch`` at the start of each epoch.
    """

    def __init__(self, split: ReIDSplit, augment: AugmentConfig | None, seed: int = 0,
                 mean: tuple[float, float, float] = IMAGENET_MEAN_RGB,
                 std: tuple[float, float, float] = IMAGENET_STD_RGB) -> None:
        self.split = split
        self.mean, self.std = mean, std
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int):
        import torch

        crop = self.split.crops[index]
        if self.augment is not None:
            rng = np.random.default_rng((self.seed, self.epoch, int(index)))
            crop = augment_crop(crop, self.augment, rng)
        image = normalize_crops(crop[None], self.mean, self.std)[0]  # (3, H, W)
        return torch.from_numpy(image), int(self.split.labels[index])


def normalize_crops(crops: np.ndarray, mean=IMAGENET_MEAN_RGB, std=IMAGENET_STD_RGB) -> np.ndarray:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32, ``(x / 255 - mean) / std``."""
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    x = (crops.astype(np.float32) / 255.0 - mean) / std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
