"""The ``train-reid`` checkpoint (``last.pt``): its format and how to rebuild its network.

Shared by the trainer (writes and resumes it) and ``eval-reid`` (scores it), so neither
imports the other. The file is a dict of tensors and plain data (config as a dict, identity
keys as strings, optimizer/scheduler/scaler state dicts, RNG tensors) and is read with
``weights_only=True`` through :func:`finetrack_ros.safe_load.load_torch_file`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from finetrack_ros.safe_load import load_torch_file

CHECKPOINT_FORMAT = "finetrack_ros.reid_trainer/1"


def model_config(model_section: dict, num_classes: int = 0):
    """``ReIDConfig`` from the ``model`` section (``preset`` + field overrides)."""
    from finetrack_ros.reid.config import ReIDConfig

    return ReIDConfig.from_dict({**model_section, "num_classes": num_classes}, "config model")


def build_reid_model(model_section: dict, num_classes: int) -> torch.nn.Module:
    """``FineTrackReID`` with ``num_classes`` identity classifiers."""
    from finetrack_ros.reid.model import FineTrackReID

    return FineTrackReID(model_config(model_section, num_classes))


def is_trainer_checkpoint(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("format") == CHECKPOINT_FORMAT


def read_trainer_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict:
    """Read the raw ``last.pt`` dict; raise ValueError naming the file if it is not one."""
    raw = load_torch_file(path, "train-reid checkpoint", map_location)
    if not is_trainer_checkpoint(raw):
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"{path}: not a train-reid checkpoint (format {found!r}, "
                         f"expected {CHECKPOINT_FORMAT!r})")
    return raw


def load_trained_model(path: str | Path, device: str = "cpu",
                       raw: Optional[dict] = None) -> torch.nn.Module:
    """Load the network of a ``train-reid`` checkpoint (``last.pt``) or a ``save_reid`` file.

    ``raw`` is the already-read file content (saves reading a large ``last.pt`` twice).
    """
    from finetrack_ros.reid import load_reid

    if raw is None:
        raw = load_torch_file(path, "Re-ID checkpoint")
    if not is_trainer_checkpoint(raw):
        return load_reid(path, device)
    try:
        model = build_reid_model(raw["config"]["model"], len(raw["identity_keys"]))
        model.load_state_dict(raw["model"])
    except (KeyError, TypeError, RuntimeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: broken train-reid checkpoint ({reason[:200]})") from err
    return model.to(device).eval()
