"""With Re-ID off, ``finetrack track`` equals the official ByteTrack frame by frame.

The references in ``../shared/data`` are the tracks of ifzhang/ByteTrack's unmodified
``BYTETracker`` on each sequence's ``det/det.txt`` at the sequence frame rate (see that
folder's README): ``official_bytetrack_mot17.txt`` with the arguments of its ``tools/track.py``
(track_thresh 0.6, match_thresh 0.9, w*h > 100) and ``official_bytetrack_demo.txt`` with those
of ``tools/demo_track.py`` (0.5, 0.8, w*h > 10), which are ``TrackerConfig``'s defaults.
Both files hold boxes with 2 decimals, so boxes must agree within 0.01 px (one rounding
step); the same track may carry another id number, so ids must map one-to-one.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SEQUENCES = ["TUD/TUD-Campus", "TUD/TUD-Stadtmitte", "PETS09-S2L1-dev"]
# preset -> (CLI arguments, reference file)
PRESETS = {
    "mot17": (["--config", "config/bytetrack_mot17.yaml"], "official_bytetrack_mot17.txt"),
    "demo": ([], "official_bytetrack_demo.txt"),  # TrackerConfig defaults = demo_track.py
}
BOX_TOL_PX = 0.01 + 1e-6  # both files round to 2 decimals


def read_tracks(path: Path) -> dict[int, np.ndarray]:
    """{frame: (R, 6) rows frame, id, x, y, w, h} of a MOT results file."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)[:, :6]
    return {int(f): rows[rows[:, 0] == f] for f in np.unique(rows[:, 0])}


def _match_frame(frame: int, ours: np.ndarray, ref: np.ndarray) -> list[tuple[int, int]]:
    """(our id, reference id) of each box of one frame; fails on a box with no partner."""
    assert len(ours) == len(ref), f"frame {frame}: {len(ours)} boxes, reference {len(ref)}"
    pairs, used = [], set()
    for row in ours:
        dist = np.abs(ref[:, 2:6] - row[2:6]).max(axis=1)
        j = int(np.argmin(dist))
        assert dist[j] <= BOX_TOL_PX and j not in used, (
            f"frame {frame}: track {int(row[1])} box {row[2:6]} has no reference box "
            f"(closest {dist[j]:.4f} px off)")
        used.add(j)
        pairs.append((int(row[1]), int(ref[j, 1])))
    return pairs


def assert_same_tracks(ours: dict[int, np.ndarray], ref: dict[int, np.ndarray]) -> int:
    """Check same frames, same boxes, ids equal up to a one-to-one map; return the box count."""
    assert sorted(ours) == sorted(ref), "the frames with tracks differ"
    to_ref: dict[int, int] = {}
    to_ours: dict[int, int] = {}
    for frame in sorted(ref):
        for mine, theirs in _match_frame(frame, ours[frame], ref[frame]):
            assert to_ref.setdefault(mine, theirs) == theirs, (
                f"frame {frame}: track {mine} is reference track {theirs}, "
                f"earlier {to_ref[mine]}")
            assert to_ours.setdefault(theirs, mine) == mine, (
                f"frame {frame}: reference track {theirs} is track {mine}, "
                f"earlier {to_ours[theirs]}")
    return sum(len(rows) for rows in ref.values())


def test_comparison_notices_a_swapped_id_and_a_moved_box():
    ref = {1: np.array([[1, 1, 0, 0, 10, 20], [1, 2, 50, 0, 10, 20]]),
           2: np.array([[2, 1, 1, 0, 10, 20], [2, 2, 51, 0, 10, 20]])}
    renamed = {f: rows + [0, 6, 0, 0, 0, 0] for f, rows in ref.items()}
    assert assert_same_tracks(renamed, ref) == 4  # ids 7, 8 for 1, 2: same tracks
    swapped = {1: ref[1], 2: ref[2][[1, 0]]}  # frame 2: rows in another order, ids swapped
    swapped[2][:, 1] = [1, 2]
    with pytest.raises(AssertionError, match="frame 2: track 1 is reference track 2, earlier 1"):
        assert_same_tracks(swapped, ref)
    moved = {1: ref[1], 2: ref[2] + [0, 0, 0.02, 0, 0, 0]}
    with pytest.raises(AssertionError, match="no reference box"):
        assert_same_tracks(moved, ref)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_iou_only_tracks_equal_official_bytetrack(shared_data, repo_root, tmp_path, sequence,
                                                  preset):
    args, reference = PRESETS[preset]
    seq = shared_data / sequence
    out = tmp_path / "tracks.txt"
    cmd = [sys.executable, "-m", "finetrack_ros.cli", "track", str(seq), "--seq-frame-rate",
           "--out", str(out), *args]
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    boxes = assert_same_tracks(read_tracks(out), read_tracks(seq / reference))
    assert boxes > 250  # 286 .. 2143 boxes per sequence
