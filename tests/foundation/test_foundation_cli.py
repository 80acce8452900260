"""The `edge-runtime models` and `profile` commands as a person runs them."""
from __future__ import annotations

import json

import numpy as np

from edge_runtime.cli import main


def test_models_inspect_json(tiny_onnx, capsys):
    assert main(["models", "inspect", str(tiny_onnx), "--json", "--runs", "3"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backend"] == "onnxruntime" and info["inputs"][0]["shape"] == [1, 16]
    assert info["latency"]["n"] == 3 and info["latency"]["p50_ms"] > 0


def test_models_run_with_input_and_output(tiny_tflite, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((1, 16), np.float32))
    assert main(["models", "run", str(tiny_tflite), "--backend", "tflm", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")]) == 0
    assert "tflm" in capsys.readouterr().out
    assert np.load(tmp_path / "y.npy").shape == (1, 4)


def test_models_run_wrong_shape_is_a_clear_error(tiny_onnx, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((1, 3), np.float32))
    assert main(["models", "run", str(tiny_onnx), "--input", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "expected shape [1, 16]" in err and "got [1, 3]" in err


def test_profile_show_and_unknown(capsys):
    assert main(["profile", "show", "jetson-orin-nano", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cores"] == 6
    assert main(["profile", "show", "pi-zero"]) == 2
    assert "known:" in capsys.readouterr().err


def test_help_teaches_with_examples(capsys):
    for command in (["profile", "--help"], ["models", "--help"]):
        try:
            main(command)
        except SystemExit as exit_:
            assert exit_.code == 0
        assert "examples:" in capsys.readouterr().out
