"""The take-back distance of a Re-ID network, measured when it is trained.

How far apart (1 - cos) two crops may be and still be taken for one person.

``train-reid`` measures it on its own data when it saves the network: over pairs of crops from
different frames, the distances of same-identity pairs and of different-identity pairs; the
take-back distance is the one at which ``false_match_rate`` (1 %) of the different-identity
pairs would be taken for the same person. It is stored in the checkpoint (``match_distance``)
and in exported ONNX files, and the tracker's gallery uses it unless told otherwise
(``tracker.gallery_thresh_from_reid``). A fixed threshold does not carry from one network to
another: a network trained longer, or on other people, spreads its distances differently.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

# the share of different-identity pairs the take-back distance lets through
DEFAULT_FALSE_MATCH_RATE = 0.01
# crops sampled for the pair distances: 3000 crops = 4.5 M pairs, ~0.1 s
MAX_CROPS = 3000


def measure_match_distance(embeddings: np.ndarray, labels: np.ndarray, frames: np.ndarray,
                           sequences: Optional[np.ndarray] = None,
                           false_match_rate: float = DEFAULT_FALSE_MATCH_RATE,
                           split: str = "train", seed: int = 0) -> Optional[dict[str, Any]]:
    """Measure the take-back distance on labelled crops; None without both kinds of pairs.

    Args:
        embeddings: (M, D) features (normalised here).
        labels: (M,) identity of each crop; frames, sequences: (M,) where it comes from.
            Pairs of crops of the same frame are left out (a gallery never compares them).
        false_match_rate: share of different-identity pairs at or below the distance.
        split: which data this was measured on, stored for the logs.
        seed: sampling of at most :data:`MAX_CROPS` crops.

    Returns:
        ``{"distance", "false_match_rate", "true_match_rate", "same_pairs",
        "different_pairs", "split"}``: the distance, and the share of same-identity pairs
        within it.
    """
    emb = np.asarray(embeddings, np.float64)
    labels, frames = np.asarray(labels), np.asarray(frames)
    sequences = np.zeros(len(labels), np.int64) if sequences is None else np.asarray(sequences)
    if len(emb) > MAX_CROPS:
        keep = np.sort(np.random.default_rng(seed).choice(len(emb), MAX_CROPS, replace=False))
        emb, labels, frames, sequences = emb[keep], labels[keep], frames[keep], sequences[keep]
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    upper = np.triu(np.ones((len(emb), len(emb)), bool), k=1)
    other_frame = upper & ((frames[:, None] != frames[None, :])
                           | (sequences[:, None] != sequences[None, :]))
    same_id = labels[:, None] == labels[None, :]
    distance = 1.0 - emb @ emb.T
    same, different = distance[other_frame & same_id], distance[other_frame & ~same_id]
    if not len(same) or not len(different):
        return None
    threshold = float(np.quantile(different, false_match_rate, method="lower"))
    return {"distance": round(threshold, 6), "false_match_rate": float(false_match_rate),
            "true_match_rate": float(np.mean(same <= threshold)),
            "same_pairs": int(len(same)), "different_pairs": int(len(different)),
            "split": str(split)}


def check_match_distance(value: Any, source: str) -> Optional[dict[str, Any]]:
    """Return a stored ``match_distance`` entry after checking it; ValueError naming ``source``.

    None (a file of an older train-reid, or from elsewhere) stays None.
    """
    if value is None:
        return None
    distance = value.get("distance") if isinstance(value, dict) else None
    if (not isinstance(distance, (int, float)) or isinstance(distance, bool)
            or not math.isfinite(distance) or not 0.0 <= distance <= 2.0):
        raise ValueError(f"{source}: match_distance must be a mapping with a 'distance' in "
                         f"[0, 2] (1 - cos), got {value!r:.200}")
    return dict(value)


def describe(match_distance: Optional[dict[str, Any]]) -> str:
    """One line for logs: the distance and what it was measured on."""
    if match_distance is None:
        return "none stored"
    rate = match_distance.get("false_match_rate", DEFAULT_FALSE_MATCH_RATE) * 100.0
    text = (f"{match_distance['distance']:.3f} ({rate:g} % false matches on its "
            f"{match_distance.get('split', 'training')} split")
    if "true_match_rate" in match_distance:
        text += f", {match_distance['true_match_rate'] * 100.0:.0f} % true matches"
    return text + ")"
