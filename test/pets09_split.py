"""Cut a frame range of a MOTChallenge sequence into a new sequence folder (frames renumbered
from 1): images linked, gt and det rows shifted, ``seqinfo.ini`` rewritten. Used by the
real-data tests to train on the first part of PETS09-S2L1-dev and track the rest."""
from __future__ import annotations

import configparser
from pathlib import Path

import numpy as np


def _shift_rows(src: Path, dst: Path, first: int, last: int) -> int:
    """Copy the rows of frames ``first..last`` of a MOT text file, frame - (first - 1)."""
    lines = []
    for line in src.read_text().splitlines():
        fields = line.split(",")
        frame = int(float(fields[0]))
        if first <= frame <= last:
            lines.append(",".join([str(frame - first + 1)] + fields[1:]))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("\n".join(lines) + "\n")
    return len(lines)


def cut_sequence(src: Path, dst: Path, first: int, last: int) -> Path:
    """``dst``: frames ``first..last`` of the sequence ``src`` as frames 1..(last-first+1)."""
    info = configparser.ConfigParser()
    info.optionxform = str  # keep the camelCase keys
    info.read(src / "seqinfo.ini")
    seq = info["Sequence"]
    ext, img_dir = seq.get("imExt", ".jpg"), seq.get("imDir", "img1")
    (dst / img_dir).mkdir(parents=True)
    for frame in range(first, last + 1):
        image = src / img_dir / f"{frame:06d}{ext}"
        if not image.is_file():
            raise FileNotFoundError(f"cut_sequence: {image} missing")
        (dst / img_dir / f"{frame - first + 1:06d}{ext}").symlink_to(image)
    for rel in ("gt/gt.txt", "det/det.txt"):
        if (src / rel).is_file():
            _shift_rows(src / rel, dst / rel, first, last)
    seq["name"], seq["seqLength"] = dst.name, str(last - first + 1)
    with open(dst / "seqinfo.ini", "w") as f:
        info.write(f, space_around_delimiters=False)
    return dst


def gt_identities(seq: Path) -> set[int]:
    """Track ids of the non-ignored gt rows (2DMOT2015 flag / MOT16 conf column != 0)."""
    rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    return {int(i) for i in rows[rows[:, 6] != 0, 1]}
