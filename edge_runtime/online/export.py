"""Export a (meta-learned) numpy network to TFLite and check it under TFLite Micro.

Cloud-side only (needs torch, litert-torch and ai-edge-quantizer: requirements/export-nodeps.txt): the flat θ is
copied into an equivalent ``torch.nn.Sequential``, converted with ``litert_torch``,
then loaded back through the model runner with the ``tflm`` backend, which reports
the arena TFLite Micro really needed — the figure to hold against an MCU's RAM.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_runtime.bundle.lockfile import EXPORTER_INSTALL_HINT
from edge_runtime.online.conv import Conv2D
from edge_runtime.online.layers import Dense, ReLU, Tanh
from edge_runtime.online.network import Network


def _torch_conv(layer: Conv2D):
    """A torch module doing ``layer`` on the flat NHWC vectors the numpy network passes around."""
    import torch

    class NhwcConv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(layer.c_in, layer.c_out, layer.k, stride=layer.stride, padding=layer.pad)
            hwio = layer.W.reshape(layer.k, layer.k, layer.c_in, layer.c_out)
            with torch.no_grad():
                self.conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(hwio.transpose(3, 2, 0, 1))))
                self.conv.bias.copy_(torch.from_numpy(layer.b.copy()))

        def forward(self, x):
            x = x.reshape(-1, layer.h, layer.w, layer.c_in).permute(0, 3, 1, 2)
            return self.conv(x).permute(0, 2, 3, 1).reshape(-1, layer.n_out)

    return NhwcConv()


def to_torch(net: Network):
    """An equivalent torch module (same weights) of ``net``'s layers (conv, dense, ReLU, tanh)."""
    import torch

    modules = []
    for layer in net.layers:
        if isinstance(layer, Conv2D):
            modules.append(_torch_conv(layer))
        elif isinstance(layer, Dense):
            lin = torch.nn.Linear(layer.n_in, layer.n_out)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.b.copy()))
            modules.append(lin)
        elif isinstance(layer, ReLU):
            modules.append(torch.nn.ReLU())
        elif isinstance(layer, Tanh):
            modules.append(torch.nn.Tanh())
        else:
            raise ValueError(f"cannot export layer {type(layer).__name__}")
    return torch.nn.Sequential(*modules).eval()


def export_tflite(net: Network, path: str | Path) -> Path:
    """Write ``net`` as a float32 .tflite file (batch 1) with litert-torch."""
    try:
        import litert_torch
    except ImportError as exc:
        raise RuntimeError(f"litert-torch is not importable ({exc}); {EXPORTER_INSTALL_HINT}") from None
    import torch

    n_in = net.layers[0].n_in
    model = to_torch(net)
    edge_model = litert_torch.convert(model, (torch.zeros(1, n_in),))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    edge_model.export(str(path))
    return path


def check_under_tflm(net: Network, path: str | Path, samples: np.ndarray) -> dict:
    """Run the .tflite under TFLite Micro; the arena it used and the largest deviation from numpy."""
    from edge_runtime.models import load_model

    runner = load_model(str(path), backend="tflm")
    outputs = np.concatenate([np.asarray(runner.run(s[None].astype(np.float32))[0]).reshape(1, -1)
                              for s in samples])
    reference = net.forward(samples.astype(np.float32))
    return {"backend": runner.backend, "arena_bytes": int(runner.arena_used_bytes()),
            "file_bytes": Path(path).stat().st_size,
            "max_abs_diff_vs_numpy": float(np.max(np.abs(outputs - reference)))}


def quantise_int8(float_path: str | Path, calibration: np.ndarray, path: str | Path) -> Path:
    """Full-integer (int8 weights and activations) copy of a float .tflite, calibrated on
    ``calibration`` samples (batch-1 rows), with ai-edge-quantizer; float I/O is kept."""
    try:
        from ai_edge_litert.interpreter import Interpreter
        from ai_edge_quantizer import quantizer, recipe
    except ImportError as exc:
        raise RuntimeError(f"int8 export needs ai-edge-quantizer ({exc}); {EXPORTER_INSTALL_HINT}") from None
    signature = Interpreter(model_path=str(float_path)).get_signature_list()
    key = next(iter(signature))
    input_name = signature[key]["inputs"][0]
    qt = quantizer.Quantizer(str(float_path))
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    samples = [{input_name: row[None].astype(np.float32)} for row in np.asarray(calibration, np.float32)]
    result = qt.quantize(qt.calibrate({key: samples}))
    path = Path(path)
    path.unlink(missing_ok=True)
    result.export_model(str(path))
    return path
