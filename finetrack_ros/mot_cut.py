"""Cut a frame range of a MOTChallenge sequence into a new sequence folder.

Frames ``first..last`` become frames ``1..(last - first + 1)``: images are linked (or
copied), the rows of ``gt/gt.txt`` and ``det/det.txt`` are shifted, ``seqinfo.ini`` is
rewritten. Used to train a Re-ID network on the first part of a real sequence and to track
and score the rest (``finetrack cut``, ``finetrack bench identity``, the PETS09 test).
"""
from __future__ import annotations

import configparser
import shutil
from pathlib import Path

# the MOT text files whose rows are shifted with the frames
MOT_TEXT_FILES = ("gt/gt.txt", "det/det.txt")


def parse_frame_range(text: str) -> tuple[int, int]:
    """``"201-397"`` -> ``(201, 397)``: 1-based, both ends included, first <= last."""
    first, sep, last = text.partition("-")
    try:
        pair = (int(first), int(last)) if sep else (int(first), int(first))
    except ValueError:
        raise ValueError(f"frame range: expected FIRST-LAST such as 1-200, got {text!r}") from None
    if not 1 <= pair[0] <= pair[1]:
        raise ValueError(f"frame range {text!r}: need 1 <= FIRST <= LAST")
    return pair


def _shift_rows(src: Path, dst: Path, first: int, last: int) -> int:
    """Copy the rows of frames ``first..last`` of a MOT text file, frame - (first - 1)."""
    lines = []
    for line in src.read_text().splitlines():
        if not line.strip():
            continue
        fields = line.split(",")
        frame = int(float(fields[0]))
        if first <= frame <= last:
            lines.append(",".join([str(frame - first + 1)] + fields[1:]))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("\n".join(lines) + "\n" if lines else "")
    return len(lines)


def cut_sequence(src: Path, dst: Path, first: int, last: int, copy: bool = False) -> Path:
    """``dst`` (new): frames ``first..last`` of the sequence ``src`` as frames 1..N.

    Images are symbolic links to the (absolute) source images, or copies with ``copy``.
    Raises FileNotFoundError naming the first missing image or a missing ``seqinfo.ini``.
    """
    src, dst = Path(src).resolve(), Path(dst)
    if not (src / "seqinfo.ini").is_file():
        raise FileNotFoundError(f"cut: {src / 'seqinfo.ini'} missing (not a MOT sequence)")
    info = configparser.ConfigParser()
    info.optionxform = str  # keep the camelCase keys
    info.read(src / "seqinfo.ini")
    seq = info["Sequence"]
    ext, img_dir = seq.get("imExt", ".jpg"), seq.get("imDir", "img1")
    images = [src / img_dir / f"{frame:06d}{ext}" for frame in range(first, last + 1)]
    missing = next((image for image in images if not image.is_file()), None)
    if missing is not None:
        raise FileNotFoundError(f"cut: {missing} missing (frames {first}-{last})")
    (dst / img_dir).mkdir(parents=True)
    for index, image in enumerate(images, start=1):
        target = dst / img_dir / f"{index:06d}{ext}"
        if copy:
            shutil.copyfile(image, target)
        else:
            target.symlink_to(image)
    for rel in MOT_TEXT_FILES:
        if (src / rel).is_file():
            _shift_rows(src / rel, dst / rel, first, last)
    seq["name"], seq["seqLength"] = dst.name, str(last - first + 1)
    with open(dst / "seqinfo.ini", "w") as f:
        info.write(f, space_around_delimiters=False)
    return dst
