"""Typed configuration of Re-ID training, read from YAML with ``key.sub=value`` overrides.

The YAML mirrors ``TrainReIDConfig``: top-level scalars plus the sections ``model`` (keyword
arguments of ``finetrack_ros.reid.ReIDConfig``, with ``preset`` choosing its defaults),
``data``, ``augment``, ``loss``, ``sampler`` and ``optim``. ``config/reid_small.yaml`` documents
every key.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from finetrack_ros.train.reid_dataset import AugmentConfig, ReIDDataConfig
from finetrack_ros.train.reid_losses import ReIDLossConfig

OPTIMIZERS = ("adamw", "sgd")
SCHEDULERS = ("cosine", "step")


@dataclass
class SamplerConfig:
    """How batches are drawn.

    Attributes:
        kind: ``sgs`` (Shuffle-Group Sampling, the paper's), ``random`` or ``pk``.
        batch_size: crops per batch (an upper bound for ``sgs``, which packs whole groups).
        group_size: SGS: consecutive frames per group; more = more positives per identity.
        pk_instances: P x K sampling: K crops per identity (P = batch_size // K).
    """

    kind: str = "sgs"
    batch_size: int = 64
    group_size: int = 2
    pk_instances: int = 4


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule (stepped every iteration).

    Attributes:
        optimizer: ``adamw`` or ``sgd``.
        lr: peak learning rate after warm-up.
        weight_decay: decoupled (AdamW) or L2 (SGD) weight decay.
        momentum: SGD momentum (ignored by AdamW).
        scheduler: ``cosine`` (to ``lr * min_lr_factor`` at the last iteration) or ``step``.
        warmup_iters: linear warm-up from ``lr * warmup_factor`` over this many iterations.
        warmup_factor: starting fraction of ``lr`` during warm-up.
        min_lr_factor: cosine: final fraction of ``lr``.
        step_epochs: step: epochs after which the lr is multiplied by ``step_gamma``.
        step_gamma: step: decay factor.
        grad_clip: max global gradient L2 norm; 0 disables clipping.
    """

    optimizer: str = "adamw"
    lr: float = 3.5e-4
    weight_decay: float = 5e-4
    momentum: float = 0.9
    scheduler: str = "cosine"
    warmup_iters: int = 100
    warmup_factor: float = 0.01
    min_lr_factor: float = 0.01
    step_epochs: list[int] = field(default_factory=lambda: [40, 70])
    step_gamma: float = 0.1
    grad_clip: float = 5.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optim.optimizer: expected one of {OPTIMIZERS}, "
                             f"got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"optim.scheduler: expected one of {SCHEDULERS}, "
                             f"got {self.scheduler!r}")


@dataclass
class TrainReIDConfig:
    """Everything one training run needs besides the data paths and output directory.

    Attributes:
        model: keyword arguments of ``ReIDConfig``; ``preset`` (e.g. ``small``) picks defaults.
        epochs: passes over the training split.
        max_iters: stop after this many iterations in total (0 = no limit); for smoke runs.
        seed: seeds model init, sampling and augmentation; same seed -> same run.
        num_workers: DataLoader worker processes (0 = load in the training process).
        amp: mixed precision on CUDA (ignored on CPU).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]``.
        eval_batch_size: crops per forward pass when evaluating rank-1 / mAP.
    """

    model: dict[str, Any] = field(default_factory=lambda: {"preset": "small"})
    data: ReIDDataConfig = field(default_factory=ReIDDataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: ReIDLossConfig = field(default_factory=ReIDLossConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10
    max_iters: int = 0
    seed: int = 0
    num_workers: int = 0
    amp: bool = True
    device: str = "auto"
    eval_batch_size: int = 128

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS = {"data": ReIDDataConfig, "augment": AugmentConfig, "loss": ReIDLossConfig,
             "sampler": SamplerConfig, "optim": OptimConfig}


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {dotted}: {key!r} is not a section")
    node[keys[-1]] = value


def _build_section(name: str, cls, values: Any, source: str):
    if not isinstance(values, dict):
        raise ValueError(f"{source}: section {name!r} must be a mapping, got {values!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {[f'{name}.{k}' for k in unknown]}; "
                         f"known: {sorted(known)}")
    values = dict(values)
    if name == "augment" and "erase_area" in values:
        values["erase_area"] = tuple(values["erase_area"])
    return cls(**values)


def config_from_dict(tree: dict[str, Any], source: str = "config") -> TrainReIDConfig:
    """``TrainReIDConfig`` from a nested dict; unknown keys raise ``ValueError``."""
    tree = dict(tree or {})
    kwargs: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        if name in tree:
            kwargs[name] = _build_section(name, cls, tree.pop(name), source)
    if "model" in tree:
        model = tree.pop("model")
        if not isinstance(model, dict):
            raise ValueError(f"{source}: section 'model' must be a mapping, got {model!r}")
        kwargs["model"] = dict(model)
    top = {f.name for f in dataclasses.fields(TrainReIDConfig)}
    unknown = sorted(set(tree) - top)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}; known: {sorted(top)}")
    return TrainReIDConfig(**kwargs, **tree)


def load_train_config(path: str | Path | None = None, overrides: list[str] | None = None,
                      base: dict[str, Any] | None = None) -> TrainReIDConfig:
    """Read a YAML config and apply ``key.sub=value`` overrides.

    Without ``path``, start from ``base`` (a ``to_dict()`` tree), else from the defaults. The
    override values are parsed as YAML (``optim.lr=1e-3``,
    ``data.val_sequences=[MOT17-02-FRCNN]``).
    """
    tree: dict[str, Any] = copy.deepcopy(base) if base else {}
    source = "checkpoint config" if base else "defaults"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"--config: {path} does not exist")
        tree = yaml.safe_load(path.read_text()) or {}
        source = str(path)
        if not isinstance(tree, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        _set_dotted(tree, key.strip(), yaml.safe_load(raw))
    return config_from_dict(tree, source)
