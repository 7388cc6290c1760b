"""``quantize_int8`` reports the int8 error on inputs that the calibration did not see.

A tiny network (one convolution) keeps each quantization at a few milliseconds. One input
at a time is made 50 times larger than the others; the range that the int8 file's input
quantizer was calibrated to shows whether the calibration saw that input.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from finetrack_ros.inference.export import quantize_int8
from finetrack_ros.inference.runners import METADATA_KEY, onnx_bytes

INPUTS = 16
LOUD = 50.0  # the one input the calibration must either see or not


def _float_model() -> bytes:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten()).eval()
    return onnx_bytes(net, torch.zeros(1, 3, 8, 8), "crops", ("embeddings",),
                      {"network": "test"})


def _input_range(model: onnx.ModelProto) -> tuple[float, float]:
    """(lowest, highest) value the int8 file's quantizer of the network input represents."""
    values = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    (node,) = [n for n in model.graph.node
               if n.op_type == "QuantizeLinear" and n.input[0] == model.graph.input[0].name]
    scale, zero = float(values[node.input[1]]), int(values[node.input[2]])
    return scale * (0 - zero), scale * (255 - zero)


@pytest.mark.parametrize("one_batch", [False, True], ids=["batches", "one-batch"])
def test_held_out_inputs_are_not_calibrated_on(tmp_path, one_batch):
    data = _float_model()
    rng = np.random.default_rng(0)
    quiet = [rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32) for _ in range(INPUTS)]
    unseen = []
    for loud in range(INPUTS):
        inputs = [x * (LOUD if i == loud else 1.0) for i, x in enumerate(quiet)]
        if one_batch:
            inputs = [np.concatenate(inputs)]
        path = tmp_path / f"loud{loud}.onnx"
        report = quantize_int8(data, path, inputs, "test inputs")
        assert report.held_out >= INPUTS // 8 and report.inputs_used + report.held_out == INPUTS
        model = onnx.load(str(path))
        metadata = json.loads(next(e.value for e in model.metadata_props
                                   if e.key == METADATA_KEY))
        assert metadata["calibration"] == f"test inputs, {report.inputs_used} inputs"
        low, high = _input_range(model)
        assert high >= 0.9 and low <= -0.9  # the quiet inputs are always calibrated on
        unseen.append(high < 2.0)  # the loud input left no trace in the range
    # held out = not calibrated on: exactly as many loud inputs went unseen as are held out
    assert sum(unseen) == report.held_out
