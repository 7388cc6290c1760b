"""MOTChallenge sequences: ``seqinfo.ini``, ``img1/``, ``det/det.txt``, ``gt/gt.txt``, results.

Text rows are ``frame, id, x, y, w, h, conf, class, visibility[, z]`` with 1-based frames and
tlwh boxes in pixels. Readers accept 6- to 10-column files, unsorted rows and a missing score
column (score 1); they return rows sorted by frame.

Hostile rows: a frame that is not a whole number in 1..``MAX_FRAME`` is refused (naming the
file and line), since the frame count sizes the work of ``track`` and ``eval``.
``load_detections`` drops boxes that cannot be tracked (non-finite values, width or height
<= 0, frames past the sequence's end) with one :class:`MotInputWarning` per file.
"""
from __future__ import annotations

import configparser
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from finetrack_ros.boxes import tlwh_to_xyxy, xyxy_to_tlwh
from finetrack_ros.structures import Detections

# column indices of a MOTChallenge row (padded to NUM_COLUMNS by read_mot_txt)
FRAME, ID, X, Y, W, H, CONF, CLASS, VISIBILITY = range(9)
NUM_COLUMNS = 10
# values for columns a short file lacks: conf 1, class/visibility/z -1
_PAD = np.array([np.nan] * 6 + [1.0, -1.0, -1.0, -1.0])
# Largest accepted frame number (~9 h at 30 fps). Work and memory of track/eval grow with the
# last frame, so a typo such as 1e8 would loop for an hour or exhaust memory.
MAX_FRAME = 1_000_000


class MotInputWarning(UserWarning):
    """Rows of a MOTChallenge file were skipped; the message names the file and the rows."""


@dataclass
class SeqInfo:
    """The ``[Sequence]`` section of ``seqinfo.ini``."""

    name: str
    frame_rate: float
    seq_length: int
    width: int
    height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"


@dataclass
class MotSequence:
    """A sequence folder; ``info`` is None when it has no ``seqinfo.ini``."""

    path: Path
    info: Optional[SeqInfo]

    @property
    def name(self) -> str:
        return self.info.name if self.info else self.path.name

    @property
    def det_path(self) -> Path:
        return self.path / "det" / "det.txt"

    @property
    def gt_path(self) -> Path:
        return self.path / "gt" / "gt.txt"

    def image_path(self, frame: int) -> Path:
        """Image of 1-based ``frame`` (``img1/000001.jpg``)."""
        info = self.info or SeqInfo(self.name, 30.0, 0, 0, 0)
        return self.path / info.im_dir / f"{frame:06d}{info.im_ext}"

    def num_frames(self, rows: Optional[np.ndarray] = None) -> int:
        """Return the sequence length in frames.

        ``seqLength`` from seqinfo.ini, else the last numbered image, else the last frame in
        ``rows``.
        """
        if self.info and self.info.seq_length > 0:
            return self.info.seq_length
        last_image = self.last_image_frame()
        if last_image:
            return last_image
        if rows is not None and len(rows):
            return int(rows[:, FRAME].max())
        return 0


    def last_image_frame(self) -> int:
        """Return the largest frame number among ``img1/NNNNNN.jpg`` (0 without images)."""
        info = self.info or SeqInfo(self.name, 30.0, 0, 0, 0)
        folder = self.path / info.im_dir
        if not folder.is_dir():
            return 0
        stems = (p.stem for p in folder.iterdir() if p.suffix == info.im_ext)
        return max((int(s) for s in stems if s.isdigit() and int(s) <= MAX_FRAME), default=0)


def is_sequence_dir(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and ((path / "seqinfo.ini").is_file() or (path / "det").is_dir()
                              or (path / "gt").is_dir())


def open_sequence(path: str | Path) -> MotSequence:
    """Open a MOTChallenge sequence folder (``seqinfo.ini`` optional)."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"MOT sequence folder not found: {path}")
    ini = path / "seqinfo.ini"
    return MotSequence(path, read_seqinfo(ini) if ini.is_file() else None)


def read_seqinfo(path: str | Path) -> SeqInfo:
    parser = configparser.ConfigParser()
    parser.read(path)
    if "Sequence" not in parser:
        raise ValueError(f"{path}: no [Sequence] section")
    sec = parser["Sequence"]
    try:
        return SeqInfo(
            name=sec.get("name", Path(path).parent.name),
            frame_rate=float(sec.get("frameRate", 30)),
            seq_length=int(sec.get("seqLength", 0)),
            width=int(sec.get("imWidth", 0)),
            height=int(sec.get("imHeight", 0)),
            im_dir=sec.get("imDir", "img1"),
            im_ext=sec.get("imExt", ".jpg"),
        )
    except ValueError as err:
        raise ValueError(f"{path}: bad value in [Sequence]: {err}") from None


def read_mot_txt(path: str | Path) -> np.ndarray:
    """Read a MOTChallenge text file into (R, 10) float64 rows sorted by frame (stable).

    Missing trailing columns are filled with conf 1 and class/visibility/z -1.

    Raises:
        ValueError: naming the file (and line) for text that is not numbers in 6 or more
            columns, or a frame that is not a whole number in 1..``MAX_FRAME``.
    """
    return read_mot_lines(path)[0]


def read_mot_lines(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_mot_txt` rows and, for each, its 1-based line number in the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MOT file not found: {path}")
    numbered = [(i, line) for i, line in enumerate(path.read_text().splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        return np.zeros((0, NUM_COLUMNS)), np.zeros(0, np.int64)
    line_numbers = np.array([i for i, _ in numbered], np.int64)
    delimiter = "," if "," in numbered[0][1] else None
    try:
        data = np.loadtxt([line for _, line in numbered], delimiter=delimiter, ndmin=2,
                          dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path}: not a MOTChallenge text file ({err})") from None
    if data.shape[1] < 6:
        raise ValueError(f"{path}: rows need at least 6 columns "
                         f"(frame, id, x, y, w, h), got {data.shape[1]}")
    rows = np.tile(_PAD, (len(data), 1))
    ncol = min(data.shape[1], NUM_COLUMNS)
    rows[:, :ncol] = data[:, :ncol]
    _check_frames(rows[:, FRAME], line_numbers, path)
    order = np.argsort(rows[:, FRAME], kind="stable")
    return rows[order], line_numbers[order]


def _check_frames(frames: np.ndarray, line_numbers: np.ndarray, path: Path) -> None:
    with np.errstate(invalid="ignore"):
        bad = ~((frames >= 1) & (frames <= MAX_FRAME) & (frames == np.round(frames)))
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(f"{path} line {line_numbers[first]}: frame {frames[first]:g}: frames "
                         f"must be whole numbers in 1..{MAX_FRAME} ({int(bad.sum())} such rows)")


def rows_to_detections(rows: np.ndarray) -> dict[int, Detections]:
    """Group det rows by frame: {frame: Detections (xyxy, score = conf, class 0)}."""
    out: dict[int, Detections] = {}
    if len(rows) == 0:
        return out
    frames, starts = np.unique(rows[:, FRAME].astype(np.int64), return_index=True)
    ends = list(starts[1:]) + [len(rows)]
    for frame, s, e in zip(frames, starts, ends):
        chunk = rows[s:e]
        out[int(frame)] = Detections(tlwh_to_xyxy(chunk[:, X:H + 1]), chunk[:, CONF],
                                     np.zeros(len(chunk), np.int64))
    return out


def load_detections(path: str | Path, num_frames: Optional[int] = None
                    ) -> dict[int, Detections]:
    """Read the detections of a ``det.txt``, per 1-based frame.

    Rows that cannot be tracked are dropped, with one :class:`MotInputWarning` naming the
    file, the count and the first line of each kind: non-finite x/y/w/h/score, width or
    height <= 0, and (when ``num_frames`` is given) frames after ``num_frames``. Dropping
    keeps a long run going past one bad detector output; the warning makes it visible.
    """
    rows, lines = read_mot_lines(path)
    return rows_to_detections(drop_untrackable_rows(rows, lines, path, num_frames))


def drop_untrackable_rows(rows: np.ndarray, lines: np.ndarray, path: str | Path,
                          num_frames: Optional[int] = None) -> np.ndarray:
    """``rows`` without the ones :func:`load_detections` drops (warning once per kind)."""
    values = rows[:, X:CONF + 1]
    finite = np.isfinite(values).all(axis=1)
    with np.errstate(invalid="ignore"):
        positive = (rows[:, W] > 0) & (rows[:, H] > 0)
    in_sequence = rows[:, FRAME] <= (num_frames if num_frames else MAX_FRAME)
    checks = (("non-finite x/y/w/h/score", ~finite),
              ("width or height <= 0", finite & ~positive),
              (f"frame after the sequence's last frame {num_frames}", ~in_sequence))
    for reason, bad in checks:
        if bad.any():
            first = int(np.argmax(bad))
            warnings.warn(f"{path}: dropped {int(bad.sum())} detection rows with {reason} "
                          f"(first: line {lines[first]})", MotInputWarning, stacklevel=3)
    return rows[finite & positive & in_sequence]


def track_rows(frame: int, tracks: Iterable) -> list[tuple]:
    """(frame, id, x, y, w, h, score) rows for tracks with ``track_id``, ``tlwh``, ``score``."""
    return [(frame, t.track_id, *map(float, t.tlwh), float(t.score)) for t in tracks]


def write_results(path: str | Path, rows: Iterable[tuple]) -> Path:
    """Write MOTChallenge results ``frame,id,x,y,w,h,score,-1,-1,-1`` (ByteTrack's format).

    Rows of 10 values ``(frame, id, x, y, w, h, score, wx, wy, wz)`` are written in the
    2DMOT2015 layout with the world position (metres, 4 decimals) in the last three columns;
    ``nan`` there means the box has no world position (its foot is not on the ground).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for frame, tid, x, y, w, h, score, *world in rows:
            tail = ",".join(f"{v:.4f}" for v in world) if world else "-1,-1,-1"
            f.write(f"{int(frame)},{int(tid)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{score:.2f},"
                    f"{tail}\n")
    return path


def detections_to_rows(frame: int, dets: Detections) -> list[tuple]:
    """Rows for writing detections in MOT layout (id -1)."""
    tlwh = xyxy_to_tlwh(dets.boxes_xyxy).reshape(-1, 4)
    return [(frame, -1, *map(float, b), float(s)) for b, s in zip(tlwh, dets.scores)]
