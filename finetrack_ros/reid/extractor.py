"""FeatureExtractor: frame + boxes -> one unit Re-ID embedding per box.

The one call the tracking side needs (docs/architecture.md):

    extractor = FeatureExtractor(model, device="cpu", fp16=False)
    features = extractor(frame_bgr, boxes_xyxy)  # (N, D) float32, unit rows
"""
from __future__ import annotations

import logging
from contextlib import nullcontext

import numpy as np
import torch

from .crops import check_frame, crop_and_normalise, valid_boxes
from .model import FineTrackReID
from .visibility import part_visibility

LOGGER = logging.getLogger(__name__)


class FeatureExtractor:
    """Runs ``FineTrackReID`` on the boxes of a frame.

    Args:
        model: the network; it is moved to ``device`` and put in eval mode.
        device: torch device string or object.
        fp16: run under float16 autocast (CUDA only).
        batch_size: crops per forward pass; bounds memory for frames with many boxes.

    Boxes narrower/shorter than ``model.config.min_box_side`` (or non-finite) are not
    cropped: their output row is all zeros (cosine similarity 0 to everything) and a
    warning names each box and the reason.
    """

    def __init__(self, model: FineTrackReID, device: torch.device | str = "cpu",
                 fp16: bool = False, batch_size: int = 64) -> None:
        self.device = torch.device(device)
        if fp16 and self.device.type != "cuda":
            raise ValueError(f"FeatureExtractor: fp16 needs a CUDA device, got device {device!r}")
        if batch_size < 1:
            raise ValueError(f"FeatureExtractor: batch_size must be >= 1, got {batch_size}")
        self.model = model.to(self.device).eval()
        self.config = model.config
        self.fp16 = fp16
        self.batch_size = batch_size

    @property
    def dim(self) -> int:
        """D, the length of each output row."""
        return self.model.output_dim

    def crops(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> torch.Tensor:
        """Normalised crops (M, 3, h, w) of the valid boxes (see ``valid_boxes``)."""
        boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
        keep, _ = valid_boxes(boxes, self.config.min_box_side)
        return crop_and_normalise(frame_bgr, boxes[keep], self.config.crop_size,
                                  self.config.pixel_mean, self.config.pixel_std, self.device)

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
        autocast = (torch.autocast("cuda", dtype=torch.float16) if self.fp16 else nullcontext())
        embeddings, masks = [], []
        with autocast:
            for chunk in crops.split(self.batch_size):
                embedding, mask = self.model.embed_with_masks(chunk)
                embeddings.append(embedding.float())
                masks.append(mask.float())
        features[keep] = torch.cat(embeddings).cpu().numpy()
        visibility[keep] = part_visibility(torch.cat(masks).cpu().numpy(), boxes[keep],
                                           occluders_xyxy)
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
        autocast = (torch.autocast("cuda", dtype=torch.float16) if self.fp16 else nullcontext())
        with autocast:
            rows = [self.model(chunk).float() for chunk in crops.split(self.batch_size)]
        out[keep] = torch.cat(rows).cpu().numpy()
        return out
