"""Write a synthetic sequence in MOTChallenge layout.

``<out>/seqinfo.ini``, ``<out>/img1/000001.jpg ...``, ``<out>/gt/gt.txt`` with rows
``frame, id, x, y, w, h, conf, class, visibility`` (class 1 = pedestrian; conf/visibility
as documented in :mod:`finetrack_ros.sim.scene`), and ``<out>/det/det.txt`` with rows
``frame, -1, x, y, w, h, score, -1, -1, -1`` derived from the GT with detector-like noise.
Frames are 1-based, boxes tlwh in 0-based pixels.
"""
from __future__ import annotations

import configparser
from pathlib import Path

import cv2
import numpy as np

from finetrack_ros.outputs import DIRECTORY, check_output
from finetrack_ros.progress import progress_bar
from finetrack_ros.sim.config import SceneConfig
from finetrack_ros.sim.noisy_detections import noisy_detections
from finetrack_ros.sim.scene import SceneGenerator

PEDESTRIAN_CLASS = 1  # MOT17 class id of "pedestrian"
IMAGE_DIR = "img1"
IMAGE_EXT = ".jpg"


def write_sequence(out_dir: str | Path, config: SceneConfig, name: str | None = None,
                   progress: bool = True, overwrite: bool = False) -> Path:
    """Render ``config`` into ``out_dir`` (created).

    Args:
        out_dir: sequence folder to write; must be absent or empty unless ``overwrite``.
        config: the scene; ``config.seed`` makes it reproducible.
        name: sequence name in ``seqinfo.ini``; default the folder name.
        progress: show progress (finetrack_ros.progress: a bar in a terminal).
        overwrite: replace an earlier sequence in ``out_dir``: its images, gt, det and
            seqinfo.ini are removed first (no stale frames); other files are kept.

    Returns:
        The sequence folder.

    Raises:
        ValueError: ``out_dir`` is a file, or not empty and ``overwrite`` is False.
    """
    out = check_output(out_dir, kind=DIRECTORY, overwrite=overwrite, option="output folder")
    if overwrite:
        _remove_sequence_files(out)
    (out / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    (out / "gt").mkdir(exist_ok=True)
    (out / "det").mkdir(exist_ok=True)
    generator = SceneGenerator(config)
    gt_rows, det_rows = [], []
    size = (config.width, config.height)
    for sim_frame in progress_bar(generator, total=len(generator), desc=f"sim {out.name}",
                          disable=not progress):
        truth = sim_frame.truth
        path = out / IMAGE_DIR / f"{truth.frame:06d}{IMAGE_EXT}"
        if not cv2.imwrite(str(path), sim_frame.image,
                           [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]):
            raise ValueError(f"sim: could not write image {path}")
        for tid, box, vis, consider in zip(truth.ids, truth.boxes_tlwh, truth.visibility,
                                           truth.consider):
            gt_rows.append(f"{truth.frame},{tid},{box[0]:.0f},{box[1]:.0f},{box[2]:.0f},"
                           f"{box[3]:.0f},{int(consider)},{PEDESTRIAN_CLASS},{vis:.4f}")
        boxes, scores = noisy_detections(truth, config.detections, size,
                                         generator.detection_rng)
        for box, score in zip(boxes, scores):
            det_rows.append(f"{truth.frame},-1,{box[0]:.2f},{box[1]:.2f},{box[2]:.2f},"
                            f"{box[3]:.2f},{score:.4f},-1,-1,-1")
    (out / "gt" / "gt.txt").write_text("\n".join(gt_rows) + ("\n" if gt_rows else ""))
    (out / "det" / "det.txt").write_text("\n".join(det_rows) + ("\n" if det_rows else ""))
    _write_seqinfo(out / "seqinfo.ini", name or out.name, config)
    return out


def _remove_sequence_files(out: Path) -> None:
    """Remove the files of :func:`write_sequence`, so a shorter new scene leaves no old frames."""
    images = out / IMAGE_DIR
    if images.is_dir():
        for path in images.glob(f"*{IMAGE_EXT}"):
            path.unlink()
    for path in (out / "gt" / "gt.txt", out / "det" / "det.txt", out / "seqinfo.ini"):
        path.unlink(missing_ok=True)


def _write_seqinfo(path: Path, name: str, config: SceneConfig) -> None:
    info = configparser.ConfigParser()
    info.optionxform = str  # keep MOT's camelCase keys
    info["Sequence"] = {
        "name": name, "imDir": IMAGE_DIR, "frameRate": f"{config.fps:g}",
        "seqLength": str(config.frames), "imWidth": str(config.width),
        "imHeight": str(config.height), "imExt": IMAGE_EXT,
    }
    with open(path, "w") as handle:
        info.write(handle, space_around_delimiters=False)


def read_gt(path: str | Path) -> np.ndarray:
    """(N, 9) float64 rows of a MOT ``gt.txt`` (for checks; ``finetrack_ros.mot`` reads MOT)."""
    table = np.loadtxt(path, delimiter=",", ndmin=2)
    return table.reshape(-1, 9) if table.size else np.zeros((0, 9))
