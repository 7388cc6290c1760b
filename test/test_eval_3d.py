"""3D MOT 2015 scoring (finetrack_ros.eval.world, ``finetrack eval --3d``), ``track --camera``."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from finetrack_ros.cli import main
from finetrack_ros.mot import read_mot_txt, write_results

pytest.importorskip("motmetrics")

# frame, id, x, y, w, h, flag, wx, wy, wz: two people, four frames, one ignore row
GT = """\
1,1,10,10,20,50,1,0.0,0.0,0
1,2,60,10,20,50,1,5.0,0.0,0
1,3,90,10,20,50,0,10.0,10.0,0
2,1,10,10,20,50,1,0.0,0.0,0
2,2,60,10,20,50,1,5.0,0.0,0
3,1,10,10,20,50,1,0.0,0.0,0
3,2,60,10,20,50,1,5.0,0.0,0
4,1,10,10,20,50,1,0.0,0.0,0
4,2,60,10,20,50,1,5.0,0.0,0
"""


def results_rows():
    """Track 10 follows person 1 (0.1 m off); person 2 is 20 then 30 (one switch, 0.3 m off).

    Also: a result on the ignore row (not counted), one without a ground point (left out)
    and a false positive far from everyone in frame 4.
    """
    rows = []
    for frame in range(1, 5):
        rows.append((frame, 10, 10, 10, 20, 50, 0.9, 0.1, 0.0, 0.0))
        rows.append((frame, 20 if frame <= 2 else 30, 60, 10, 20, 50, 0.9, 5.0, 0.3, 0.0))
    rows.append((1, 40, 90, 10, 20, 50, 0.9, 10.2, 10.0, 0.0))
    rows.append((2, 50, 90, 10, 20, 50, 0.9, np.nan, np.nan, np.nan))
    rows.append((4, 60, 90, 10, 20, 50, 0.9, 20.0, 20.0, 0.0))
    return rows


def test_eval_3d_gives_the_hand_counted_scores(tmp_path, capsys):
    gt = tmp_path / "gt.txt"
    gt.write_text(GT)
    res = write_results(tmp_path / "res.txt", results_rows())
    assert np.isnan(read_mot_txt(res)[:, 7]).sum() == 1  # written as nan, read back as NaN
    assert main(["eval", "--3d", "--gt", str(gt), "--results", str(res), "--json"]) == 0
    score = json.loads(capsys.readouterr().out)["gt"]
    # 8 scored GT points; 1 switch, 1 false positive, 0 misses
    assert score["IDSW"] == 1 and score["FP"] == 1 and score["FN"] == 0 and score["TP"] == 8
    assert score["MOTA"] == pytest.approx(1 - 2 / 8)
    assert score["IDF1"] == pytest.approx(2 * 6 / (8 + 9))  # IDTP 4 + 2; 9 scored results
    assert score["median_error_m"] == pytest.approx(0.2)
    assert score["p90_error_m"] == pytest.approx(0.3)
    assert main(["eval", "--3d", "--max-distance", "0.2", "--gt", str(gt),
                 "--results", str(res), "--json"]) == 0
    tight = json.loads(capsys.readouterr().out)["gt"]
    assert tight["TP"] == 4 and tight["FN"] == 4  # 0.3 m is not a match within 0.2 m


def test_eval_3d_refuses_results_without_world_columns(tmp_path, capsys):
    gt = tmp_path / "gt.txt"
    gt.write_text(GT)
    res = write_results(tmp_path / "res.txt", [r[:7] for r in results_rows()])
    assert main(["eval", "--3d", "--gt", str(gt), "--results", str(res)]) == 2
    assert "no world positions in columns 8-9" in capsys.readouterr().err


def test_track_with_camera_scores_on_pets09_in_3d_and_2d(shared_data, tmp_path, capsys):
    seq = shared_data / "PETS09-S2L1-dev"
    out, no_ground = {}, {}
    for world in ("filtered", "projected"):
        out[world] = tmp_path / f"{world}.txt"
        assert main(["track", str(seq), "--seq-frame-rate", "--camera",
                     str(seq / "camera.yaml"), "--world", world, "--out",
                     str(out[world])]) == 0
        printed = re.search(r"(\d+) boxes without a ground point", capsys.readouterr().out)
        no_ground[world] = int(printed.group(1))
    plain = tmp_path / "plain.txt"
    assert main(["track", str(seq), "--seq-frame-rate", "--out", str(plain)]) == 0
    rows, plain_rows = read_mot_txt(out["projected"]), read_mot_txt(plain)
    np.testing.assert_array_equal(rows[:, :7], plain_rows[:, :7])  # 2D is untouched
    assert (plain_rows[:, 7:] == -1).all()
    # feet past max_range_m (50 m: people at the far end of the square, not annotated)
    assert 0 < no_ground["projected"] == np.isnan(rows[:, 7]).sum() < len(rows) / 20
    capsys.readouterr()
    scores = {}
    for world, path in out.items():
        assert main(["eval", "--3d", "--gt", str(seq), "--results", str(path), "--json"]) == 0
        scores[world] = json.loads(capsys.readouterr().out)[seq.name]
    for score in scores.values():  # IoU-only tracking of the public detections
        assert score["MOTA"] > 0.7 and score["median_error_m"] < 0.4
    # the 2D scores of a 10-column file are those of the plain file
    assert main(["eval", "--gt", str(seq), "--results", str(out["filtered"]), "--json"]) == 0
    with_world = json.loads(capsys.readouterr().out)[seq.name]
    assert main(["eval", "--gt", str(seq), "--results", str(plain), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[seq.name] == with_world
