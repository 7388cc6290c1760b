"""Backends and precisions (issue #15): agreement with torch fp32, calibration, errors.

Agreement is checked on real frames; int8 calibration is required; a file or a package that
does not fit the parameters gets an error naming both.

Real frames: PETS09-S2L1 (``../shared/data``; those tests skip without it), with the shipped
demo networks. The int8 files are made by the CLI, calibrated on frames 1-100 and compared
on frames 150-300.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from finetrack_ros import settings
from finetrack_ros.cli import main
from finetrack_ros.detector import YOLOXDetector
from finetrack_ros.inference.export import quantize_int8
from finetrack_ros.inference.options import InferenceOptions
from finetrack_ros.inference.runners import onnx_bytes
from finetrack_ros.mot_cut import cut_sequence
from finetrack_ros.reid import FeatureExtractor, FineTrackReID, ReIDConfig, save_reid
from finetrack_ros.structures import Detections

REPO = Path(__file__).resolve().parents[1]
DETECTOR = REPO / "weights" / "detector_nano_demo.pth"
REID = REPO / "weights" / "reid_demo.pth"
INPUT_HW = (256, 320)
PETS = REPO.parent / "shared" / "data" / "PETS09-S2L1-dev"
SCORED_FRAMES = (150, 200, 250, 300)
needs_pets = pytest.mark.skipif(not PETS.is_dir(), reason=f"{PETS} not present")

FP32 = InferenceOptions()
BF16 = InferenceOptions(precision="bf16")
ORT_FP32 = InferenceOptions(backend="onnxruntime")
ORT_INT8 = InferenceOptions(backend="onnxruntime", precision="int8")


def _frames_and_boxes():
    gt = np.loadtxt(PETS / "gt" / "gt.txt", delimiter=",")
    out = []
    for frame in SCORED_FRAMES:
        rows = gt[gt[:, 0] == frame]
        boxes = np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]].astype(np.float32)
        out.append((cv2.imread(str(PETS / "img1" / f"{frame:06d}.jpg")), boxes))
    return out


@pytest.fixture(scope="module")
def int8_files(tmp_path_factory):
    """Return (detector, Re-ID) int8 files exported by the CLI, calibrated on frames 1-100."""
    if not PETS.is_dir():
        pytest.skip(f"{PETS} not present")
    tmp = tmp_path_factory.mktemp("int8")
    calib = cut_sequence(PETS, tmp / "calib", 1, 100)
    detector, reid = tmp / "det_int8.onnx", tmp / "reid_int8.onnx"
    assert main(["export", "onnx", "--detector", str(DETECTOR), "--model-size", "nano",
                 "--input-size", "256x320", "--int8", "--calib", str(calib),
                 "--calib-frames", "24", "--out", str(detector)]) == 0
    assert main(["export", "onnx", "--reid", str(REID), "--int8", "--calib", str(calib),
                 "--calib-frames", "24", "--out", str(reid)]) == 0
    return detector, reid


def _detector(options, checkpoint=DETECTOR):
    return YOLOXDetector(checkpoint, size="auto", input_size=INPUT_HW, conf=0.1, nms=0.5,
                         inference=options)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    tl, br = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def _assert_same_people(reference, other, min_iou: float) -> None:
    """Every confident fp32 detection (> 0.5) has a detection (> 0.3) at IoU >= min_iou."""
    confident = reference.boxes_xyxy[reference.scores > 0.5]
    found = other.boxes_xyxy[other.scores > 0.3]
    assert len(confident), "the scored frames must hold people the fp32 detector finds"
    assert len(found), "the reduced-precision detector found nobody"
    assert _iou(confident, found).max(1).min() >= min_iou


@needs_pets
def test_onnxruntime_fp32_equals_torch_within_1e4_on_real_frames():
    torch_detector, ort_detector = _detector(FP32), _detector(ORT_FP32)
    torch_reid = FeatureExtractor.load(REID, inference=FP32)
    ort_reid = FeatureExtractor.load(REID, inference=ORT_FP32)
    for frame, boxes in _frames_and_boxes():
        images, _ = torch_detector.preprocess(frame)
        expected = torch_detector.forward(images).numpy()
        got = ort_detector.forward(images).numpy()
        # absolute for probabilities, relative for box pixels (float32 keeps 7 digits)
        assert (np.abs(got - expected) / np.maximum(np.abs(expected), 1)).max() <= 1e-4
        np.testing.assert_allclose(ort_reid(frame, boxes), torch_reid(frame, boxes), atol=1e-4)


@needs_pets
@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_finds_the_same_people_and_features(precision, int8_files):
    reference_detector = _detector(FP32)
    reference_reid = FeatureExtractor.load(REID, inference=FP32)
    if precision == "bf16":
        detector, reid = _detector(BF16), FeatureExtractor.load(REID, inference=BF16)
    else:
        detector = _detector(ORT_INT8, int8_files[0])
        reid = FeatureExtractor.load(int8_files[1], inference=ORT_INT8)
    for frame, boxes in _frames_and_boxes():
        # measured on these frames: lowest IoU 0.87 (bf16 and int8), lowest cosine 0.9993
        _assert_same_people(reference_detector(frame), detector(frame), min_iou=0.8)
        cosine = (reid(frame, boxes) * reference_reid(frame, boxes)).sum(1)
        assert cosine.min() >= 0.99


@needs_pets
def test_int8_files_run_through_the_node_pipeline(int8_files):
    params = {"backend": "onnxruntime", "precision": "int8", "num_threads": 1,
              "detector.checkpoint": str(int8_files[0]), "detector.input_size": [256, 320],
              "reid.checkpoint": str(int8_files[1])}
    pipeline = settings.pipeline_from_params(params)
    assert "onnxruntime int8" in pipeline.detector.describe()
    results = [pipeline.process(frame) for frame, _ in _frames_and_boxes()]
    assert results[-1].embeddings is not None and len(results[-1].detections) > 0
    # a .pth with precision int8 is refused, naming what to run
    with pytest.raises(ValueError, match="int8 needs a calibrated file.*--int8 --calib"):
        settings.pipeline_from_params({**params, "detector.checkpoint": str(DETECTOR)})


# --- calibration is required ---------------------------------------------------------------
def test_int8_export_refuses_to_run_without_calibration_data(tmp_path, capsys):
    out = tmp_path / "reid.onnx"
    assert main(["export", "onnx", "--reid", str(REID), "--int8", "--out", str(out)]) == 2
    assert "--int8 needs calibration data: --calib SRC" in capsys.readouterr().err
    assert main(["export", "onnx", "--reid", str(REID), "--int8", "--calib",
                 str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert f"--calib {tmp_path / 'missing'}: no such file" in capsys.readouterr().err
    assert not out.exists()


def test_int8_export_refuses_an_empty_or_boxless_source(tmp_path, capsys):
    out = tmp_path / "reid.onnx"
    empty = tmp_path / "empty"
    (empty / "img1").mkdir(parents=True)
    (empty / "det").mkdir()
    assert main(["export", "onnx", "--reid", str(REID), "--int8", "--calib", str(empty),
                 "--out", str(out)]) == 2
    assert "no frames to calibrate on" in capsys.readouterr().err
    cv2.imwrite(str(empty / "img1" / "000001.jpg"), np.full((64, 48, 3), 90, np.uint8))
    assert main(["export", "onnx", "--reid", str(REID), "--int8", "--calib", str(empty),
                 "--out", str(out)]) == 2
    assert "no boxes to crop for Re-ID calibration" in capsys.readouterr().err
    assert not out.exists()


def test_quantize_int8_refuses_too_few_inputs(tmp_path):
    model = FineTrackReID(ReIDConfig.preset("tiny", crop_size=(64, 32))).eval()
    data = onnx_bytes(model, torch.zeros(2, 3, 64, 32), "crops", ("embeddings",),
                      {"network": "reid", "config": model.config.to_dict()})
    few = [np.zeros((1, 3, 64, 32), np.float32)] * 3
    with pytest.raises(ValueError, match="needs calibration data: got 3 inputs"):
        quantize_int8(data, tmp_path / "q.onnx", few, "three crops")
    with pytest.raises(ValueError, match="got 0 inputs from nothing"):
        quantize_int8(data, tmp_path / "q.onnx", [], "")
    assert not (tmp_path / "q.onnx").exists()


def test_calibration_from_a_bag(tmp_path, capsys):
    """A rosbag2 (images + /detections) calibrates the Re-ID network like a folder does."""
    from finetrack_ros.sim import SceneConfig, write_sequence

    seq = write_sequence(tmp_path / "scene", SceneConfig(seed=5, frames=12), progress=False)
    bag = tmp_path / "bag"
    assert main(["bag", "from-mot", str(seq), str(bag)]) == 0
    out = tmp_path / "reid_int8.onnx"
    assert main(["export", "onnx", "--reid", str(REID), "--int8", "--calib", str(bag),
                 "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "calibrated on" in summary and "/camera/image_raw (12 of 12 frames)" in summary
    extractor = FeatureExtractor.load(out, inference=ORT_INT8)
    assert extractor.config.crop_size == FeatureExtractor.load(REID).config.crop_size


# --- files that do not fit the parameters ---------------------------------------------------
@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    """Export a random-weight YOLOX-nano (64x96) and a tiny Re-ID to fp32 with the CLI."""
    tmp = tmp_path_factory.mktemp("onnx")
    reid_ckpt = save_reid(tmp / "reid.pt", FineTrackReID(ReIDConfig.preset("tiny")))
    assert main(["export", "onnx", "--random-weights", "--model-size", "nano", "--input-size",
                 "64x96", "--out", str(tmp / "det.onnx")]) == 0
    assert main(["export", "onnx", "--reid", str(reid_ckpt), "--out",
                 str(tmp / "reid.onnx")]) == 0
    return tmp / "det.onnx", tmp / "reid.onnx"


def _params(detector, reid="", **extra):
    return {"backend": "onnxruntime", "detector.checkpoint": str(detector),
            "detector.input_size": [64, 96], "reid.enabled": bool(reid),
            "reid.checkpoint": str(reid), **extra}


def test_exported_files_describe_themselves(small_files):
    detector, reid = small_files
    pipeline = settings.pipeline_from_params(_params(detector, reid, **{"detector.conf": 0.0}))
    assert pipeline.detector.config.size == "nano"
    assert pipeline.extractor.config == FeatureExtractor.load(reid, inference=ORT_FP32).config
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 20.0, 40.0, 100.0], [90.0, 10.0, 130.0, 110.0]], np.float32)
    result = pipeline.process(frame, Detections(boxes, [0.9, 0.8], [0, 0]))
    assert [t.track_id for t in result.tracks] == [1, 2]
    np.testing.assert_allclose([t.xyxy for t in result.tracks], boxes, atol=1e-3)
    # the features are the exported network's: those of the checkpoint it came from
    torch_features = FeatureExtractor.load(reid.parent / "reid.pt")(frame, boxes)
    assert (result.embeddings * torch_features).sum(1).min() > 0.999
    # the exported detector (conf 0: random weights score ~1e-4): the file's own boxes
    detected = pipeline.process(frame).detections
    alone = YOLOXDetector(str(detector), size="nano", input_size=(64, 96), conf=0.0,
                          inference=ORT_FP32)(frame)
    assert len(detected) > 0
    np.testing.assert_allclose(detected.boxes_xyxy, alone.boxes_xyxy, atol=1e-4)
    np.testing.assert_allclose(detected.scores, alone.scores, atol=1e-6)


@pytest.mark.parametrize("change, message", [
    ({"backend": "torch"}, "is an ONNX file: set parameter 'backend' to onnxruntime"),
    ({"precision": "int8"}, "holds a fp32 network but parameter 'precision' is int8"),
    ({"detector.input_size": [128, 96]}, "was exported for input 64x96 but "
                                         "detector.input_size is \\[128, 96\\]"),
    ({"detector.size": "s"}, "holds YOLOX-nano but detector.size is s"),
    ({"precision": "bf16"}, "backend onnxruntime runs fp32 or int8; bf16 runs in backend torch"),
])
def test_a_file_that_does_not_fit_is_refused_naming_both(small_files, change, message):
    with pytest.raises(ValueError, match=message):
        settings.pipeline_from_params({**_params(small_files[0]), **change})


def test_a_network_file_given_for_the_other_network_is_refused(small_files):
    detector, reid = small_files
    with pytest.raises(ValueError, match=r"detector.checkpoint .*reid.onnx holds the reid "
                                         "network, not the detector"):
        settings.pipeline_from_params(_params(reid))
    with pytest.raises(ValueError, match=r"reid.checkpoint .*det.onnx holds the detector"):
        settings.pipeline_from_params(_params(detector, detector))


def test_foreign_and_broken_onnx_files_are_refused(tmp_path, small_files):
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(onnx_bytes(torch.nn.Conv2d(3, 3, 1), torch.zeros(1, 3, 64, 96),
                                   "images", ("predictions",)))
    with pytest.raises(ValueError, match="not made by 'finetrack export onnx'"):
        settings.pipeline_from_params(_params(foreign))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match=r"detector.checkpoint .*broken.onnx: ONNX Runtime "
                                         "cannot load it"):
        settings.pipeline_from_params(_params(broken))
    with pytest.raises(FileNotFoundError, match="detector.checkpoint: no such file"):
        settings.pipeline_from_params(_params(tmp_path / "missing.onnx"))


def test_missing_onnxruntime_is_a_clear_error_naming_the_parameter(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    params = {"backend": "onnxruntime", "detector.checkpoint": "random", "detector.size": "nano",
              "detector.input_size": [64, 96], "reid.enabled": False}
    with pytest.raises(ValueError, match="parameter 'backend' = 'onnxruntime' needs the "
                                         "onnxruntime package, which is not installed"):
        settings.pipeline_from_params(params)
    # torch needs nothing more
    settings.pipeline_from_params({**params, "backend": "torch"})


def test_exporting_a_pth_at_load_without_onnx_is_a_clear_error(monkeypatch, small_files):
    monkeypatch.setitem(sys.modules, "onnx", None)
    params = {"backend": "onnxruntime", "detector.checkpoint": "random", "detector.size": "nano",
              "detector.input_size": [64, 96], "reid.enabled": False}
    with pytest.raises(ValueError, match="with a .pth detector.checkpoint exports the network "
                                         "when it loads, which needs the onnx package"):
        settings.pipeline_from_params(params)
    # an exported file needs only onnxruntime
    settings.pipeline_from_params(_params(small_files[0]))


def test_precision_choices_are_checked_where_they_cannot_run():
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        InferenceOptions(precision="fp16")
    with pytest.raises(ValueError, match="'int8' runs in ONNX Runtime: set backend onnxruntime"):
        InferenceOptions(precision="int8")
    with pytest.raises(ValueError, match="onnxruntime' runs on the CPU"):
        InferenceOptions(backend="onnxruntime", device="cuda")
    with pytest.raises(ValueError, match="parameter 'precision' = 'fp8'"):
        InferenceOptions(precision="fp8")


# --- each network held once where the runner changes no value --------------------------------
def test_torch_fp32_runner_runs_the_callers_network_others_a_copy() -> None:
    extractor = FeatureExtractor.load(REID, "cpu", inference=FP32)
    assert extractor.runner.module.model is extractor.model  # held once
    bf16 = FeatureExtractor.load(REID, "cpu", inference=BF16)
    assert bf16.runner.module.model is not bf16.model
    assert next(bf16.model.parameters()).dtype == torch.float32  # .model stays as it was
    detector = YOLOXDetector(DETECTOR, "auto", input_size=INPUT_HW, inference=FP32)
    assert detector.runner.module is not detector.model  # fused: a copy
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in detector.model.modules())
    frame = np.full((120, 160, 3), 90, np.uint8)
    boxes = np.array([[10, 10, 50, 110]], np.float32)
    before = extractor(frame, boxes)
    with torch.no_grad():
        next(extractor.model.parameters()).mul_(0.5)  # "training"
    extractor.refresh()
    assert not np.allclose(extractor(frame, boxes), before)
