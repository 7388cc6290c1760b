"""``finetrack track`` on MOT sequences, end to end with ``finetrack eval``."""
import numpy as np
import pytest

from finetrack_ros.cli import main
from finetrack_ros.mot import read_mot_txt


def _toy_sequence(root, frames=8):
    """Two people walking, detections with jitter, one low-score frame, a 3-column-short det."""
    seq = root / "TOY-01"
    (seq / "det").mkdir(parents=True)
    (seq / "gt").mkdir()
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname=TOY-01\nimDir=img1\nframeRate=30\nseqLength={frames}\n"
        "imWidth=640\nimHeight=480\nimExt=.jpg\n")
    det, gt = [], []
    for f in range(1, frames + 1):
        for i in (1, 2):
            x, y = 50 + 8 * f + 250 * (i - 1), 100
            gt.append(f"{f},{i},{x},{y},40,100,1,1,1\n")
            score = 0.3 if (f == 5 and i == 2) else 0.9
            det.append(f"{f},-1,{x + 1},{y - 1},40,100,{score}\n")
    (seq / "det" / "det.txt").write_text("".join(reversed(det)))  # unsorted on purpose
    (seq / "gt" / "gt.txt").write_text("".join(gt))
    return seq


def test_track_writes_results_that_score_perfectly(tmp_path, capsys):
    seq = _toy_sequence(tmp_path)
    out = tmp_path / "res" / "TOY-01.txt"
    assert main(["track", str(seq), "--out", str(out), "--config",
                 "config/bytetrack_mot17.yaml", "--set", "track_buffer=10"]) == 0
    summary = capsys.readouterr().out
    assert "TOY-01: tracked 8/8 frames" in summary and "2 tracks" in summary
    rows = read_mot_txt(out)
    assert sorted(set(rows[:, 1].astype(int))) == [1, 2]
    assert len(rows) == 16  # the low-score box of frame 5 keeps track 2 alive (stage 2)
    assert main(["eval", "--gt", str(seq), "--results", str(out), "--json"]) == 0
    assert '"MOTA": 1.0' in capsys.readouterr().out


def test_track_reports_bad_settings_without_traceback(tmp_path, capsys):
    seq = _toy_sequence(tmp_path)
    assert main(["track", str(seq), "--out", str(tmp_path / "r.txt"),
                 "--set", "track_tresh=0.5"]) == 2
    assert "track_tresh" in capsys.readouterr().err
    assert main(["track", str(tmp_path / "missing"), "--out", str(tmp_path / "r.txt")]) == 2
    assert "missing" in capsys.readouterr().err


@pytest.mark.parametrize("name,mota,idf1", [("TUD-Campus", 59.6, 67.9),
                                             ("TUD-Stadtmitte", 69.9, 71.0)])
def test_tud_end_to_end_beats_reference_tracker(shared_data, tmp_path, capsys, name, mota, idf1):
    """Real detections and GT; the reference tracker scores 52.6/55.8 and 56.4/64.5."""
    out = tmp_path / f"{name}.txt"
    assert main(["track", str(shared_data / "TUD" / name), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", "--gt", str(shared_data / "TUD" / name), "--results", str(out),
                 "--json"]) == 0
    import json

    metrics = json.loads(capsys.readouterr().out)[name]
    assert 100 * metrics["MOTA"] == pytest.approx(mota, abs=0.05)
    assert 100 * metrics["IDF1"] == pytest.approx(idf1, abs=0.05)
    assert np.isfinite(metrics["HOTA"])


def test_track_with_reid_checkpoint_uses_images(tmp_path, capsys):
    """--reid runs the FineTrack Re-ID network (random tiny weights) on img1/ frames."""
    cv2 = pytest.importorskip("cv2")
    torch = pytest.importorskip("torch")
    from finetrack_ros.reid import FineTrackReID, ReIDConfig, save_reid

    seq = _toy_sequence(tmp_path, frames=2)
    (seq / "img1").mkdir()
    rng = np.random.default_rng(0)
    for f in range(1, 3):
        cv2.imwrite(str(seq / "img1" / f"{f:06d}.jpg"),
                    rng.integers(0, 255, (240, 480, 3), dtype=np.uint8))
    torch.manual_seed(0)
    cfg = ReIDConfig(backbone="resnet18", crop_size=(64, 32), embed_dim=8, fpn_channels=16,
                     fam_channels=8, num_parts=2)
    ckpt = save_reid(tmp_path / "reid.pt", FineTrackReID(cfg).eval())
    out = tmp_path / "res.txt"
    assert main(["track", str(seq), "--reid", str(ckpt), "--out", str(out)]) == 0
    assert "TOY-01: tracked 2/2 frames" in capsys.readouterr().out
    assert sorted(set(read_mot_txt(out)[:, 1].astype(int))) == [1, 2]
    (seq / "img1" / "000001.jpg").unlink()
    assert main(["track", str(seq), "--reid", str(ckpt), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err  # an earlier result is never replaced
    assert main(["track", str(seq), "--reid", str(ckpt), "--out", str(out),
                 "--overwrite"]) == 2
    assert "000001.jpg" in capsys.readouterr().err


def test_an_explicit_use_appearance_false_wins_over_reid(tmp_path, capsys):
    """--reid with use_appearance=false (--set or --config) tracks by IoU only, and says so.

    IoU only needs no images: the run succeeds on a sequence without img1/, where --reid
    alone fails naming the missing frame.
    """
    pytest.importorskip("torch")
    from finetrack_ros.reid import FineTrackReID, ReIDConfig, save_reid

    seq = _toy_sequence(tmp_path, frames=3)  # no img1/
    cfg = ReIDConfig(backbone="resnet18", crop_size=(64, 32), embed_dim=8, fpn_channels=16,
                     fam_channels=8, num_parts=2)
    ckpt = save_reid(tmp_path / "reid.pt", FineTrackReID(cfg).eval())
    told = [["--set", "use_appearance=false"], ["--config", "config/bytetrack_mot17.yaml"]]
    for index, extra in enumerate(told):
        out = tmp_path / f"iou-{index}.txt"
        assert main(["track", str(seq), "--reid", str(ckpt), "--out", str(out), *extra]) == 0
        said = "".join(capsys.readouterr())
        assert "use_appearance is false" in said and "IoU only" in said
        assert sorted(set(read_mot_txt(out)[:, 1].astype(int))) == [1, 2]
    assert main(["track", str(seq), "--reid", str(ckpt), "--out", str(tmp_path / "fused.txt"),
                 "--set", "use_appearance=true"]) == 2  # appearance on: the frames are needed
    assert "img1" in capsys.readouterr().err
