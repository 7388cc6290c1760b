"""Self-made MOTChallenge data for the training tests: coloured 'people' walking on noise.

``make_synthetic_mot`` is imported by the other ``test_train_*`` files so they run without
the real data.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_H, IMAGE_W = 144, 256
PERSON_H, PERSON_W = 64, 28


def _draw_person(image: np.ndarray, x: int, y: int, colours: np.ndarray) -> None:
    """Head, shirt and trousers, each its identity's colour; (x, y) = top-left."""
    head, shirt, legs = (tuple(int(v) for v in c) for c in colours)
    cv2.circle(image, (x + PERSON_W // 2, y + 8), 7, head, -1)
    cv2.rectangle(image, (x + 2, y + 16), (x + PERSON_W - 3, y + 38), shirt, -1)
    cv2.rectangle(image, (x + 5, y + 39), (x + PERSON_W - 6, y + PERSON_H - 1), legs, -1)


def make_synthetic_mot(root: Path, num_sequences: int = 2, num_frames: int = 6,
                       num_people: int = 4, seed: int = 0) -> list[Path]:
    """Write ``root/SYN-XX/{img1,gt,seqinfo.ini}``; returns the sequence directories.

    gt.txt also holds rows the Re-ID data must drop: a class-2 box, a conf-0 box and a box
    of visibility 0.05.
    """
    rng = np.random.default_rng(seed)
    seq_dirs = []
    for s in range(num_sequences):
        seq_dir = root / f"SYN-{s:02d}"
        (seq_dir / "img1").mkdir(parents=True)
        (seq_dir / "gt").mkdir()
        colours = rng.integers(0, 256, size=(num_people, 3, 3))
        xs = rng.uniform(0, IMAGE_W - PERSON_W, num_people)
        ys = rng.uniform(0, IMAGE_H - PERSON_H, num_people)
        rows = []
        for frame in range(1, num_frames + 1):
            image = rng.integers(60, 120, size=(IMAGE_H, IMAGE_W, 3), dtype=np.uint8)
            xs = np.clip(xs + rng.normal(0, 3, num_people), 0, IMAGE_W - PERSON_W)
            ys = np.clip(ys + rng.normal(0, 2, num_people), 0, IMAGE_H - PERSON_H)
            for p in range(num_people):
                _draw_person(image, int(xs[p]), int(ys[p]), colours[p])
                x, y = int(xs[p]), int(ys[p])
                rows.append(f"{frame},{p + 1},{x},{y},{PERSON_W},{PERSON_H},1,1,1.0")
            rows.append(f"{frame},90,5,5,20,40,1,2,1.0")   # not a pedestrian
            rows.append(f"{frame},91,5,5,20,40,0,1,1.0")   # ignored (conf 0)
            rows.append(f"{frame},92,5,5,20,40,1,1,0.05")  # nearly invisible
            cv2.imwrite(str(seq_dir / "img1" / f"{frame:06d}.jpg"), image)
        (seq_dir / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
        (seq_dir / "seqinfo.ini").write_text(
            f"[Sequence]\nname=SYN-{s:02d}\nimDir=img1\nframeRate=30\nseqLength={num_frames}\n"
            f"imWidth={IMAGE_W}\nimHeight={IMAGE_H}\nimExt=.jpg\n")
        seq_dirs.append(seq_dir)
    return seq_dirs


def test_synthetic_sequences_have_mot_layout(tmp_path):
    seqs = make_synthetic_mot(tmp_path, num_sequences=1, num_frames=2, num_people=3)
    assert sorted(p.name for p in (seqs[0] / "img1").iterdir()) == ["000001.jpg", "000002.jpg"]
    rows = np.loadtxt(seqs[0] / "gt" / "gt.txt", delimiter=",")
    assert rows.shape == (2 * (3 + 3), 9)
