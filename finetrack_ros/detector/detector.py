"""``YOLOXDetector``: BGR frame in, :class:`~finetrack_ros.structures.Detections` out.

The one detector object the pipeline, the CLI and the benchmark use. ``.model`` is the plain
trainable :class:`~finetrack_ros.detector.yolox.YOLOX` (None for an ``.onnx`` file);
inference runs a *runner* (:mod:`finetrack_ros.inference.runners`) built on first use: a conv+BN
fused copy in torch (fp32, bf16, fp16 on CUDA; ``torch.compile`` optional), or ONNX Runtime
(fp32, or an int8 file of ``finetrack export onnx --int8``). After changing ``.model``'s
weights (training), call :meth:`YOLOXDetector.refresh`.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from finetrack_ros.detector.blocks import fuse_conv_bn
from finetrack_ros.detector.checkpoint import (
    AUTO_SIZE,
    CheckpointInfo,
    load_state_dict_checked,
    read_checkpoint,
)
from finetrack_ros.detector.postprocess import PostprocessConfig, postprocess, unletterbox
from finetrack_ros.detector.preprocess import PreprocessConfig, preprocess
from finetrack_ros.detector.yolox import SIZES, build_yolox
from finetrack_ros.inference.options import InferenceOptions, is_onnx_path
from finetrack_ros.inference.options import describe as describe_inference
from finetrack_ros.inference.runners import (
    Runner,
    load_onnx_network,
    make_runner,
    runner_module,
)
from finetrack_ros.structures import Detections

# What an ONNX detector file stores of its configuration (``finetrack export onnx``).
ONNX_NETWORK = "detector"


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that defines a :class:`YOLOXDetector` apart from its weights."""

    size: str = "s"  # nano, tiny, s, m, l, x
    num_classes: int = 1  # 1 for ByteTrack MOT checkpoints (person), 80 for COCO
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    inference: InferenceOptions = field(default_factory=InferenceOptions)

    def onnx_metadata(self) -> dict:
        """Return the description an exported ONNX file carries (see ``inference``)."""
        return {"network": ONNX_NETWORK, "size": self.size, "num_classes": self.num_classes,
                "input_size": list(self.preprocess.input_size),
                "raw_bgr": self.preprocess.raw_bgr}


class YOLOXDetector:
    """YOLOX with ByteTrack's pre/post-processing.

    Args:
        checkpoint: path of a ByteTrack/YOLOX checkpoint, an ``.onnx`` file of ``finetrack
            export onnx`` (backend onnxruntime), or None for random weights (smoke tests
            only; a warning is issued).
        size, num_classes: the architecture; must match the checkpoint. ``size="auto"``
            takes size and class count from the checkpoint (stored, or inferred from its
            weights) and ``raw_bgr`` too when the file stores it. An ONNX file stores all
            three and its input size.
        input_size: (H, W) network input, multiples of 32; None with an ONNX file takes the
            file's; None with size auto: the input the checkpoint stores, else the size's
            test size.
        conf: minimum obj·cls score kept. nms: class-aware NMS IoU threshold.
        raw_bgr: True for official YOLOX >= 0.2 checkpoints (raw BGR 0..255 input).
        device, fuse, compile: see :class:`~finetrack_ros.inference.options.InferenceOptions`.
        inference: backend, precision and threads; its ``device``/``fuse``/``compile`` are
            replaced by the arguments above when given explicitly.

    ``detector(frame_bgr)`` with an (h, w, 3) uint8 BGR frame returns Detections with
    ``xyxy`` boxes in pixels of that frame, sorted by score.
    """

    def __init__(self, checkpoint: str | Path | None = None, size: str = "s",
                 num_classes: int = 1, input_size: tuple[int, int] | None = (608, 1088),
                 conf: float = 0.1, nms: float = 0.7, raw_bgr: bool = False,
                 device: str | None = None, fuse: bool | None = None,
                 compile: bool | None = None,
                 inference: InferenceOptions | None = None) -> None:
        explicit = {k: v for k, v in (("device", device), ("fuse", fuse),
                                      ("compile", compile)) if v is not None}
        options = dataclasses.replace(inference or InferenceOptions(), **explicit)
        self.device = torch.device(options.device)
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.model = None
        self._runner: Runner | None = None
        self.info = CheckpointInfo()
        self.auto = size == AUTO_SIZE
        if is_onnx_path(checkpoint):
            self._runner = load_onnx_network(checkpoint, ONNX_NETWORK, options,
                                             "detector.checkpoint")
            size, num_classes, raw_bgr, input_size = _onnx_architecture(
                checkpoint, self._runner.metadata, size, num_classes, input_size)
        else:
            state_dict = None
            if checkpoint is not None:
                state_dict, self.info = read_checkpoint(checkpoint)
            if self.auto:
                size, num_classes, raw_bgr = _auto_architecture(checkpoint, self.info,
                                                                num_classes, raw_bgr)
                # the input it was trained at, else the size's evaluation input
                input_size = input_size or self.info.input_size or SIZES[size].test_size
            if input_size is None:
                raise ValueError("detector.input_size: required for a .pth checkpoint")
            self.model = build_yolox(size, num_classes)
            if checkpoint is None:
                warnings.warn("YOLOXDetector: no checkpoint given, using RANDOM weights",
                              stacklevel=2)
            else:
                load_state_dict_checked(self.model, state_dict, checkpoint, size, self.info)
            self.model.to(self.device).eval()
        self.config = DetectorConfig(
            size=size, num_classes=num_classes,
            preprocess=PreprocessConfig(input_size=tuple(input_size), raw_bgr=raw_bgr),
            postprocess=PostprocessConfig(conf=conf, nms=nms),
            inference=options,
        )
        self.runner  # built now: a backend that cannot load fails here, not on a frame

    def describe(self) -> str:
        """One line: architecture, input, normalisation, weights and where each came from."""
        config, info = self.config, self.info
        h, w = config.preprocess.input_size
        text = (f"YOLOX-{config.size}, {config.num_classes} classes, input {h}x{w}, "
                f"{'raw BGR' if config.preprocess.raw_bgr else 'ByteTrack'} normalisation, "
                f"{describe_inference(config.inference)}")
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
        """Dtype of the preprocessed input (the runner casts it as its network needs)."""
        options = self.config.inference
        return options.torch_dtype if options.backend == "torch" else torch.float32

    def refresh(self) -> None:
        """Rebuild the inference copy from ``.model`` on the next call (after training)."""
        if self.model is not None:
            self._runner = None

    @property
    def runner(self) -> Runner:
        """The callable that runs the network: ``(B, 3, H, W) → ((B, A, 5 + C),)``."""
        if self._runner is None:
            options = self.config.inference
            fuse = options.fuse and options.backend == "torch"  # ONNX Runtime fuses by itself
            model = runner_module(self.model, options, fuse).eval()
            if fuse:
                fuse_conv_bn(model)
            example = torch.zeros(1, 3, *self.config.preprocess.input_size)
            self._runner = make_runner(model, options, example, "images", ("predictions",),
                                       "detector.checkpoint")
        return self._runner

    def preprocess(self, frame_bgr: np.ndarray) -> tuple[torch.Tensor, float]:
        """Frame (h, w, 3) uint8 BGR → ((1, 3, H, W) input on the device, letterbox scale)."""
        return preprocess(frame_bgr, self.config.preprocess, self.device, self.dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) inputs → (B, A, 5 + C) decoded float32 predictions (see YOLOXHead)."""
        return self.runner(images)[0]

    def postprocess(self, predictions: torch.Tensor, ratio: float) -> Detections:
        """Turn (A, 5 + C) predictions of one image into Detections in original-image pixels."""
        with torch.inference_mode():
            boxes, scores, class_ids = postprocess(predictions, self.config.postprocess)
            boxes = unletterbox(boxes, ratio)
        return Detections(boxes.cpu().numpy(), scores.cpu().numpy(), class_ids.cpu().numpy())

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        images, ratio = self.preprocess(frame_bgr)
        return self.postprocess(self.forward(images)[0], ratio)


def _onnx_architecture(path, metadata: dict, size: str, num_classes: int,
                       input_size) -> tuple[str, int, bool, tuple[int, int]]:
    """(size, num_classes, raw_bgr, input_size) of an ONNX detector file, checked."""
    stored_hw = tuple(metadata.get("input_size", ()))
    if input_size is not None and stored_hw != tuple(input_size):
        raise ValueError(f"detector.checkpoint {path} was exported for input "
                         f"{'x'.join(map(str, stored_hw))} but detector.input_size is "
                         f"{list(input_size)}: set detector.input_size to {list(stored_hw)} "
                         "(an ONNX file has a fixed input size) or export again")
    if size != AUTO_SIZE and size != metadata.get("size"):
        raise ValueError(f"detector.checkpoint {path} holds YOLOX-{metadata.get('size')} but "
                         f"detector.size is {size}: set detector.size to auto")
    if size != AUTO_SIZE and num_classes != metadata.get("num_classes"):
        raise ValueError(f"detector.checkpoint {path} has {metadata.get('num_classes')} "
                         f"classes but detector.num_classes is {num_classes}")
    return (metadata["size"], int(metadata["num_classes"]), bool(metadata["raw_bgr"]),
            stored_hw)


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
