"""Save / load FineTrack Re-ID checkpoints that carry their own ``ReIDConfig``.

File layout (a ``torch.save`` dict):
    format: "finetrack_reid"     marks the file as ours
    version: 1                   layout version
    config: dict                 ``ReIDConfig.to_dict()``
    model: dict                  the model's state dict
    match_distance: dict         optional: the take-back distance train-reid measured
                                 (``reid/match_distance.py``)
    ...                          any extra entries given to ``save_reid`` (epoch, id map, ...)
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from finetrack_ros.safe_load import load_torch_file

from .backbone import check_state_dict
from .config import ReIDConfig
from .match_distance import check_match_distance
from .model import FineTrackReID

FORMAT = "finetrack_reid"
VERSION = 1
_RESERVED = ("format", "version", "config", "model", "match_distance")


def save_reid(path: str | Path, model: FineTrackReID, config: ReIDConfig | None = None,
              **extra: Any) -> Path:
    """Write ``model`` and its config to ``path`` (parent folders are created).

    Everything stored is tensors and plain data, so :func:`read_reid_checkpoint` reads it
    with ``weights_only=True``; ``extra`` values must be such data too.

    ``config`` defaults to ``model.config``; ``extra`` entries are stored beside them and
    must not use the reserved keys format/version/config/model.
    """
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise ValueError(f"save_reid: extra keys {clash} are reserved")
    config = config or model.config
    if not isinstance(config, ReIDConfig):
        raise ValueError(f"save_reid: config must be a ReIDConfig, got {type(config).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "version": VERSION, "config": config.to_dict(),
                "model": state, **_match_distance_entry(model), **extra}, path)
    return path


def _match_distance_entry(model: FineTrackReID) -> dict[str, Any]:
    match_distance = getattr(model, "match_distance", None)
    return {} if match_distance is None else {"match_distance": dict(match_distance)}


def save_reid_for_inference(src: str | Path, dst: str | Path, fp16: bool = True) -> Path:
    """Copy a trained checkpoint without its training-only identity classifiers.

    ``fp16`` stores floating-point weights as float16 (half the size; ``load_reid`` casts
    them back, features agree with the float32 network to cosine > 0.9999).
    """
    import dataclasses

    full = load_reid(src, "cpu")
    config = dataclasses.replace(full.config, num_classes=0)
    keep = FineTrackReID(config).state_dict().keys()
    state = {k: (v.half() if fp16 and v.is_floating_point() else v)
             for k, v in full.state_dict().items() if k in keep}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "version": VERSION, "config": config.to_dict(),
                "model": state, **_match_distance_entry(full),
                "source": f"save_reid_for_inference({Path(src).name})"}, dst)
    return dst


def read_reid_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read the raw checkpoint dict, after checking it is a FineTrack Re-ID file.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: naming the file when it is not a torch file, holds pickled objects
            other than tensors and plain data (refused unread), or is not our format.
    """
    path = Path(path)
    data = load_torch_file(path, "Re-ID checkpoint")  # weights_only: a payload never runs
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: not a FineTrack Re-ID checkpoint (expected format "
                         f"{FORMAT!r}, written by save_reid; found {found})")
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {data.get('version')!r}, this code "
                         f"reads version {VERSION}")
    return data


def load_reid(path: str | Path, device: torch.device | str = "cpu") -> FineTrackReID:
    """Rebuild the model from the stored config and weights, in eval mode on ``device``.

    Raises:
        FileNotFoundError / ValueError: naming the file, the bad config field or the
        missing / unexpected / mis-shaped state-dict keys.
    """
    data = read_reid_checkpoint(path)
    try:
        config = ReIDConfig.from_dict(data["config"], source=f"{path} config")
    except TypeError as err:
        raise ValueError(f"{path}: bad config entry ({err})") from err
    # the ImageNet initialisation is replaced by the stored weights: do not read it again
    config = dataclasses.replace(config, pretrained_backbone=None)
    model = FineTrackReID(config)
    check_state_dict(model, data["model"], str(path))
    model.load_state_dict(data["model"], strict=True)
    model.match_distance = check_match_distance(data.get("match_distance"), str(path))
    return model.to(device).eval()
