"""``YOLOXDetector``: BGR frame in, :class:`~finetrack_ros.structures.Detections` out.

The one detector object the pipeline, the CLI and the benchmark use. ``.model`` is the plain
trainable :class:`~finetrack_ros.detector.yolox.YOLOX`; inference runs a private copy with
conv+BN fused, optionally fp16 (CUDA) and ``torch.compile``-d, built on first use. After
changing ``.model``'s weights (training), call :meth:`YOLOXDetector.refresh`.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from finetrack_ros.detector.blocks import fuse_conv_bn
from finetrack_ros.detector.checkpoint import (
    AUTO_SIZE,
    CheckpointInfo,
    load_state_dict_checked,
    read_checkpoint,
)
from finetrack_ros.detector.postprocess import PostprocessConfig, postprocess, unletterbox
from finetrack_ros.detector.preprocess import PreprocessConfig, preprocess
from finetrack_ros.detector.yolox import build_yolox
from finetrack_ros.structures import Detections


@dataclass(frozen=True)
class InferenceConfig:
    """How the network runs (not what it computes)."""

    device: str = "cpu"  # torch device string: "cpu", "cuda", "cuda:1"
    fp16: bool = False  # half precision weights and inputs; CUDA only
    fuse: bool = True  # fold BatchNorm into convs for inference (same outputs, faster)
    compile: bool = False  # torch.compile the inference copy (slow first call)


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that defines a :class:`YOLOXDetector` apart from its weights."""

    size: str = "s"  # nano, tiny, s, m, l, x
    num_classes: int = 1  # 1 for ByteTrack MOT checkpoints (person), 80 for COCO
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)


class YOLOXDetector:
    """YOLOX with ByteTrack's pre/post-processing.

    Args:
        checkpoint: path of a ByteTrack/YOLOX checkpoint, or None for random weights
            (smoke tests only; a warning is issued).
        size, num_classes: the architecture; must match the checkpoint. ``size="auto"``
            takes size and class count from the checkpoint (stored, or inferred from its
            weights) and ``raw_bgr`` too when the file stores it.
        input_size: (H, W) network input, multiples of 32.
        conf: minimum obj·cls score kept. nms: class-aware NMS IoU threshold.
        raw_bgr: True for official YOLOX >= 0.2 checkpoints (raw BGR 0..255 input).
        device, fp16, fuse, compile: see :class:`InferenceConfig`.

    ``detector(frame_bgr)`` with an (h, w, 3) uint8 BGR frame returns Detections with
    ``xyxy`` boxes in pixels of that frame, sorted by score.
    """

    def __init__(self, checkpoint: str | Path | None = None, size: str = "s",
                 num_classes: int = 1, input_size: tuple[int, int] = (608, 1088),
                 conf: float = 0.1, nms: float = 0.7, raw_bgr: bool = False,
                 device: str = "cpu", fp16: bool = False, fuse: bool = True,
                 compile: bool = False) -> None:
        state_dict, self.info = None, CheckpointInfo()
        if checkpoint is not None:
            state_dict, self.info = read_checkpoint(checkpoint)
        self.auto = size == AUTO_SIZE
        if self.auto:
            size, num_classes, raw_bgr = _auto_architecture(checkpoint, self.info,
                                                            num_classes, raw_bgr)
        config = DetectorConfig(
            size=size, num_classes=num_classes,
            preprocess=PreprocessConfig(input_size=tuple(input_size), raw_bgr=raw_bgr),
            postprocess=PostprocessConfig(conf=conf, nms=nms),
            inference=InferenceConfig(device=device, fp16=fp16, fuse=fuse, compile=compile),
        )
        self.config = config
        self.device = torch.device(device)
        if fp16 and self.device.type != "cuda":
            raise ValueError(f"fp16 needs a CUDA device, got device={device!r}")
        self.model = build_yolox(size, num_classes)
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        if checkpoint is None:
            warnings.warn("YOLOXDetector: no checkpoint given, using RANDOM weights",
                          stacklevel=2)
        else:
            load_state_dict_checked(self.model, state_dict, checkpoint, size, self.info)
        self.model.to(self.device).eval()
        self._runner: nn.Module | None = None

    def describe(self) -> str:
        """One line: architecture, input, normalisation, weights and where each came from."""
        config, info = self.config, self.info
        h, w = config.preprocess.input_size
        text = (f"YOLOX-{config.size}, {config.num_classes} classes, input {h}x{w}, "
                f"{'raw BGR' if config.preprocess.raw_bgr else 'ByteTrack'} normalisation")
        if self.checkpoint is None:
            return text + ", RANDOM weights"
        text += f", weights {self.checkpoint}"
        if self.auto:
            text += " (size auto: architecture read from the checkpoint)"
        if info.input_size is not None and tuple(info.input_size) != (h, w):
            text += f"; trained at input {info.input_size[0]}x{info.input_size[1]}"
        return text

    @property
    def dtype(self) -> torch.dtype:
        return torch.float16 if self.config.inference.fp16 else torch.float32

    def refresh(self) -> None:
        """Rebuild the inference copy from ``.model`` on the next call (after training)."""
        self._runner = None

    def inference_model(self) -> nn.Module:
        """Return the fused / fp16 / compiled eval-mode copy of ``.model`` used for inference."""
        if self._runner is None:
            options = self.config.inference
            runner = copy.deepcopy(self.model).eval()
            if options.fuse:
                fuse_conv_bn(runner)
            runner.to(self.device, self.dtype)
            if options.compile:
                runner = torch.compile(runner)
            self._runner = runner
        return self._runner

    def preprocess(self, frame_bgr: np.ndarray) -> tuple[torch.Tensor, float]:
        """Frame (h, w, 3) uint8 BGR → ((1, 3, H, W) input on the device, letterbox scale)."""
        return preprocess(frame_bgr, self.config.preprocess, self.device, self.dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) inputs → (B, A, 5 + C) decoded predictions (see YOLOXHead)."""
        model = self.inference_model()
        with torch.inference_mode():
            return model(images)

    def postprocess(self, predictions: torch.Tensor, ratio: float) -> Detections:
        """Turn (A, 5 + C) predictions of one image into Detections in original-image pixels."""
        with torch.inference_mode():
            boxes, scores, class_ids = postprocess(predictions, self.config.postprocess)
            boxes = unletterbox(boxes, ratio)
        return Detections(boxes.cpu().numpy(), scores.cpu().numpy(), class_ids.cpu().numpy())

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        images, ratio = self.preprocess(frame_bgr)
        return self.postprocess(self.forward(images)[0], ratio)


def _auto_architecture(checkpoint, info: CheckpointInfo, num_classes, raw_bgr
                       ) -> tuple[str, int, bool]:
    """(size, num_classes, raw_bgr) for ``size="auto"`` from the checkpoint's info."""
    if checkpoint is None:
        raise ValueError("detector.size: auto needs a checkpoint to read the size from; set "
                         "detector.size (nano, tiny, s, m, l, x) for random weights")
    if info.size is None:
        raise ValueError(f"detector.size: auto, but {checkpoint} neither stores its YOLOX size "
                         "nor has weights of a known size; set detector.size")
    classes = info.num_classes if info.num_classes is not None else num_classes
    return info.size, classes, raw_bgr if info.raw_bgr is None else info.raw_bgr
