"""Re-ID retrieval metrics on a split of MOT crops: rank-1 and mAP.

Every crop is a query in turn; its gallery is every crop of the split *except those from
the same frame of the same sequence*, so a query is matched to its identity in other frames
(the tracking use case) and the other people of its own frame cannot be matched by image
similarity alone. Queries without a positive in their gallery are skipped. Distances are
cosine distances of the unit embeddings (``1 - cos``, lower = more similar).
"""
from __future__ import annotations

import numpy as np

from finetrack_ros.progress import progress_bar
from finetrack_ros.train.reid_dataset import ReIDSplit, normalize_crops


def average_precision(matches: np.ndarray) -> float:
    """AP of one ranked gallery: ``matches`` (G,) bool, True = same identity, best first."""
    hits = np.flatnonzero(matches)
    if len(hits) == 0:
        return 0.0
    precision_at_hits = np.arange(1, len(hits) + 1) / (hits + 1)
    return float(precision_at_hits.mean())


def retrieval_metrics(embeddings: np.ndarray, labels: np.ndarray, sequences: np.ndarray,
                      frames: np.ndarray) -> dict[str, float]:
    """Rank-1 and mAP, query/gallery across different frames.

    Args:
        embeddings: (M, D) float, rows L2-normalised here.
        labels: (M,) identities (unique across sequences).
        sequences, frames: (M,) where each crop comes from.

    Returns:
        ``rank1`` and ``mAP`` in [0, 1] and ``num_queries`` (queries with a positive).
    """
    emb = np.asarray(embeddings, np.float64)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    distance = 1.0 - emb @ emb.T
    rank1, aps = [], []
    for q in range(len(emb)):
        gallery = (sequences != sequences[q]) | (frames != frames[q])
        matches = labels[gallery] == labels[q]
        if not matches.any():
            continue
        order = np.argsort(distance[q, gallery], kind="stable")
        ranked = matches[order]
        rank1.append(float(ranked[0]))
        aps.append(average_precision(ranked))
    if not aps:
        return {"rank1": 0.0, "mAP": 0.0, "num_queries": 0}
    return {"rank1": float(np.mean(rank1)), "mAP": float(np.mean(aps)), "num_queries": len(aps)}


def extract_split_embeddings(model, split: ReIDSplit, batch_size: int = 128,
                             device: str = "cpu") -> np.ndarray:
    """(M, D) float32 eval-mode embeddings of the split's (un-augmented) crops."""
    import torch

    was_training = model.training
    model.eval()
    mean, std = model.config.pixel_mean, model.config.pixel_std
    chunks = []
    with torch.no_grad():
        starts = range(0, len(split), batch_size)
        for start in progress_bar(starts, desc="embed", leave=False, disable=len(starts) < 4):
            batch = normalize_crops(split.crops[start:start + batch_size], mean, std)
            chunks.append(model(torch.from_numpy(batch).to(device)).float().cpu().numpy())
    model.train(was_training)
    if not chunks:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(chunks)


def evaluate_reid(model, split: ReIDSplit, batch_size: int = 128,
                  device: str = "cpu") -> dict[str, float]:
    """Rank-1 / mAP of ``model`` on ``split`` (see ``retrieval_metrics``)."""
    if len(split) == 0:
        return {"rank1": 0.0, "mAP": 0.0, "num_queries": 0}
    embeddings = extract_split_embeddings(model, split, batch_size, device)
    return retrieval_metrics(embeddings, split.labels, split.sequences, split.frames)


def evaluate_checkpoint(ckpt: str, data: list[str], config: str | None = None,
                        overrides: list[str] | None = None, split: str = "val",
                        device: str = "cpu") -> dict:
    """Rank-1 / mAP of a ``train-reid`` checkpoint (``last.pt``) or a ``save_reid`` file.

    The data settings come from ``config`` when given, else from the checkpoint's training
    config (``last.pt``) or the defaults (``reid.pt``), with ``overrides`` on top; the crop
    size always follows the network's.
    """
    from pathlib import Path

    from finetrack_ros.safe_load import load_torch_file
    from finetrack_ros.train.reid_checkpoint import is_trainer_checkpoint, load_trained_model
    from finetrack_ros.train.reid_config import load_train_config
    from finetrack_ros.train.reid_dataset import load_reid_splits

    path = Path(ckpt)
    if not path.is_file():
        raise FileNotFoundError(f"--ckpt: {path} does not exist")
    raw = load_torch_file(path, "Re-ID checkpoint")  # weights_only: a payload never runs
    base = raw["config"] if is_trainer_checkpoint(raw) and config is None else None
    cfg = load_train_config(config, overrides, base=base)
    model = load_trained_model(path, device, raw)
    cfg.data.crop_height, cfg.data.crop_width = model.config.crop_size
    train, val = load_reid_splits(data, cfg.data)
    chosen = val if split == "val" else train
    result = evaluate_reid(model, chosen, cfg.eval_batch_size, device)
    return {"ckpt": str(path), "split": split, "crops": len(chosen),
            "identities": chosen.num_identities, **result}
