"""ModelTask: records with latency and output summary, status, hot swap without downtime."""
from __future__ import annotations

import numpy as np
import pytest

from device_profiles import load_profile
from edge_runtime.agent.task import TaskContext, load_task_class
from edge_runtime.models import ModelError


def make_task(tmp_path, params, profile="generic-x86-64"):
    task_class = load_task_class("model")
    context = TaskContext(device_id="dev-1", profile=load_profile(profile), state_dir=tmp_path)
    return task_class("infer", params, context)


def test_step_returns_records_and_status_names_backend(tmp_path, tiny_onnx):
    task = make_task(tmp_path, {"model": str(tiny_onnx)})
    (record,) = task.step()
    assert record["backend"] == "onnxruntime" and record["provider"] == "CPUExecutionProvider"
    assert record["latency_ms"] > 0 and record["outputs"][0]["shape"] == [1, 4]
    status = task.status()
    assert status["model"] == str(tiny_onnx) and status["provider"] == "CPUExecutionProvider"
    assert status["runs"] == 1


def test_npy_input_is_used(tmp_path, tiny_onnx):
    x = np.full((1, 16), 0.5, np.float32)
    np.save(tmp_path / "x.npy", x)
    task = make_task(tmp_path, {"model": str(tiny_onnx), "input": str(tmp_path / "x.npy")})
    first = task.step()[0]["outputs"][0]
    from edge_runtime.models import load_model
    expected = load_model(tiny_onnx).run(x)[0]
    assert first["mean"] == pytest.approx(float(expected.mean()), rel=1e-5)


def test_swap_model_keeps_old_on_failure_and_switches_on_success(tmp_path, tiny_onnx, tiny_tflite):
    task = make_task(tmp_path, {"model": str(tiny_onnx)})
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"garbage" * 20)
    with pytest.raises(ModelError):
        task.swap_model(bad)
    assert task.step()[0]["backend"] == "onnxruntime"    # old model still serving
    status = task.swap_model(tiny_tflite)
    assert status["backend"] == "litert" and status["swaps"] == 1
    assert task.step()[0]["model"] == "tiny_mlp.tflite"
    assert task.handle({"op": "status"})["model"] == str(tiny_tflite)


def test_mcu_profile_runs_tflm_and_reports_arena(tmp_path, tiny_tflite):
    task = make_task(tmp_path, {"model": str(tiny_tflite)}, profile="arduino-nano-33-ble-sense")
    task.step()
    status = task.status()
    assert status["backend"] == "tflm" and 256 < status["arena_bytes"] < 64 << 10


def test_missing_model_param_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="params.model"):
        make_task(tmp_path, {})


def test_request_with_input_runs_the_model(tmp_path, tiny_onnx):
    task = make_task(tmp_path, {"model": str(tiny_onnx)})
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
    reply = task.handle({"input": x.tolist()})
    from edge_runtime.models import load_model
    np.testing.assert_allclose(reply["outputs"][0], load_model(tiny_onnx).run(x)[0], rtol=1e-6)
    assert reply["provider"] == "CPUExecutionProvider"
    with pytest.raises(ModelError, match="expected shape"):
        task.handle({"input": [[1.0, 2.0]]})
