"""A tiny synthetic MOTChallenge sequence for the bag tests: boxes moving on a plain background."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 160, 120, 10
# (id, x, y, w, h at frame 1, dx, dy per frame): tall boxes, far apart, all visible throughout
OBJECTS = [
    (1, 10, 20, 16, 40, 3, 1),
    (2, 70, 60, 14, 36, -2, 0),
    (3, 120, 10, 18, 44, -1, 2),
]


def make_mot_sequence(root: Path, frames: int = 8, name: str = "SCENE-01") -> Path:
    """Write ``root/name`` with seqinfo.ini, img1/*.png, gt/gt.txt and det/det.txt."""
    seq = Path(root) / name
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    (seq / "det").mkdir()
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={FPS}\nseqLength={frames}\n"
        f"imWidth={WIDTH}\nimHeight={HEIGHT}\nimExt=.png\n"
    )
    gt_rows, det_rows = [], []
    for f in range(1, frames + 1):
        image = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
        for oid, x, y, w, h, dx, dy in OBJECTS:
            x, y = x + dx * (f - 1), y + dy * (f - 1)
            color = (40 * oid % 255, 255 - 60 * oid, 60 * oid)
            cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), color, -1)
            gt_rows.append(f"{f},{oid},{x},{y},{w},{h},1,1,1.0")
            det_rows.append(f"{f},-1,{x + 1},{y},{w},{h},0.9")
        # one ignored ground-truth row (conf 0) and one distractor class, as MOT17 has
        gt_rows.append(f"{f},50,5,90,10,20,0,1,1.0")
        gt_rows.append(f"{f},51,140,90,10,20,1,8,1.0")
        cv2.imwrite(str(seq / "img1" / f"{f:06d}.png"), image)
    (seq / "gt" / "gt.txt").write_text("\n".join(gt_rows) + "\n")
    (seq / "det" / "det.txt").write_text("\n".join(det_rows) + "\n")
    return seq
