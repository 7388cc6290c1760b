"""Evaluation with TrackEval's MOTChallenge rules, and the ``finetrack eval`` command."""
import json

import pytest

from finetrack_ros.cli import main
from finetrack_ros.eval import COMBINED, SequencePair, detect_benchmark, evaluate_sequences


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


def _walkers(frames=6, cls=1, conf=1):
    """Two people walking right: rows frame, id, x, y, w, h, conf, class, visibility."""
    return [(f, i, 10 * f + 200 * i, 50, 40, 100, conf, cls, 1.0)
            for f in range(1, frames + 1) for i in (1, 2)]


def _eval(tmp_path, gt_rows, res_rows, benchmark="auto"):
    gt = _write(tmp_path / "S" / "gt" / "gt.txt", gt_rows)
    res = _write(tmp_path / "res.txt", res_rows)
    return evaluate_sequences([SequencePair("S", gt, res)], benchmark)["S"]


def test_perfect_results(tmp_path):
    gt = _walkers()
    res = [(f, i, x, y, w, h, 0.9, -1, -1, -1) for f, i, x, y, w, h, *_ in gt]
    m = _eval(tmp_path, gt, res)
    assert m["MOTA"] == 1.0 and m["IDF1"] == 1.0 and m["HOTA"] == pytest.approx(1.0)
    assert (m["FP"], m["FN"], m["IDSW"], m["TP"]) == (0, 0, 0, 12)


def test_id_switch_misses_and_false_positives_are_counted(tmp_path):
    gt = _walkers()
    res = [(f, i if f < 4 else i + 10, x, y, w, h, 0.9) for f, i, x, y, w, h, *_ in gt]
    res = [r for r in res if not (r[0] == 6 and r[1] == 12)]  # one miss
    res.append((2, 99, 900, 300, 40, 100, 0.9))  # one false positive
    m = _eval(tmp_path, gt, res)
    assert (m["IDSW"], m["FN"], m["FP"]) == (2, 1, 1)
    assert m["MOTA"] == pytest.approx(1 - (2 + 1 + 1) / 12)
    assert m["IDF1"] < 1.0


def test_mot15_zero_confidence_rows_are_ignored(tmp_path):
    gt = [r[:6] + (1, -1, -1, -1) for r in _walkers()]
    gt += [(f, 3, 500, 300, 40, 100, 0, -1, -1, -1) for f in range(1, 7)]  # ignore rows
    res = [(f, i, x, y, w, h, 0.9) for f, i, x, y, w, h, *_ in gt[:12]]
    m = _eval(tmp_path, gt, res)
    assert detect_benchmark(tmp_path / "S" / "gt" / "gt.txt") == "MOT15"
    assert (m["FN"], m["FP"], m["MOTA"]) == (0, 0, 1.0)


def test_mot17_distractors_and_other_classes(tmp_path):
    gt = _walkers()
    gt += [(f, 3, 500, 300, 40, 100, 1, 8, 1.0) for f in range(1, 7)]  # distractor
    gt += [(f, 4, 700, 300, 80, 60, 1, 3, 1.0) for f in range(1, 7)]  # car
    res = [(f, i, x, y, w, h, 0.9) for f, i, x, y, w, h, *_ in gt if i in (1, 2, 3)]
    m = _eval(tmp_path, gt, res)
    assert detect_benchmark(tmp_path / "S" / "gt" / "gt.txt") == "MOT17"
    # boxes on the distractor are dropped, not FP; the car is not a pedestrian, not FN
    assert (m["FP"], m["FN"], m["MOTA"]) == (0, 0, 1.0)
    # with MOT15 rules (no preprocessing) the distractor and the car count as GT
    m15 = _eval(tmp_path, gt, res, benchmark="MOT15")
    assert m15["FN"] == 6 and m15["FP"] == 0


def test_reference_tracker_scores_as_the_devkit(shared_data):
    root = shared_data / "TUD"
    pairs = [SequencePair(n, root / n / "gt" / "gt.txt", root / n / "reference_tracker_test.txt")
             for n in ("TUD-Campus", "TUD-Stadtmitte")]
    res = evaluate_sequences(pairs)
    # README: MOTA 52.6 / IDF1 55.8 (Campus), MOTA 56.4 / IDF1 64.5 (Stadtmitte)
    assert round(100 * res["TUD-Campus"]["MOTA"], 1) == 52.6
    assert round(100 * res["TUD-Campus"]["IDF1"], 1) == 55.8
    assert round(100 * res["TUD-Stadtmitte"]["MOTA"], 1) == 56.4
    assert round(100 * res["TUD-Stadtmitte"]["IDF1"], 1) == 64.5
    assert res[COMBINED]["FN"] == res["TUD-Campus"]["FN"] + res["TUD-Stadtmitte"]["FN"]


def test_cli_json_table_csv_and_folder_mode(tmp_path, capsys):
    gt = _walkers()
    res = [(f, i, x, y, w, h, 0.9) for f, i, x, y, w, h, *_ in gt]
    for name in ("A", "B"):
        _write(tmp_path / name / "gt" / "gt.txt", gt)
        _write(tmp_path / "results" / f"{name}.txt", res)
    assert main(["eval", "--gt", str(tmp_path / "A"), "--results",
                 str(tmp_path / "results" / "A.txt"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["A"]["MOTA"] == 1.0 and COMBINED in data
    csv_path = tmp_path / "m.csv"
    assert main(["eval", "--gt", str(tmp_path / "A"), str(tmp_path / "B"), "--results",
                 str(tmp_path / "results"), "--csv", str(csv_path),
                 "--plot", str(tmp_path / "m.png")]) == 0
    out = capsys.readouterr().out
    assert "HOTA" in out and "COMBINED" in out and "B " in out
    assert csv_path.read_text().splitlines()[0].startswith("sequence,HOTA")
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["eval", "--gt", str(tmp_path / "A"), "--results", str(tmp_path / "x.txt")]) == 2
    assert "x.txt" in capsys.readouterr().err


def test_benchmark_detection_reads_world_coordinates_as_mot15(tmp_path):
    world = _write(tmp_path / "w.txt", [(1, 1, 10, 20, 30, 40, 1, 4.4852, 5.5016, 0)])
    assert detect_benchmark(world) == "MOT15"
    classes = _write(tmp_path / "c.txt", [(1, 1, 10, 20, 30, 40, 1, 7, 0.5)])
    assert detect_benchmark(classes) == "MOT17"


def test_eval_of_bags_equals_eval_of_text_files(tmp_path, capsys):
    """--gt / --results given as rosbag2 folders are exported with bag.mot_export first."""
    pytest.importorskip("rosbags")
    from bag_scene import make_mot_sequence

    seq = make_mot_sequence(tmp_path, frames=6)
    bag = tmp_path / "scene_bag"
    assert main(["bag", "from-mot", str(seq), str(bag)]) == 0
    out_bag, res = tmp_path / "tracks_bag", tmp_path / "res.txt"
    assert main(["track", str(bag), "--out", str(res), "--out-bag", str(out_bag)]) == 0
    capsys.readouterr()
    assert main(["eval", "--gt", str(bag), "--results", str(out_bag), "--json"]) == 0
    from_bags = json.loads(capsys.readouterr().out)[COMBINED]
    assert main(["eval", "--gt", str(seq), "--results", str(res), "--json"]) == 0
    from_text = json.loads(capsys.readouterr().out)[COMBINED]
    assert from_bags == pytest.approx(from_text)
    assert from_text["MOTA"] == 1.0  # the conf-0 row and the distractor are not counted
