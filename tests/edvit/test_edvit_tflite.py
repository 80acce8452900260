"""ED-ViT sub-models as TFLite (litert-torch export, LiteRT on the device) vs ONNX and torch.

The export test is slow (litert-torch takes ~30 s to import and seconds per model) and
needs the ``convert`` extra, which CI does not install: it skips with the reason then.
"""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
import torch

from cloud_sync.cli import main
from cloud_sync.edvit.client import DistributedClassifier, LocalFleet
from cloud_sync.edvit.vit import load_model
from edge_runtime.agent.task import TaskContext
from edge_runtime.bundle.lockfile import EXPORTER_INSTALL_HINT
from edge_runtime.edvit.plan import load_plan
from edge_runtime.edvit.runner import SubmodelRunner
from edge_runtime.edvit.task import EdvitSubmodelTask

HAVE_LITERT_TORCH = importlib.util.find_spec("litert_torch") is not None
TOLERANCE = 1e-4   # float32 both ways; observed differences are ~1e-6


def task_for(plan, device, params=None):
    return EdvitSubmodelTask("edvit", {"plan": str(plan.root), **(params or {})},
                             TaskContext(device, None, plan.root))


def fused_accuracy(plan, digits, model_format):
    fleet = LocalFleet({device: task_for(plan, device, {"format": model_format}) for device in plan.devices()})
    try:
        result = DistributedClassifier(plan, fleet, deadline_s=30).classify(digits.x_test)
    finally:
        fleet.close()
    assert not result.partial, result.errors
    return float((result.classes == digits.y_test).mean())


def test_tflite_format_without_an_export_says_what_to_run(digits_plan):
    with pytest.raises(ValueError, match="cloud-sync edvit export-tflite"):
        task_for(digits_plan, "pi-a", {"format": "tflite"})
    with pytest.raises(ValueError, match="not one of onnx, tflite"):
        task_for(digits_plan, "pi-a", {"format": "pb"})
    assert task_for(digits_plan, "pi-a").status()["format"] == "onnx"   # default unchanged


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_LITERT_TORCH,
                    reason=f"litert-torch not importable: {EXPORTER_INSTALL_HINT}")
def test_tflite_exports_match_onnx_and_torch_and_fuse_the_same(digits_plan, digits, tmp_path, capsys):
    root = tmp_path / "plan"
    shutil.copytree(digits_plan.root, root)   # the session plan is shared read-only
    assert main(["edvit", "export-tflite", str(root)]) == 0
    assert "TFLite bytes" in capsys.readouterr().out
    plan = load_plan(root)
    assert plan.manifest["tflite_batch"] == 1
    images = digits.x_test[:37]   # not a multiple of anything: exercises the chunked batch path
    for entry in [plan.manifest["full"], *plan.submodels]:
        tflite = plan.model_file(entry, "tflite")
        assert tflite.stat().st_size == entry["tflite_bytes"] > 0
        lite = SubmodelRunner(tflite, plan.image_size)
        onnx = SubmodelRunner(plan.model_file(entry, "onnx"), plan.image_size)
        assert lite.backend == "litert" and lite.fixed_batch == 1 and onnx.fixed_batch is None
        lite_features, lite_logits, _ = lite.run(images)
        onnx_features, onnx_logits, _ = onnx.run(images)
        weights = root / (f"submodel_{entry['index']}.pt" if "index" in entry else entry["weights"])
        with torch.no_grad():
            torch_features, torch_logits = (t.numpy() for t in load_model(weights)[0](torch.from_numpy(images)))
        assert lite_features.shape == (len(images), entry["embed_dim"])
        assert lite_logits.shape == (len(images), entry["config"]["num_classes"])
        for ours, reference in ((lite_features, onnx_features), (lite_logits, onnx_logits),
                                (lite_features, torch_features), (lite_logits, torch_logits)):
            np.testing.assert_allclose(ours, reference, atol=TOLERANCE, rtol=0)
        print(f"{tflite.name}: {entry['tflite_bytes']:,} bytes TFLite vs {entry['bytes']:,} ONNX; "
              f"max |logits - onnx| {np.abs(lite_logits - onnx_logits).max():.2e}")
    task = task_for(plan, "pi-a", {"format": "tflite"})
    assert task.status()["backend"] == "litert" and task.status()["format"] == "tflite"
    assert fused_accuracy(plan, digits, "tflite") == pytest.approx(fused_accuracy(plan, digits, "onnx"), abs=0.003)
