"""``finetrack export onnx`` from checkpoint files of both networks."""
from __future__ import annotations

import torch

from finetrack_ros.cli import main
from finetrack_ros.detector import build_yolox
from finetrack_ros.reid import FineTrackReID, ReIDConfig, save_reid


def test_cli_exports_checkpoints(tmp_path, capsys) -> None:
    detector_ckpt = tmp_path / "det.pth.tar"
    torch.save({"model": build_yolox("nano", 1).state_dict()}, detector_ckpt)
    code = main(["export", "onnx", "--detector", str(detector_ckpt), "--model-size", "nano",
                 "--input-size", "64x64", "--out", str(tmp_path / "det.onnx")])
    assert code == 0 and "OK" in capsys.readouterr().out
    reid_ckpt = save_reid(tmp_path / "reid.pth",
                          FineTrackReID(ReIDConfig.preset("small", crop_size=(64, 32))))
    code = main(["export", "onnx", "--reid", str(reid_ckpt), "--out", str(tmp_path / "r.onnx")])
    assert code == 0 and (tmp_path / "r.onnx").stat().st_size > 0
    code = main(["export", "onnx", "--out", str(tmp_path / "none.onnx")])
    assert code == 2 and "exactly one network" in capsys.readouterr().err
