"""OTA CLI failures say so: a file that is not a model is refused before it is signed, and
`deploy --wait` exits non-zero with one line when the deployment does not end healthy."""
from __future__ import annotations

import pytest

from cloud_sync.cli import main
from tests.ota.test_ota_end_to_end import fleet  # noqa: F401  (the secured broker + agent fixture)


@pytest.mark.parametrize("name,data", [("garbage.tflite", b"not a model!"), ("garbage.onnx", b"\xff" * 12),
                                       ("empty.onnx", b"")])
def test_models_add_refuses_a_file_that_is_not_a_model(tmp_path, capsys, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    assert main(["models", "add", str(path), "--data", str(tmp_path / "var")]) == 2
    err = capsys.readouterr().err
    assert "not a" in err and name in err and "Traceback" not in err
    assert not (tmp_path / "var" / "models").exists() or not any((tmp_path / "var" / "models").rglob("manifest.json"))


def test_models_add_accepts_a_real_onnx_model(tmp_path, onnx_models, capsys):
    model = onnx_models.make(tmp_path / "kws.onnx", seed=2)
    assert main(["models", "add", str(model), "--name", "kws", "--data", str(tmp_path / "var")]) == 0
    assert "kws:v1" in capsys.readouterr().out


def test_deploy_exits_non_zero_when_the_model_is_rolled_back(tmp_path, fleet, onnx_models, capsys):  # noqa: F811
    registry, ota, agent, *_ = fleet
    data = str(ota.coordinator.data_dir)
    broken = onnx_models.make(tmp_path / "kws.onnx", seed=2, nan=True)   # serves NaN: health gate fails
    assert main(["models", "add", str(broken), "--name", "kws", "--data", data]) == 0
    code = main(["deploy", "kws", "--to", "dev-a", "--task", "kws", "--window", "1", "--min-requests", "3",
                 "--data", data, "--wait", "60"])
    captured = capsys.readouterr()
    assert code != 0, captured.out
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "failed" in lines[0] and "dev-a" in lines[0], captured.err
