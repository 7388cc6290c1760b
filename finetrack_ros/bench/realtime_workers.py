"""``bench realtime``'s workers: one measurement per process (``--worker JOB``, JSON).

``peak`` (the matmul peak GFLOP/s), ``prepare`` (FLOPs, ONNX export, int8 files of a model
set) and ``row`` (the per-stage ms of the node's per-frame work); each prints its result as
one ``REALTIME-RESULT`` JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional

from finetrack_ros.bench.realtime_jobs import CONFIGS, REID_BOXES, RESULT_PREFIX, SCENE_SEED, STAGES


def set_params(name: str) -> dict[str, Any]:
    """Node parameters of a model set (checkpoints as .pth or random)."""
    from finetrack_ros import settings

    if name == "deploy":
        return {"detector.checkpoint": settings.RANDOM_WEIGHTS, "detector.size": "s",
                "detector.input_size": [480, 640], "reid.checkpoint": settings.RANDOM_WEIGHTS,
                "reid.crop_size": [128, 64]}
    from finetrack_ros.package_paths import DEMO_DETECTOR, DEMO_REID, weights_dir

    return {"detector.checkpoint": str(weights_dir() / DEMO_DETECTOR), "detector.size": "auto",
            "detector.input_size": [256, 320], "detector.nms": 0.5,
            "reid.checkpoint": str(weights_dir() / DEMO_REID)}


def node_params(job: dict) -> dict[str, Any]:
    """Return a row's flat parameters: the set's networks in the job's backend and precision."""
    params = {**set_params(job["set"]), "device": "cpu", "backend": job["backend"],
              "precision": job["precision"], "num_threads": int(job["threads"]),
              "spin_wait": bool(job["spin_wait"]), "tracker.frame_rate": 30.0,
              "tracker.use_appearance": True}
    params["tracker.reid_skip_iou"] = 0.0  # every box embedded: a fixed Re-ID load
    if job["backend"] == "onnxruntime":
        files = job["files"][job["precision"]]
        params.update({"detector.checkpoint": files["detector"], "detector.size": "auto",
                       "reid.checkpoint": files["reid"]})
        params.pop("reid.crop_size", None)
    return params


def worker_peak(job: dict) -> dict:
    """Best GFLOP/s of matrix products per precision: the machine's peak for the networks.

    fp32 and bf16: ``torch.mm`` of n x n matrices (the BLAS library) and a 1x1 convolution,
    channels-last, of n/2 channels on a 64x64 map (the same product as a (4096 x n/2) x
    (n/2 x n/2) GEMM, in oneDNN, the library the networks' convolutions run in); the better
    of the two. int8: ONNX Runtime's uint8 x int8 ``MatMulInteger``.
    """
    import torch

    torch.set_num_threads(int(job["threads"]))
    result: dict[str, Any] = {"threads": int(job["threads"]), "sizes": job["sizes"]}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        by_kernel = {"mm": 0.0, "conv1x1": 0.0}
        for n in job["sizes"]:
            a = torch.randn(n, n).to(dtype)
            b = torch.randn(n, n).to(dtype)
            by_kernel["mm"] = max(by_kernel["mm"], 2.0 * n ** 3 / _best_seconds(
                lambda: torch.mm(a, b)) / 1e9)
            channels, side = max(n // 2, 8), 64
            conv = torch.nn.Conv2d(channels, channels, 1, bias=False).eval().to(dtype)
            conv = conv.to(memory_format=torch.channels_last)
            x = torch.randn(1, channels, side, side).to(dtype).contiguous(
                memory_format=torch.channels_last)
            with torch.inference_mode():
                seconds = _best_seconds(lambda: conv(x))
            by_kernel["conv1x1"] = max(by_kernel["conv1x1"],
                                       2.0 * channels ** 2 * side * side / seconds / 1e9)
        result[name] = max(by_kernel.values())
        result[f"{name}_by_kernel"] = by_kernel
    if job.get("int8"):
        result["int8"] = _int8_peak(job["sizes"], int(job["threads"]))
    return result


def _best_seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _int8_peak(sizes: list[int], threads: int) -> float:
    """Best GFLOP/s (2 ops per multiply-add) of ONNX Runtime's uint8 x int8 MatMulInteger."""
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    best = 0.0
    rng = np.random.default_rng(0)
    for n in sizes:
        weight = numpy_helper.from_array(rng.integers(-127, 128, (n, n), dtype=np.int8), "B")
        graph = helper.make_graph(
            [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "peak",
            [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n])],
            [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])], [weight])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(onnx.shape_inference.infer_shapes(
            model).SerializeToString(), options, providers=["CPUExecutionProvider"])
        a = rng.integers(0, 256, (n, n), dtype=np.uint8)
        best = max(best, 2.0 * n ** 3 / _best_seconds(lambda: session.run(None, {"A": a}))
                   / 1e9)
    return best


def _load_scene(path: str):
    import numpy as np

    with np.load(path) as data:
        return data["frames"], data["boxes"]


def worker_prepare(job: dict) -> dict:
    """FLOPs of both networks; for ONNX Runtime configs their fp32 and int8 files."""
    import warnings

    from finetrack_ros import settings
    from finetrack_ros.bench.models import count_gflops
    from finetrack_ros.detector import build_yolox
    from finetrack_ros.reid import FineTrackReID
    from finetrack_ros.reid.model import EmbeddingsAndMasks

    params = {**set_params(job["set"]), "device": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = settings.pipeline_from_params(params)
    detector, extractor = pipeline.detector, pipeline.extractor
    det_config, reid_config = detector.config, extractor.config
    height, width = det_config.preprocess.input_size
    crop_h, crop_w = reid_config.crop_size
    result: dict[str, Any] = {
        "detector": detector.describe(),
        "reid": f"Re-ID {reid_config.backbone} {crop_h}x{crop_w}, {reid_config.num_parts} "
                f"parts, weights {params['reid.checkpoint']}",
        "detector_gflop": count_gflops(lambda: build_yolox(det_config.size,
                                                           det_config.num_classes),
                                       (1, 3, height, width)),
        "reid_gflop": count_gflops(lambda: EmbeddingsAndMasks(FineTrackReID(reid_config)),
                                   (REID_BOXES, 3, crop_h, crop_w)),
        "files": {}, "quantization": [],
    }
    precisions = {CONFIGS[c][1] for c in job["configs"] if CONFIGS[c][0] == "onnxruntime"}
    if not precisions:
        return result
    from finetrack_ros.inference.export import export_detector, export_reid

    out = Path(job["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    fp32 = {"detector": str(out / "detector_fp32.onnx"), "reid": str(out / "reid_fp32.onnx")}
    exported = {"detector": export_detector(detector, fp32["detector"]).data,
                "reid": export_reid(extractor.model, fp32["reid"]).data}
    result["files"]["fp32"] = fp32
    if "int8" in precisions:
        result["files"]["int8"] = _quantize(job, detector, extractor, exported, out,
                                            result["quantization"])
    return result


def _quantize(job: dict, detector, extractor, fp32: dict, out: Path, notes: list) -> dict:
    """Return int8 files of both networks (``fp32``: their fp32 ONNX bytes).

    Calibrated on the first frames of the scene.
    """
    import numpy as np

    from finetrack_ros.inference.calibration import CalibrationFrames
    from finetrack_ros.inference.export import export_int8

    frames, boxes = _load_scene(job["scene"])
    count = min(int(job["calib_frames"]), len(frames))
    source = f"synthetic scene seed {SCENE_SEED} ({count} frames)"
    calibration = CalibrationFrames(source, [np.ascontiguousarray(f) for f in frames[:count]],
                                    [b for b in boxes[:count]])
    int8 = {"detector": str(out / "detector_int8.onnx"), "reid": str(out / "reid_int8.onnx")}
    for network, model in (("detector", detector), ("reid", extractor.model)):
        _, report = export_int8(model, int8[network], calibration, fp32=fp32[network])
        notes.append(f"{network}: {report.summary().split(': ', 1)[1]}")
    return int8


def worker_row(job: dict) -> dict:
    """Run the per-frame stages on the scene; median ms per stage, forward times."""
    import warnings

    import numpy as np
    import torch

    from finetrack_ros import messages as m
    from finetrack_ros import settings
    from finetrack_ros.bag.typestore import (
        DETECTION_ARRAY_TYPE,
        IMAGE_TYPE,
        TRACKED_OBJECT_ARRAY_TYPE,
        build_typestore,
    )
    from finetrack_ros.frame_messages import FrameMessageBuilder
    from finetrack_ros.frame_path import FramePath, TrackedFrame
    from finetrack_ros.image_codec import image_msg_to_bgr
    from finetrack_ros.structures import Detections

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = settings.pipeline_from_params(node_params(job))
    store = build_typestore()
    build = FrameMessageBuilder(store, FramePath(pipeline))  # the node's output seam
    frames, boxes = _load_scene(job["scene"])
    period_ns = int(1e9 / 30)
    images = [store.serialize_cdr(m.image_msg(store, m.make_header(store, i * period_ns,
                                                                   "camera"), frame),
                                  IMAGE_TYPE) for i, frame in enumerate(frames)]
    scores = np.full(REID_BOXES, 0.9, np.float32)
    class_ids = np.zeros(REID_BOXES, np.int64)
    samples: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    det_boxes, reid_boxes = [], []
    warmup, count = int(job["warmup"]), int(job["frames"])
    budget_ms = 1000.0 * float(job.get("budget_s", float("inf")))
    for step in range(warmup + count):
        if step == warmup:
            pipeline.reset()
        if (len(samples["total"]) >= min(3, count)
                and sum(samples["total"]) > budget_ms):
            break  # a slow (e.g. starved) row: enough frames for a median
        index = step % len(frames)
        times = {}
        start = time.perf_counter()
        msg = store.deserialize_cdr(images[index], IMAGE_TYPE)
        frame = image_msg_to_bgr(msg)
        times["decode"] = _ms_since(start)
        start = time.perf_counter()
        found = pipeline.detector(frame)
        times["detector"] = _ms_since(start)
        result = pipeline.process(frame, Detections(boxes[index], scores, class_ids))
        times["reid"] = result.timings_ms.get("reid", 0.0)
        times["tracker"] = result.timings_ms["track"]
        start = time.perf_counter()
        # the node draws only while ~/annotated_image has a subscriber: here none
        out = build(TrackedFrame(msg.header, frame, result.tracks, result.tracks),
                    annotate=False)
        store.serialize_cdr(out.tracks, DETECTION_ARRAY_TYPE)
        store.serialize_cdr(out.tracked_objects, TRACKED_OBJECT_ARRAY_TYPE)
        times["publish"] = _ms_since(start)
        if step >= warmup:
            for stage, value in times.items():
                samples[stage].append(value)
            samples["total"].append(sum(times.values()))
            det_boxes.append(len(found))
            reid_boxes.append(result.reid_embedded)
    total = statistics.median(samples["total"])
    # forward passes alone, for GFLOP/s
    detector, extractor = pipeline.detector, pipeline.extractor
    images_in, _ = detector.preprocess(frames[0])
    crops = extractor.crops(frames[0], boxes[0])
    reps = int(job["forward_reps"])
    reps_budget_ms = budget_ms / 4
    with torch.inference_mode():
        det_ms = _median_ms(lambda: detector.forward(images_in), reps, reps_budget_ms)
        reid_ms = _median_ms(lambda: extractor.embed_crops(crops), reps, reps_budget_ms)
    return {"ms": {s: statistics.median(samples[s]) for s in STAGES}, "total_ms": total,
            "fps": 1000.0 / total, "det_forward_ms": det_ms, "reid_forward_ms": reid_ms,
            "timed_frames": len(samples["total"]),
            "det_boxes": float(np.mean(det_boxes)), "reid_boxes": float(np.mean(reid_boxes)),
            "describe": detector.describe()}


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _median_ms(fn, repeats: int, budget_ms: float = float("inf")) -> float:
    """Median ms of up to ``repeats`` calls after one warm-up, stopping past ``budget_ms``."""
    fn()  # warm
    samples: list[float] = []
    while len(samples) < max(repeats, 1) and (not samples or sum(samples) < budget_ms):
        start = time.perf_counter()
        fn()
        samples.append(_ms_since(start))
    return statistics.median(samples)


WORKERS = {"peak": worker_peak, "prepare": worker_prepare, "row": worker_row}


def worker_main(argv: Optional[list[str]] = None) -> int:
    """Entry point of a measurement process: ``--worker JOB`` (JSON); prints the result."""
    parser = argparse.ArgumentParser(description="one bench realtime measurement")
    parser.add_argument("--worker", required=True, help="the job, as JSON")
    job = json.loads(parser.parse_args(argv).worker)
    result = WORKERS[job["kind"]](job)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
