"""Re-ID trainer: FineTrack losses, SGS batches, warm-up + cosine/step lr, AMP, DDP, resume.

One ``ReIDTrainer`` runs one training job into an output directory::

    out/
      last.pt          full checkpoint (model, optimizer, scheduler, scaler, RNG, epoch, step,
                       config, identity map), rewritten after every epoch and at max_iters
      reid.pt          the trained network alone, written with ``finetrack_ros.reid.save_reid``
      log.csv          one row per iteration: step, epoch, lr, loss terms
      summary.json     config, identity map, per-epoch mean losses and val rank-1 / mAP
      loss_curves.png  the loss terms against the iteration

Launched by ``torchrun`` (env ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``), it trains with
DistributedDataParallel; every rank draws its own share of the SGS batches and rank 0 writes
the files.
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from finetrack_ros.inference.threads import CpuShare
from finetrack_ros.progress import progress_bar
from finetrack_ros.reid.match_distance import measure_match_distance
from finetrack_ros.train.reid_checkpoint import (
    CHECKPOINT_FORMAT,
    build_reid_model,
    model_config,
    read_trainer_checkpoint,
)
from finetrack_ros.train.reid_config import OptimConfig, TrainReIDConfig
from finetrack_ros.train.reid_dataset import ReIDCropDataset, load_reid_splits
from finetrack_ros.train.reid_eval import evaluate_reid, extract_split_embeddings
from finetrack_ros.train.reid_losses import FineTrackLoss
from finetrack_ros.train.sampler import build_batch_sampler

LOSS_TERMS = ("total", "part_cls", "part_tri", "global_cls", "global_tri", "diversity")


def lr_factor(step: int, cfg: OptimConfig, total_iters: int, iters_per_epoch: int) -> float:
    """Multiplier of ``cfg.lr`` at iteration ``step`` (0-based): warm-up, then decay."""
    if step < cfg.warmup_iters:
        alpha = step / max(1, cfg.warmup_iters)
        return cfg.warmup_factor + (1.0 - cfg.warmup_factor) * alpha
    if cfg.scheduler == "step":
        epoch = step // max(1, iters_per_epoch)
        return cfg.step_gamma ** sum(epoch >= e for e in cfg.step_epochs)
    span = max(1, total_iters - cfg.warmup_iters)
    progress = min(1.0, (step - cfg.warmup_iters) / span)
    return cfg.min_lr_factor + (1 - cfg.min_lr_factor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, nesterov=True)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class ReIDTrainer:
    """Trains ``FineTrackReID`` on MOT crops; see the module docstring for the outputs.

    Args:
        cfg: the training configuration.
        data: MOT roots or sequence directories.
        out_dir: where checkpoints and logs go.
        resume: continue from ``out_dir/last.pt`` when it exists.
    """

    def __init__(self, cfg: TrainReIDConfig, data: list[str | Path], out_dir: str | Path,
                 resume: bool = False) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.rank = int(os.environ.get("RANK", 0))
        self.world_size = int(os.environ.get("WORLD_SIZE", 1))
        self.device = _resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", 0)))
        self._init_distributed()
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        # on a CPU without OMP_NUM_THREADS: torch's threads follow the cores other
        # processes leave free (spinning OpenMP threads made a shared CPU 16x slower)
        self.cpu_share = (CpuShare() if self.device.type == "cpu"
                          and "OMP_NUM_THREADS" not in os.environ else None)
        if self.device.type == "cuda":  # reproducible convolutions (a little slower)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        reid_cfg = model_config(cfg.model)
        cfg.data.crop_height, cfg.data.crop_width = reid_cfg.crop_size  # data follows the net
        self.train_split, self.val_split = self._load_data(data)
        self.model = build_reid_model(cfg.model, self.train_split.num_identities).to(self.device)
        self.optimizer = build_optimizer(self.model, cfg.optim)
        self._build_schedule()
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.loss_fn = FineTrackLoss(cfg.loss)
        self.dataset = ReIDCropDataset(self.train_split, cfg.augment, seed=cfg.seed,
                                       mean=reid_cfg.pixel_mean, std=reid_cfg.pixel_std)
        self.epoch, self.step, self.step_in_epoch = 0, 0, 0
        self.history: list[dict] = []  # one row per iteration: step, epoch, lr, losses
        self.epoch_log: list[dict] = []  # one row per epoch: mean losses, val rank-1 / mAP
        self.init_eval: dict | None = None  # val rank-1 / mAP of the untrained network
        if resume and (self.out_dir / "last.pt").is_file():
            self._load_checkpoint(self.out_dir / "last.pt")
        self.net = self.model
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    # ---------------------------------------------------------------- setup
    def _build_schedule(self) -> None:
        """Batch sampler (this rank's share), iteration counts and the lr scheduler."""
        cfg, split = self.cfg, self.train_split
        self.sampler = build_batch_sampler(
            cfg.sampler.kind, split.labels, split.sequences, split.frames,
            cfg.sampler.batch_size, cfg.sampler.group_size, cfg.sampler.pk_instances,
            cfg.seed, self.rank, self.world_size)
        lengths = []  # SGS packing makes the epoch length vary a little: count each epoch
        for epoch in range(cfg.epochs):
            self.sampler.set_epoch(epoch)
            lengths.append(len(self.sampler))
        self.iters_per_epoch = max(1, round(sum(lengths) / max(1, len(lengths))))  # mean
        self.epoch_length = lengths[0] if lengths else 0  # of the current epoch
        total = sum(lengths)
        self.total_iters = min(total, cfg.max_iters) if cfg.max_iters > 0 else total
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda s: lr_factor(s, cfg.optim, self.total_iters, self.iters_per_epoch))

    def _init_distributed(self) -> None:
        if self.world_size > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            torch.distributed.init_process_group(backend)

    def _barrier(self) -> None:
        if self.world_size > 1:
            torch.distributed.barrier()

    def _load_data(self, data):
        if self.rank == 0:  # rank 0 cuts and caches the crops; the others read the cache
            splits = load_reid_splits(data, self.cfg.data)
        self._barrier()
        if self.rank != 0:
            splits = load_reid_splits(data, self.cfg.data)
        return splits

    # ---------------------------------------------------------------- checkpoints
    def _checkpoint(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
            "epoch": self.epoch,
            "step": self.step,
            "step_in_epoch": self.step_in_epoch,
            "config": self.cfg.to_dict(),
            "identity_keys": self.train_split.identity_keys,
            "history": self.history,
            "epoch_log": self.epoch_log,
            "init_eval": self.init_eval,
        }

    def save_checkpoint(self) -> Path:
        path = self.out_dir / "last.pt"
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            torch.save(self._checkpoint(), path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
        return path

    def _load_checkpoint(self, path: Path) -> None:
        ckpt = read_trainer_checkpoint(path, self.device)
        if ckpt["identity_keys"] != self.train_split.identity_keys:
            raise ValueError(f"{path}: its identity map ({len(ckpt['identity_keys'])} ids) differs "
                             f"from the data's ({self.train_split.num_identities} ids); "
                             f"resume with the same --data and data.* settings")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        _set_rng_state(ckpt["rng"])
        self.epoch, self.step = ckpt["epoch"], ckpt["step"]
        self.step_in_epoch = ckpt["step_in_epoch"]
        self.history, self.epoch_log = ckpt["history"], ckpt["epoch_log"]
        self.init_eval = ckpt["init_eval"]

    # ---------------------------------------------------------------- training
    def _epoch_loader(self) -> DataLoader:
        self.sampler.set_epoch(self.epoch)
        self.dataset.set_epoch(self.epoch)
        batches = list(self.sampler)
        self.epoch_length = len(batches)  # SGS packing makes it vary a little per epoch
        batches = batches[self.step_in_epoch:]  # skip what a resumed run did
        # own generator: creating the loader must not draw from the global RNG that a
        # resumed run restores, or dropout would differ from an uninterrupted run
        generator = torch.Generator().manual_seed(self.cfg.seed + self.epoch)
        return DataLoader(self.dataset, batch_sampler=batches, num_workers=self.cfg.num_workers,
                          pin_memory=self.device.type == "cuda", generator=generator)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """One optimisation step on a batch (B, 3, H, W) / (B,); returns the loss terms."""
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            outputs = self.net(images)
        terms = self.loss_fn(outputs, labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(terms["total"]).backward()
        if self.cfg.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        return {"lr": lr, **{k: float(v.detach()) for k, v in terms.items()}}

    def _run_epoch(self, bar: Any, stop_step: int) -> bool:
        """Train until the epoch ends (True) or ``stop_step`` is reached (False)."""
        self.model.train()
        for images, labels in self._epoch_loader():
            if self.cpu_share is not None:
                self.cpu_share.update()
            row = {"step": self.step + 1, "epoch": self.epoch, **self.train_step(images, labels)}
            self.step += 1
            self.step_in_epoch += 1
            self.history.append(row)
            bar.update(1)
            bar.set_postfix(loss=f"{row['total']:.3f}", lr=f"{row['lr']:.2e}")
            if self.step >= stop_step:
                return self.step_in_epoch >= self.epoch_length
        return True

    def fit(self, stop_at_step: int | None = None) -> dict:
        """Train to ``epochs`` (or ``max_iters``); returns the summary written to JSON.

        ``stop_at_step`` stops early after that many iterations in total (a time budget, or
        an interruption in tests) without changing the lr schedule; ``--resume`` continues.
        """
        stop_step = min(self.total_iters, stop_at_step or self.total_iters)
        if self.step == 0 and self.rank == 0 and len(self.val_split):
            self.init_eval = self.evaluate()  # the baseline the trained network must beat
        bar = progress_bar(total=self.total_iters, initial=self.step, desc="train-reid", unit="it",
                   disable=self.rank != 0)
        while self.epoch < self.cfg.epochs and self.step < stop_step:
            finished = self._run_epoch(bar, stop_step)
            if finished:
                self._end_epoch()
            self.save_checkpoint()
            self.write_logs()
        bar.close()
        self._save_model()
        summary = self.write_logs()
        self._barrier()
        return summary

    def _end_epoch(self) -> None:
        rows = [r for r in self.history if r["epoch"] == self.epoch]
        record = {"epoch": self.epoch, "step": self.step,
                  **{k: float(np.mean([r[k] for r in rows])) for k in LOSS_TERMS}}
        if self.rank == 0 and len(self.val_split):
            record.update(self.evaluate())
        self.epoch_log.append(record)
        self.epoch += 1
        self.step_in_epoch = 0

    def evaluate(self) -> dict[str, float]:
        """Rank-1 / mAP on the validation split."""
        return evaluate_reid(self.model, self.val_split, self.cfg.eval_batch_size, str(self.device))

    # ---------------------------------------------------------------- outputs
    def _save_model(self) -> None:
        if self.rank != 0:
            return
        from finetrack_ros.reid import save_reid

        self.model.match_distance = self.measure_match_distance()
        save_reid(self.out_dir / "reid.pt", self.model, epoch=self.epoch, step=self.step,
                  identity_keys=self.train_split.identity_keys)

    def measure_match_distance(self) -> dict | None:
        """Return the trained network's take-back distance (``reid/match_distance.py``).

        Measured on the validation split when it holds two identities or more (people the
        network never saw, as in use), else on the training split.
        """
        held_out = len(set(self.val_split.labels.tolist())) >= 2
        split, name = (self.val_split, "validation") if held_out else (self.train_split, "training")
        if len(split) < 2:
            return None
        embeddings = extract_split_embeddings(self.model, split, self.cfg.eval_batch_size,
                                              str(self.device))
        return measure_match_distance(embeddings, split.labels, split.frames, split.sequences,
                                      split=name, seed=self.cfg.seed)

    def write_logs(self) -> dict:
        """Write log.csv, summary.json and loss_curves.png (rank 0); return the summary."""
        steps = self.history
        summary = {"config": self.cfg.to_dict(), "identity_keys": self.train_split.identity_keys,
                   "steps": self.step, "val_at_init": self.init_eval, "epochs": self.epoch_log,
                   "match_distance": self.model.match_distance,
                   "first_loss": steps[0]["total"] if steps else None,
                   "last_loss": steps[-1]["total"] if steps else None}
        if self.rank != 0:
            return summary
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out_dir / "log.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["step", "epoch", "lr", *LOSS_TERMS])
            writer.writeheader()
            writer.writerows(steps)
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        plot_loss_curves(steps, self.out_dir / "loss_curves.png")
        return summary


def plot_loss_curves(rows: list[dict], path: Path) -> None:
    """PNG of every loss term against the iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [r["step"] for r in rows]
    for term in LOSS_TERMS:
        ax.plot(steps, [r[term] for r in rows], label=term, linewidth=2 if term == "total" else 1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("FineTrack Re-ID training")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
