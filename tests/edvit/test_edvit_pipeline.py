"""Trained digits plan: accuracy of the fused sub-models, sizes, partial answers (in-process)."""
from __future__ import annotations

import numpy as np
import pytest

from cloud_sync.edvit.client import DistributedClassifier, LocalFleet
from edge_runtime.agent.task import TaskContext
from edge_runtime.edvit.plan import load_plan
from edge_runtime.edvit.runner import SubmodelRunner
from edge_runtime.edvit.task import EdvitSubmodelTask


def local_fleet(plan, skip=()):
    return LocalFleet({device: EdvitSubmodelTask("edvit", {"plan": str(plan.root)},
                                                 TaskContext(device, None, plan.root))
                       for device in plan.devices() if device not in skip})


def full_accuracy_onnx(plan, digits) -> float:
    runner = SubmodelRunner(plan.path("full.onnx"), plan.image_size)
    _, logits, _ = runner.run(digits.x_test)
    return float((logits.argmax(1) == digits.y_test).mean())


def test_fused_sub_models_match_the_full_vit_within_two_points(digits_plan, digits):
    full = full_accuracy_onnx(digits_plan, digits)
    assert full == pytest.approx(digits_plan.manifest["full"]["accuracy"], abs=1e-9)
    assert full > 0.9, f"full ViT only reached {full:.3f} on digits"
    fleet = local_fleet(digits_plan)
    result = DistributedClassifier(digits_plan, fleet).classify(digits.x_test)
    fleet.close()
    fused = float((result.classes == digits.y_test).mean())
    print(f"digits: full ViT {full:.4f}, fused {fused:.4f}, sub-models "
          f"{[round(s['test_accuracy'], 4) for s in digits_plan.submodels]}")
    assert not result.partial and result.missing_devices == []
    assert fused >= full - 0.02, f"fused {fused:.4f} vs full {full:.4f}"
    # the devices ran the ONNX exports; torch's view of the same fusion must agree
    assert fused == pytest.approx(digits_plan.manifest["fusion"]["accuracy"], abs=0.003)


def test_every_sub_model_is_smaller_than_the_full_vit(digits_plan):
    full = digits_plan.manifest["full"]
    subs = digits_plan.submodels
    assert sorted(c for s in subs for c in s["classes"]) == list(range(10))
    assert max(len(s["classes"]) for s in subs) - min(len(s["classes"]) for s in subs) <= 1
    for sub in subs:
        assert sub["params"] < full["params"] and sub["flops"] < full["flops"]
        onnx_bytes = digits_plan.path(sub["onnx"]).stat().st_size
        assert onnx_bytes == sub["bytes"] < full["bytes"]
        assert sub["config"]["num_classes"] == len(sub["classes"]) + 1   # the "other" class
        assert sub["embed_dim"] < full["embed_dim"] and sum(sub["heads"]) < sum(full["heads"])


def test_a_missing_device_gives_a_partial_answer_that_still_mostly_works(digits_plan, digits):
    placed = digits_plan.devices()
    gone = sorted(placed)[0]
    fleet = local_fleet(digits_plan, skip={gone})
    result = DistributedClassifier(digits_plan, fleet, deadline_s=5).classify(digits.x_test)
    fleet.close()
    assert result.partial and result.missing_devices == [gone]
    assert result.missing_submodels == placed[gone]
    fused = float((result.classes == digits.y_test).mean())
    assert 0.5 < fused < 1.0


def test_a_misconfigured_device_counts_as_missing_not_as_a_crash(digits_plan, digits):
    placed = digits_plan.devices()
    wrong, other = sorted(placed)[:2]
    fleet = local_fleet(digits_plan, skip={wrong})
    fleet.tasks[wrong] = EdvitSubmodelTask("edvit", {"plan": str(digits_plan.root), "submodels": placed[other]},
                                           TaskContext(wrong, None, digits_plan.root))
    result = DistributedClassifier(digits_plan, fleet).classify(digits.x_test[:20])
    fleet.close()
    assert result.partial and result.missing_devices == [wrong]
    assert "does not place on it" in result.errors[wrong]


def test_task_rejects_images_of_the_wrong_shape_and_unknown_submodels(digits_plan):
    task = EdvitSubmodelTask("edvit", {"plan": str(digits_plan.root), "submodels": [0]},
                             TaskContext("pi-x", None, digits_plan.root))
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\)"):
        task.handle({"x": np.zeros((2, 1, 28, 28), np.float32)})
    with pytest.raises(ValueError, match="does not host sub-model 2"):
        task.handle({"x": np.zeros((1, 1, 8, 8), np.float32), "submodels": [2]})
    reply = task.handle({"x": np.zeros((8, 8), np.float32)})
    assert reply["results"][0]["logits"].shape == (1, len(digits_plan.submodel(0)["classes"]) + 1)
    assert task.status()["backend"] == "onnxruntime"
    with pytest.raises(FileNotFoundError, match="cloud-sync edvit train"):
        EdvitSubmodelTask("edvit", {"plan": "nowhere"}, TaskContext("pi-x", None, digits_plan.root))


def test_placement_recorded_in_the_plan_uses_onnx_capable_profiles(digits_plan):
    plan = load_plan(digits_plan.root)
    assert set(plan.placement) == {0, 1, 2}
    assert set(plan.placement.values()) <= {"pi-a", "pi-b", "nano"}
    for entry in plan.submodels:
        assert entry["memory_bytes"] > entry["weight_bytes"]
