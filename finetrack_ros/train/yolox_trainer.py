"""YOLOX detector training on MOTChallenge-layout sequences (e.g. ``finetrack sim`` output).

One :class:`DetectorTrainer` trains one model into an output folder::

    out/
      detector_last.pth   {"model": state_dict, "size", "num_classes", "input_size",
                           "raw_bgr", "iteration", "config"}: the official YOLOX/ByteTrack
                           layout, so ``YOLOXDetector(checkpoint=...)`` loads it
      log.csv             iteration, lr, loss terms, foreground anchors per image

Recipe: AdamW with linear warm-up then cosine decay (converges in a few thousand
iterations on CPU, where YOLOX's 300-epoch SGD schedule is out of reach), YOLOX loss with
SimOTA (:mod:`finetrack_ros.train.yolox_loss`), flip + scale jitter, inputs normalised the
ByteTrack way (``raw_bgr=False``), BatchNorm in training mode.
"""
from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from finetrack_ros.detector import build_yolox, load_yolox_weights
from finetrack_ros.detector.checkpoint import save_yolox_checkpoint
from finetrack_ros.detector.preprocess import to_input_tensor
from finetrack_ros.progress import progress_bar
from finetrack_ros.train.yolox_data import (
    AugmentConfig,
    FrameSample,
    augment,
    load_sequence_samples,
)
from finetrack_ros.train.yolox_loss import YOLOXLossConfig, yolox_loss

CHECKPOINT_NAME = "detector_last.pth"
LOG_TERMS = ("total", "iou", "obj", "cls")


@dataclass
class DetectorTrainConfig:
    """One detector training run.

    Attributes:
        model_size: YOLOX size (nano, tiny, s, ...).
        num_classes: detector classes (1 = person).
        input_size: (H, W) network input while training, multiples of 32; use the same
            (or a similar) size at inference.
        batch_size: images per iteration.
        iterations: optimiser steps.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay (not applied to BatchNorm and biases).
        warmup_iterations: linear lr warm-up from 0.
        min_lr_ratio: cosine decay ends at ``lr · min_lr_ratio``.
        min_visibility: GT boxes below this visibility are not targets (0..1).
        seed: seeds sampling, augmentation and initialisation.
        threads: torch CPU threads (keep low on shared machines).
        checkpoint_every: write the checkpoint every this many iterations (and at the end).
        fp16_checkpoint: store float weights as float16 (half the file size).
        augment: augmentation settings.
        loss: loss weights and SimOTA settings.
    """

    model_size: str = "nano"
    num_classes: int = 1
    input_size: tuple[int, int] = (384, 512)
    batch_size: int = 8
    iterations: int = 2000
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup_iterations: int = 100
    min_lr_ratio: float = 0.05
    min_visibility: float = 0.1
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 250
    fp16_checkpoint: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: YOLOXLossConfig = field(default_factory=YOLOXLossConfig)

    def __post_init__(self) -> None:
        h, w = self.input_size
        if h <= 0 or w <= 0 or h % 32 or w % 32:
            raise ValueError(f"input_size (H, W) must be positive multiples of 32, got "
                             f"{tuple(self.input_size)}")
        if self.batch_size < 1 or self.iterations < 1:
            raise ValueError(f"batch_size and iterations must be >= 1, got "
                             f"{self.batch_size}, {self.iterations}")


def learning_rate(config: DetectorTrainConfig, iteration: int) -> float:
    """Warm-up then cosine lr at a 0-based ``iteration``."""
    if iteration < config.warmup_iterations:
        return config.lr * (iteration + 1) / config.warmup_iterations
    span = max(config.iterations - config.warmup_iterations, 1)
    progress = min((iteration - config.warmup_iterations) / span, 1.0)
    low = config.lr * config.min_lr_ratio
    return low + 0.5 * (config.lr - low) * (1 + math.cos(math.pi * progress))


def save_detector_checkpoint(path: str | Path, model: torch.nn.Module,
                             config: DetectorTrainConfig, iteration: int) -> Path:
    """Write ``{"model": state_dict, ...}`` (YOLOX layout) plus how it was trained."""
    meta = asdict(config)
    meta["input_size"] = list(config.input_size)
    # the synthetic scenes have one class, person (sim's MOT class 1)
    names = ["person"] if config.num_classes == 1 else []
    return save_yolox_checkpoint(path, model, config.model_size, names,
                                 list(config.input_size), raw_bgr=False,
                                 half=config.fp16_checkpoint,
                                 extra={"iteration": iteration, "config": _plain(meta)})


def _plain(value):
    """Config dict with tuples turned into lists (loadable with ``weights_only=True``)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class DetectorTrainer:
    """Trains a YOLOX model on frames of MOT sequences.

    Args:
        config: the run.
        sequences: sequence folders (MOT layout with ``gt/gt.txt``).
        init: optional checkpoint to start from (same size and classes).
    """

    def __init__(self, config: DetectorTrainConfig, sequences: Sequence[str | Path],
                 init: str | Path | None = None) -> None:
        if not sequences:
            raise ValueError("train-detector: no training sequences given (--data)")
        self.config = config
        torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.samples: list[FrameSample] = []
        for seq in sequences:
            self.samples += load_sequence_samples(seq, config.min_visibility)
        self.model = build_yolox(config.model_size, config.num_classes)
        if init is not None:
            load_yolox_weights(self.model, init, config.model_size)
        decay, no_decay = [], []
        for param in self.model.parameters():
            (no_decay if param.ndim <= 1 else decay).append(param)
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
        self.iteration = 0

    def batch(self) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Draw a random augmented batch: inputs (B, 3, H, W) and per-image (boxes, classes)."""
        picks = self.rng.integers(len(self.samples), size=self.config.batch_size)
        images, targets = [], []
        for index in picks:
            sample = self.samples[int(index)]
            image = cv2.imread(str(sample.image_path))
            if image is None:
                raise ValueError(f"train-detector: cannot read image {sample.image_path}")
            canvas, boxes = augment(image, sample.boxes_xyxy, self.config.input_size,
                                    self.config.augment, self.rng)
            images.append(to_input_tensor(canvas, raw_bgr=False))
            targets.append((torch.from_numpy(boxes),
                            torch.zeros(len(boxes), dtype=torch.long)))
        return torch.cat(images), targets

    def step(self, images: torch.Tensor, targets) -> dict[str, float]:
        """One optimiser step on a batch; returns the loss terms as floats."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.config, self.iteration)
        self.model.train()
        losses = yolox_loss(self.model(images), self.model.head.strides, targets,
                            self.config.loss)
        self.optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
        self.optimizer.step()
        self.iteration += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    def train(self, out_dir: str | Path, progress: bool = True) -> Path:
        """Run all iterations, logging to ``log.csv``; returns the checkpoint path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        checkpoint = out / CHECKPOINT_NAME
        with open(out / "log.csv", "w", newline="") as handle:
            log = csv.writer(handle)
            log.writerow(["iteration", "lr", *LOG_TERMS, "fg_per_image"])
            bar = progress_bar(range(self.iteration, self.config.iterations), desc="train-detector",
                       disable=not progress)
            for _ in bar:
                terms = self.step(*self.batch())
                lr = self.optimizer.param_groups[0]["lr"]
                log.writerow([self.iteration, f"{lr:.6g}"]
                             + [f"{terms[k]:.5f}" for k in LOG_TERMS]
                             + [f"{terms['num_fg'] / self.config.batch_size:.2f}"])
                bar.set_postfix(loss=f"{terms['total']:.3f}")
                if self.iteration % self.config.checkpoint_every == 0:
                    handle.flush()
                    save_detector_checkpoint(checkpoint, self.model, self.config,
                                             self.iteration)
        return save_detector_checkpoint(checkpoint, self.model, self.config, self.iteration)
