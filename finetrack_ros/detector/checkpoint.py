"""Detector checkpoints: reading them, what they say about their network, clear errors.

Accepted files: ``{"model": state_dict, ...}`` (ByteTrack, YOLOX, this package),
``{"state_dict": ...}`` or a bare state dict; a ``module.`` prefix (DataParallel) is stripped.

Checkpoints this package writes (:func:`save_yolox_checkpoint`) describe themselves beside
``"model"``: ``size``, ``num_classes``, ``class_names``, ``input_size`` ([H, W] trained at) and
``raw_bgr`` (input normalisation), see :func:`checkpoint_metadata`. :func:`read_checkpoint`
returns that as :class:`CheckpointInfo`, and for a plain ByteTrack/YOLOX state dict infers
size and class count from the weights' shapes, which ``detector.size: auto`` relies on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from torch import nn

from finetrack_ros.detector.yolox import SIZES
from finetrack_ros.safe_load import load_torch_file

# ``size`` value that takes size and class count (and raw_bgr when stored) from the checkpoint.
AUTO_SIZE = "auto"
# How many mismatched keys an error message lists per kind before "... and N more".
MAX_KEYS_SHOWN = 3
_STEM_KEY = "backbone.backbone.stem.conv.conv.weight"
_CLS_KEY = "head.cls_preds.0.weight"
_DARK3_BOTTLENECK = re.compile(r"^backbone\.backbone\.dark3\.1\.m\.(\d+)\.")


@dataclass(frozen=True)
class CheckpointInfo:
    """What a detector checkpoint says, or its weights show, about its network.

    Attributes:
        size: YOLOX size name; None when neither stored nor inferable from the weights.
        num_classes: class count (the head's output channels); None when unknown.
        class_names: stored class names, index = class id; empty when not stored.
        input_size: (H, W) network input the weights were trained at; None when not stored.
        raw_bgr: input normalisation (True = raw BGR 0..255, False = ByteTrack's); None when
            not stored (plain ByteTrack / YOLOX files).
        stored: names of the fields the file states (the others were inferred or are None).
    """

    size: Optional[str] = None
    num_classes: Optional[int] = None
    class_names: tuple = ()
    input_size: Optional[tuple] = None
    raw_bgr: Optional[bool] = None
    stored: tuple = ()


def checkpoint_metadata(size: str, num_classes: int, class_names: Sequence[str] = (),
                        input_size: Optional[Sequence[int]] = None,
                        raw_bgr: bool = False) -> dict[str, Any]:
    """Build the self-description stored beside ``"model"`` (plain, ``weights_only``-safe)."""
    if size not in SIZES:
        raise ValueError(f"checkpoint size {size!r}: choose one of {sorted(SIZES)}")
    if class_names and len(class_names) != num_classes:
        raise ValueError(f"checkpoint class_names has {len(class_names)} names for "
                         f"{num_classes} classes")
    meta = {"size": size, "num_classes": int(num_classes),
            "class_names": [str(n) for n in class_names], "raw_bgr": bool(raw_bgr)}
    if input_size is not None:
        meta["input_size"] = [int(v) for v in input_size]
    return meta


def save_yolox_checkpoint(path: str | Path, model: nn.Module, size: str,
                          class_names: Sequence[str] = (),
                          input_size: Optional[Sequence[int]] = None, raw_bgr: bool = False,
                          half: bool = False, extra: Optional[dict] = None) -> Path:
    """Write ``{"model": state_dict, <checkpoint_metadata>, **extra}`` (YOLOX layout).

    ``half`` stores floating-point weights as float16 (half the file size).
    """
    state = {k: (v.half() if half and v.is_floating_point() else v)
             for k, v in model.state_dict().items()}
    meta = checkpoint_metadata(size, int(model.head.num_classes), class_names, input_size,
                               raw_bgr)
    path = Path(path)
    torch.save({"model": state, **meta, **(extra or {})}, path)
    return path


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the state dict of a checkpoint file, on CPU, ``module.`` prefixes removed."""
    return read_checkpoint(path)[0]


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], CheckpointInfo]:
    """(state dict, :class:`CheckpointInfo`) of a detector checkpoint file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a torch file, no state dict in it, or bad stored metadata (naming
            the file and the field).
    """
    path = Path(path)
    blob = load_torch_file(path, "detector checkpoint")  # weights_only: a payload never runs
    state = blob
    if isinstance(blob, dict):
        for field in ("model", "state_dict"):
            if isinstance(blob.get(field), dict):
                state = blob[field]
                break
    meta = blob if state is not blob else {}  # fields beside the weights, if any
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"checkpoint {path}: expected a state dict (bare, or under 'model' "
                         f"or 'state_dict'), found {type(state).__name__}")
    state = {_strip_module(key): value for key, value in state.items()}
    return state, _info(path, meta, state)


def _strip_module(key: str) -> str:
    return key[len("module."):] if key.startswith("module.") else key


def _info(path: Path, meta: dict, state: dict[str, torch.Tensor]) -> CheckpointInfo:
    """CheckpointInfo from stored fields (checked) and, where absent, the weights' shapes."""
    guessed_size, guessed_classes = guess_yolox_config(state)
    checks = {
        "size": lambda v: v in SIZES,
        "num_classes": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
        "class_names": lambda v: isinstance(v, (list, tuple))
        and all(isinstance(n, str) for n in v),
        "input_size": lambda v: isinstance(v, (list, tuple)) and len(v) == 2
        and all(isinstance(n, int) and n > 0 for n in v),
        "raw_bgr": lambda v: isinstance(v, bool),
    }
    for field, ok in checks.items():
        if field in meta and not ok(meta[field]):
            raise ValueError(f"checkpoint {path}: stored {field} = {meta[field]!r} is not valid")
    stored = tuple(field for field in checks if field in meta)
    input_size = meta.get("input_size")
    return CheckpointInfo(
        size=guessed_size or meta.get("size"),
        num_classes=guessed_classes if guessed_classes is not None else meta.get("num_classes"),
        class_names=tuple(meta.get("class_names", ())),
        input_size=tuple(input_size) if input_size is not None else None,
        raw_bgr=meta.get("raw_bgr"), stored=stored)


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
    """List counts and the first few key/shape differences of model and state dict."""
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
            lines.append(f"{len(items)} {title} (e.g. {shown}{more})")
    return lines


def _fit_hint(info: CheckpointInfo) -> str:
    """Say what to set so that the network fits the file (parameter and CLI flag)."""
    if info.size is None:
        return "it does not look like a YOLOX checkpoint"
    classes = "" if info.num_classes is None else f" with {info.num_classes} classes"
    params = f"detector.size: {info.size}"
    flags = f"--model-size {info.size}"
    if info.num_classes is not None:
        params += f", detector.num_classes: {info.num_classes}"
        flags += f" --num-classes {info.num_classes}"
    return (f"it looks like YOLOX-{info.size}{classes}: set {params} (or detector.size: "
            f"{AUTO_SIZE}; CLI {flags})")


def load_state_dict_checked(model: nn.Module, state_dict: dict[str, torch.Tensor],
                            path: str | Path, size: str = "?",
                            info: Optional[CheckpointInfo] = None) -> None:
    """Load ``state_dict`` into ``model`` with ``strict=True``.

    On a mismatch raises one short ValueError line naming the file, what would fit it
    (parameter and CLI flag) and counts of mismatched keys.
    """
    problems = _mismatch_lines(model, state_dict)
    if problems:
        info = info or CheckpointInfo(*guess_yolox_config(state_dict))
        raise ValueError(f"detector.checkpoint {path} does not fit YOLOX-{size} with "
                         f"{model.head.num_classes} classes; {_fit_hint(info)}. "
                         + "; ".join(problems))
    model.load_state_dict(state_dict, strict=True)


def load_yolox_weights(model: nn.Module, path: str | Path, size: str = "?") -> None:
    """Load a checkpoint file into a YOLOX model with ``strict=True``.

    See :func:`load_state_dict_checked` for the error on a mismatch.
    """
    state_dict, info = read_checkpoint(path)
    load_state_dict_checked(model, state_dict, path, size, info)
