"""Export ViTs to ONNX (batch axis dynamic) or TFLite (batch 1) and measure what a sub-model costs.

We use torch's TorchScript-based exporter (``dynamo=False``): for these small models it
takes ~0.3 s against ~10 s for the dynamo exporter, and gives the same numbers (checked
in the tests against torch). If a later torch drops it, we fall back to dynamo.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from cloud_sync.edvit.vit import TinyVit, count_parameters, vit_flops
from edge_runtime.bundle.lockfile import EXPORTER_INSTALL_HINT

OPSET = 18
# litert-torch 0.10 cannot leave the batch open for this ViT: with a dynamic batch its JAX
# lowering of the patchify reshape fails ("Shapes must be 1D sequences of concrete values"),
# so the .tflite files take exactly TFLITE_BATCH images and the device runner feeds chunks.
TFLITE_BATCH = 1
CONVERT_HINT = f"on the machine that builds the plan: {EXPORTER_INSTALL_HINT}"


def export_onnx(model: TinyVit, path: str | Path) -> int:
    """Write ``model`` as ONNX with inputs ``images`` and outputs ``features, logits``; returns bytes."""
    path = Path(path)
    model = model.eval()
    size = model.config.image_size
    example = (torch.zeros(2, 1, size, size),)
    names = dict(input_names=["images"], output_names=["features", "logits"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, example, str(path), dynamo=False, opset_version=OPSET,
                              dynamic_axes={n: {0: "batch"} for n in ("images", "features", "logits")},
                              **names)
        except (TypeError, RuntimeError, NotImplementedError):
            torch.onnx.export(model, example, str(path), dynamo=True, opset_version=OPSET,
                              external_data=False, dynamic_shapes=({0: torch.export.Dim("batch")},),
                              **names)
    return path.stat().st_size


def litert_torch_module():
    """``litert_torch``, or RuntimeError saying how to install it (the ``convert`` extra)."""
    try:
        import litert_torch
    except ImportError as exc:
        raise RuntimeError(f"TFLite export needs litert-torch, which is not importable ({exc}); "
                           f"{CONVERT_HINT}") from None
    return litert_torch


def export_tflite(model: TinyVit, path: str | Path) -> int:
    """Write ``model`` as a float32 .tflite (input ``(TFLITE_BATCH, 1, H, W)``; outputs features,
    logits in that order) with litert-torch; returns bytes. Takes seconds per model."""
    litert_torch = litert_torch_module()
    path = Path(path)
    size = model.config.image_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edge_model = litert_torch.convert(model.eval(), (torch.zeros(TFLITE_BATCH, 1, size, size),))
        edge_model.export(str(path))
    return path.stat().st_size


def size_report(model: TinyVit) -> dict:
    """Parameters, float32 weight bytes and FLOPs per image of one model."""
    params = count_parameters(model)
    return {"params": params, "weight_bytes": 4 * params, "flops": vit_flops(model.config),
            "embed_dim": model.config.embed_dim, "heads": list(model.config.heads),
            "mlp": list(model.config.mlp)}
