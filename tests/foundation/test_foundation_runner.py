"""The runner API on real files: outputs, quantisation, errors, providers, timing."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from device_profiles import load_profile
from edge_runtime.models import ModelError, ModelFileNotFound, TensorSpec, dequantize, load_model, quantize
from edge_runtime.models.onnx_backend import choose_providers

INT8 = TensorSpec("x", (1, 4), np.dtype(np.int8), scale=0.5, zero_point=-3)


def test_quantize_rounds_saturates_and_inverts():
    x = np.array([[0.0, 1.24, -100.0, 100.0]], dtype=np.float32)
    q = quantize(x, INT8)
    assert q.dtype == np.int8 and q.tolist() == [[-3, -1, -128, 127]]
    assert dequantize(q, INT8).tolist() == [[0.0, 1.0, -62.5, 65.0]]
    uint8 = TensorSpec("u", (1, 3), np.dtype(np.uint8), scale=1 / 255, zero_point=0)
    q = quantize(np.array([[0.0, 0.6, 2.0]]), uint8)
    assert q.dtype == np.uint8 and q.tolist() == [[0, 153, 255]]


def test_no_tflite_interpreter_installed_is_a_clear_error(monkeypatch, tiny_tflite):
    import sys
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)   # import now fails
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(ModelError, match="pip install ai-edge-litert"):
        load_model(tiny_tflite, backend="litert")


@pytest.mark.parametrize("backend,fixture", [("onnxruntime", "tiny_onnx"), ("litert", "tiny_tflite"),
                                             ("tflm", "tiny_tflite")])
def test_same_api_on_every_backend(backend, fixture, request):
    runner = load_model(request.getfixturevalue(fixture), backend=backend)
    assert runner.backend == backend
    assert [tuple(s.shape[1:]) for s in runner.inputs] == [(16,)]
    x = runner.random_inputs(seed=3)
    (y,) = runner.run(x)
    assert y.shape == (1, 4) and y.dtype == np.float32
    assert np.array_equal(runner.run({runner.inputs[0].name: x[0]})[0], y)
    timing = runner.timeit(5)
    assert 0 < timing["p50_ms"] <= timing["p95_ms"]


def test_tflm_reports_arena(tiny_tflite):
    runner = load_model(tiny_tflite, backend="tflm")
    arena = runner.arena_used_bytes()
    assert 256 < arena < 64 * 1024
    assert runner.describe()["arena_bytes"] == arena


def test_int8_model_quantises_inputs_and_dequantises_outputs(shared_data):
    runner = load_model(shared_data / "tflite_models" / "Hello_World.tflite", backend="litert")
    spec_in, spec_out = runner.inputs[0], runner.outputs[0]
    assert spec_in.dtype == np.int8 and spec_in.quantized
    x = np.array([[1.5]], dtype=np.float32)
    raw = runner.run(quantize(x, spec_in), raw=True)[0]
    assert raw.dtype == np.int8
    (y,) = runner.run(x)
    assert y.dtype == np.float32 and np.array_equal(y, dequantize(raw, spec_out))
    assert abs(float(y[0, 0]) - np.sin(1.5)) < 0.1  # the model learned sin(x)


def test_batch_runs_on_open_batch_dimension(shared_data):
    path = shared_data / "tflite_models" / "Hello_World.tflite"
    xs = np.linspace(0, 3, 5, dtype=np.float32).reshape(5, 1)
    lite = load_model(path, backend="litert").run(xs)[0]
    micro = load_model(path, backend="tflm").run(xs)[0]
    assert lite.shape == micro.shape == (5, 1)
    np.testing.assert_allclose(lite, micro, atol=2 * 0.0081)


def test_missing_corrupt_and_wrong_files(tmp_path, tiny_onnx):
    with pytest.raises(ModelFileNotFound, match="does not exist"):
        load_model(tmp_path / "nope.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"this is not a flatbuffer" * 10)
    for backend in ("litert", "tflm"):
        with pytest.raises(ModelError, match="(not a valid|cannot load)"):
            load_model(bad, backend=backend)
    bad_onnx = tmp_path / "bad.onnx"
    bad_onnx.write_bytes(tiny_onnx.read_bytes()[:500])
    with pytest.raises(ModelError, match="onnxruntime cannot load"):
        load_model(bad_onnx)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        load_model(empty)
    with pytest.raises(ModelError, match="runs .onnx files"):
        load_model(bad, backend="onnxruntime")


def test_wrong_shape_and_dtype_say_expected_and_got(tiny_onnx):
    runner = load_model(tiny_onnx)
    with pytest.raises(ModelError, match=r"expected shape \[1, 16\].*got \[1, 15\]"):
        runner.run(np.zeros((1, 15), np.float32))
    with pytest.raises(ModelError, match="expected dtype float32.*got int64"):
        runner.run(np.zeros((1, 16), np.int64))
    with pytest.raises(ModelError, match="takes 1 input"):
        runner.run([np.zeros((1, 16), np.float32)] * 2)


def test_int8_input_rejects_wrong_integer_dtype(shared_data):
    runner = load_model(shared_data / "tflite_models" / "Hello_World.tflite")
    with pytest.raises(ModelError, match=r"expected dtype int8 \(or float"):
        runner.run(np.zeros((1, 1), np.int32))


def test_providers_come_from_profile_and_fallback_is_reported(tiny_onnx, caplog):
    cpu = load_model(tiny_onnx, profile=load_profile("raspberry-pi-4b-4gb"))
    assert cpu.provider == "CPUExecutionProvider" and not cpu.fell_back
    import onnxruntime as ort
    with caplog.at_level(logging.WARNING):
        jetson = load_model(tiny_onnx, profile=load_profile("jetson-orin-nano"))
    assert jetson.provider == jetson.session_providers[0]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert jetson.provider == "CPUExecutionProvider"
        assert "not in this onnxruntime build" in caplog.text


def test_choose_providers_keeps_order_and_cpu_last():
    assert choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"],
                            ["CPUExecutionProvider"]) == (["CPUExecutionProvider"], ["CUDAExecutionProvider"])
    assert choose_providers(["XnnpackExecutionProvider"], ["XnnpackExecutionProvider", "CPUExecutionProvider"]) \
        == (["XnnpackExecutionProvider", "CPUExecutionProvider"], [])


def test_auto_backend_follows_profile(tiny_tflite):
    assert load_model(tiny_tflite, profile=load_profile("arduino-nano-33-ble-sense")).backend == "tflm"
    assert load_model(tiny_tflite, profile=load_profile("raspberry-pi-5-8gb")).backend == "litert"
