"""MOTChallenge reading and writing."""
import numpy as np
import pytest

from finetrack_ros import mot


def _seq(tmp_path, det_text, seqinfo=True):
    seq = tmp_path / "SEQ-01"
    (seq / "det").mkdir(parents=True)
    (seq / "det" / "det.txt").write_text(det_text)
    if seqinfo:
        (seq / "seqinfo.ini").write_text(
            "[Sequence]\nname=SEQ-01\nimDir=img1\nframeRate=25\nseqLength=3\n"
            "imWidth=640\nimHeight=480\nimExt=.jpg\n")
    return seq


def test_reads_unsorted_rows_and_pads_short_files(tmp_path):
    text = "2,-1,10,20,30,40,0.5\n1,-1,1,2,3,4,0.9\n1,-1,5,6,7,8,0.8\n"
    seq = mot.open_sequence(_seq(tmp_path, text))
    assert seq.info.frame_rate == 25.0 and seq.num_frames() == 3
    rows = mot.read_mot_txt(seq.det_path)
    assert rows.shape == (3, mot.NUM_COLUMNS)
    assert list(rows[:, mot.FRAME]) == [1, 1, 2]
    assert list(rows[:, mot.CLASS]) == [-1, -1, -1]
    dets = mot.load_detections(seq.det_path)
    np.testing.assert_allclose(dets[1].boxes_xyxy, [[1, 2, 4, 6], [5, 6, 12, 14]])
    np.testing.assert_allclose(dets[2].scores, [0.5])
    assert seq.image_path(3).name == "000003.jpg"


def test_missing_score_column_means_score_one_and_ten_columns_are_read(tmp_path):
    six = tmp_path / "six.txt"
    six.write_text("1,-1,1,2,3,4\n")
    assert mot.read_mot_txt(six)[0, mot.CONF] == 1.0
    ten = tmp_path / "ten.txt"
    ten.write_text("3,7,1,2,3,4,0.4,1,0.5,-1\n")
    row = mot.read_mot_txt(ten)[0]
    assert (row[mot.ID], row[mot.CONF], row[mot.CLASS], row[mot.VISIBILITY]) == (7, 0.4, 1, 0.5)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert mot.read_mot_txt(empty).shape == (0, mot.NUM_COLUMNS)


def test_bad_files_name_the_file(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="short.txt.*6 columns"):
        mot.read_mot_txt(short)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        mot.read_mot_txt(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError):
        mot.open_sequence(tmp_path / "no_seq")


def test_results_round_trip(tmp_path):
    rows = [(1, 3, 10.0, 20.0, 30.5, 40.25, 0.9), (2, 3, 11.0, 21.0, 30.0, 40.0, 0.8)]
    path = mot.write_results(tmp_path / "out" / "res.txt", rows)
    assert path.read_text().splitlines()[0] == "1,3,10.00,20.00,30.50,40.25,0.90,-1,-1,-1"
    back = mot.read_mot_txt(path)
    np.testing.assert_allclose(back[:, :7], np.array(rows), atol=1e-2)


def test_sequence_without_seqinfo(tmp_path):
    seq = mot.open_sequence(_seq(tmp_path, "4,-1,1,2,3,4,1\n", seqinfo=False))
    assert seq.info is None and seq.name == "SEQ-01"
    assert seq.num_frames(mot.read_mot_txt(seq.det_path)) == 4


def test_real_mot17_files(shared_data):
    seq = mot.open_sequence(shared_data / "MOT17-mini" / "train" / "MOT17-05-FRCNN")
    assert (seq.info.width, seq.info.height) == (640, 480)
    gt = mot.read_mot_txt(seq.gt_path)
    assert gt.shape[0] > 0
    assert set(np.unique(gt[:, mot.FRAME])) <= set(range(1, seq.num_frames() + 1))
    (first_n,) = (seq.path / "det").glob("det_first*.txt")
    dets = mot.load_detections(first_n)
    assert sorted(dets) == list(range(1, seq.num_frames() + 1))
    assert seq.image_path(1).is_file()
