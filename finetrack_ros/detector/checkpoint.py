"""Loading ByteTrack / YOLOX checkpoints with errors that say what to change.

Accepted files: ``{"model": state_dict, ...}`` (ByteTrack, YOLOX), ``{"state_dict": ...}``
or a bare state dict; a ``module.`` prefix (DataParallel) is stripped.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from finetrack_ros.detector.yolox import SIZES
from finetrack_ros.safe_load import load_torch_file

# How many mismatched keys an error message lists before "... and N more".
MAX_KEYS_SHOWN = 8
_STEM_KEY = "backbone.backbone.stem.conv.conv.weight"
_CLS_KEY = "head.cls_preds.0.weight"
_DARK3_BOTTLENECK = re.compile(r"^backbone\.backbone\.dark3\.1\.m\.(\d+)\.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint file, on CPU, ``module.`` prefixes removed."""
    path = Path(path)
    blob = load_torch_file(path, "detector checkpoint")  # weights_only: a payload never runs
    if isinstance(blob, dict):
        for field in ("model", "state_dict"):
            if isinstance(blob.get(field), dict):
                blob = blob[field]
                break
    if not isinstance(blob, dict) or not blob or not all(
            isinstance(v, torch.Tensor) for v in blob.values()):
        raise ValueError(f"checkpoint {path}: expected a state dict (bare, or under 'model' "
                         f"or 'state_dict'), found {type(blob).__name__}")
    return {_strip_module(key): value for key, value in blob.items()}


def _strip_module(key: str) -> str:
    return key[len("module."):] if key.startswith("module.") else key


def guess_yolox_config(state_dict: dict[str, torch.Tensor]) -> tuple[str | None, int | None]:
    """(size name, num_classes) that a YOLOX state dict was saved from; None where unknown.

    The width comes from the stem's output channels (64·width), depth from the number of
    bottlenecks in dark3 (3·round(3·depth)), depthwise from ``dconv`` keys.
    """
    num_classes = int(state_dict[_CLS_KEY].shape[0]) if _CLS_KEY in state_dict else None
    if _STEM_KEY not in state_dict:
        return None, num_classes
    stem_channels = int(state_dict[_STEM_KEY].shape[0])
    bottlenecks = {int(m.group(1)) for k in state_dict if (m := _DARK3_BOTTLENECK.match(k))}
    depthwise = any(".dconv." in key for key in state_dict)
    for name, spec in SIZES.items():
        n = max(round(3 * spec.depth), 1) * 3
        if (int(64 * spec.width) == stem_channels and spec.depthwise == depthwise
                and len(bottlenecks) == n):
            return name, num_classes
    return None, num_classes


def _mismatch_lines(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Human-readable differences between a model's keys/shapes and a state dict's."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape]
    lines = []
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected),
                         ("shape mismatches", shapes)):
        if items:
            shown = ", ".join(items[:MAX_KEYS_SHOWN])
            hidden = len(items) - MAX_KEYS_SHOWN
            more = f" ... and {hidden} more" if hidden > 0 else ""
            lines.append(f"{len(items)} {title}: {shown}{more}")
    return lines


def load_yolox_weights(model: nn.Module, path: str | Path, size: str = "?") -> None:
    """Load a checkpoint into a YOLOX model with ``strict=True``.

    On a mismatch raises ValueError naming the file, the mismatched keys/shapes and the
    ``--model-size`` / ``--num-classes`` the checkpoint appears to need.
    """
    state_dict = read_state_dict(path)
    problems = _mismatch_lines(model, state_dict)
    if problems:
        guessed_size, guessed_classes = guess_yolox_config(state_dict)
        hint = []
        if guessed_size is not None:
            hint.append(f"--model-size {guessed_size}")
        if guessed_classes is not None:
            hint.append(f"--num-classes {guessed_classes}")
        suggestion = (f"; this checkpoint looks like {' '.join(hint)}" if hint
                      else "; it does not look like a YOLOX checkpoint")
        raise ValueError(f"checkpoint {path} does not fit YOLOX-{size} with "
                         f"{model.head.num_classes} classes{suggestion}. "
                         + "; ".join(problems))
    model.load_state_dict(state_dict, strict=True)
