"""FeatureExtractor: frame + boxes -> one unit Re-ID embedding per box.

The one call the tracking side needs (docs/architecture.md):

    extractor = FeatureExtractor(model, device="cpu")  # or FeatureExtractor.load(path)
    features = extractor(frame_bgr, boxes_xyxy)  # (N, D) float32, unit rows
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from finetrack_ros.inference.options import InferenceOptions, is_onnx_path
from finetrack_ros.inference.runners import (
    Runner,
    load_onnx_network,
    make_runner,
    runner_module,
)

from .config import ReIDConfig
from .crops import check_frame, crop_and_normalise, valid_boxes
from .match_distance import check_match_distance
from .model import EmbeddingsAndMasks, FineTrackReID
from .visibility import part_visibility

LOGGER = logging.getLogger(__name__)
# ``network`` value of Re-ID ONNX files (``finetrack export onnx``).
ONNX_NETWORK = "reid"


def onnx_metadata(model: FineTrackReID) -> dict:
    """Return the description an exported Re-ID ONNX file carries (see ``inference``)."""
    meta = {"network": ONNX_NETWORK, "config": model.config.to_dict()}
    if model.match_distance is not None:
        meta["match_distance"] = dict(model.match_distance)
    return meta


class FeatureExtractor:
    """Runs ``FineTrackReID`` on the boxes of a frame.

    Args:
        model: the network; it is moved to ``device`` and put in eval mode; the runner runs
            it (torch fp32, channels-last in place) or a copy (other precisions): call
            :meth:`refresh` after changing its weights. None with ``onnx_path``.
        device: torch device string or object (crops are made there).
        batch_size: crops per forward pass; bounds memory for frames with many boxes.
        inference: backend / precision / threads (:mod:`finetrack_ros.inference`); its
            device is replaced by ``device``.
        onnx_path: an ``.onnx`` Re-ID file of ``finetrack export onnx`` (backend
            onnxruntime) instead of ``model``; its configuration comes from the file.

    ``match_distance`` is the network's take-back distance (``reid/match_distance.py``) as
    stored with it, or None.

    Boxes narrower/shorter than ``config.min_box_side`` (or non-finite) are not cropped:
    their output row is all zeros (cosine similarity 0 to everything) and a warning names
    each box and the reason.
    """

    def __init__(self, model: Optional[FineTrackReID], device: torch.device | str = "cpu",
                 batch_size: int = 64, inference: Optional[InferenceOptions] = None,
                 onnx_path: Optional[str | Path] = None) -> None:
        self.device = torch.device(device)
        if batch_size < 1:
            raise ValueError(f"FeatureExtractor: batch_size must be >= 1, got {batch_size}")
        self.options = dataclasses.replace(inference or InferenceOptions(), device=str(self.device))
        self.batch_size = batch_size
        self.model = None
        if onnx_path is not None:
            runner = load_onnx_network(onnx_path, ONNX_NETWORK, self.options, "reid.checkpoint")
            self.config = ReIDConfig.from_dict(runner.metadata.get("config", {}),
                                               source=f"reid.checkpoint {onnx_path}")
            self.match_distance = check_match_distance(
                runner.metadata.get("match_distance"), f"reid.checkpoint {onnx_path}")
            self._runner: Optional[Runner] = runner
        else:
            if model is None:
                raise ValueError("FeatureExtractor: give a model or an onnx_path")
            self.model = model.to(self.device).eval()
            self.config = model.config
            self.match_distance = model.match_distance
            self._runner = None
            self.runner  # built now: a backend that cannot load fails here, not on a frame

    @classmethod
    def load(cls, checkpoint: str | Path, device: torch.device | str = "cpu",
             batch_size: int = 64, inference: Optional[InferenceOptions] = None
             ) -> "FeatureExtractor":
        """Build an extractor from a ``save_reid`` checkpoint or an exported ``.onnx`` file."""
        if is_onnx_path(checkpoint):
            return cls(None, device, batch_size, inference, onnx_path=checkpoint)
        from .checkpoint import load_reid

        return cls(load_reid(checkpoint, device), device, batch_size, inference)

    @property
    def dim(self) -> int:
        """D, the length of each output row."""
        return self.config.output_dim

    def refresh(self) -> None:
        """Rebuild the inference copy from ``.model`` (after changing its weights)."""
        if self.model is not None:
            self._runner = None
            self.runner

    @property
    def runner(self) -> Runner:
        """The callable that runs the network: crops → (embeddings, masks)."""
        if self._runner is None:
            crop_h, crop_w = self.config.crop_size
            model = EmbeddingsAndMasks(runner_module(self.model, self.options))
            self._runner = make_runner(model, self.options,
                                       torch.zeros(2, 3, crop_h, crop_w), "crops",
                                       ("embeddings", "masks"), "reid.checkpoint")
        return self._runner

    def crops(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> torch.Tensor:
        """Normalised crops (M, 3, h, w) of the valid boxes (see ``valid_boxes``)."""
        boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
        keep, _ = valid_boxes(boxes, self.config.min_box_side)
        return crop_and_normalise(frame_bgr, boxes[keep], self.config.crop_size,
                                  self.config.pixel_mean, self.config.pixel_std, self.device)

    def embed_crops(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network on (M, 3, h, w) crops: (M, D) unit float32 rows, (M, K, h/4, w/4).

        Rows are normalised again in float32: reduced precisions leave them only close to 1.
        """
        embeddings, masks = [], []
        for chunk in crops.split(self.batch_size):
            embedding, mask = self.runner(chunk)
            embeddings.append(embedding)
            masks.append(mask)
        return F.normalize(torch.cat(embeddings), dim=1), torch.cat(masks)

    @torch.inference_mode()
    def with_visibility(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray,
                        occluders_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compute embeddings (N, D) as :meth:`__call__` and part visibility (N, K) in [0, 1].

        The visibility comes from the part masks and the boxes in front (:mod:`.visibility`);
        zero rows for skipped boxes.
        """
        check_frame(frame_bgr)
        boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
        features = np.zeros((len(boxes), self.dim), np.float32)
        visibility = np.zeros((len(boxes), self.config.num_parts), np.float32)
        keep, _ = valid_boxes(boxes, self.config.min_box_side)
        if not keep.any():
            return features, visibility
        crops = crop_and_normalise(frame_bgr, boxes[keep], self.config.crop_size,
                                   self.config.pixel_mean, self.config.pixel_std, self.device)
        embeddings, masks = self.embed_crops(crops)
        features[keep] = embeddings.cpu().numpy()
        visibility[keep] = part_visibility(masks.cpu().numpy(), boxes[keep], occluders_xyxy)
        return features, visibility

    @torch.inference_mode()
    def __call__(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Embeddings of the boxes.

        Args:
            frame_bgr: (H, W, 3) uint8 BGR image.
            boxes_xyxy: (N, 4) pixels of ``frame_bgr`` (may leave the image).

        Returns:
            (N, D) float32; unit rows, zero rows for skipped boxes; (0, D) for N = 0.
        """
        check_frame(frame_bgr)
        boxes = np.asarray(boxes_xyxy, np.float32)
        if boxes.size % 4 or (boxes.ndim == 2 and boxes.shape[1] != 4) or boxes.ndim > 2:
            raise ValueError(f"boxes_xyxy: expected shape (N, 4), got {boxes.shape}")
        boxes = boxes.reshape(-1, 4)
        out = np.zeros((len(boxes), self.dim), np.float32)
        keep, reasons = valid_boxes(boxes, self.config.min_box_side)
        for reason in reasons:
            LOGGER.warning("Re-ID skipped %s; its embedding is zero", reason)
        if not keep.any():
            return out
        crops = crop_and_normalise(frame_bgr, boxes[keep], self.config.crop_size,
                                   self.config.pixel_mean, self.config.pixel_std,
                                   self.device)  # (M, 3, h, w)
        out[keep] = self.embed_crops(crops)[0].cpu().numpy()
        return out
