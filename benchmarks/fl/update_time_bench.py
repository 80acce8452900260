"""Per-sample on-device update time: the numpy head's batch-1 SGD step vs a PyTorch single-sample
step (forward, backward, optimizer step) on the same head, same process, 1 thread each.

Also reports the trainable state in bytes. Writes benchmarks/results/fl_update_time.json.
Run: .venv/bin/python benchmarks/fl/update_time_bench.py
"""
from __future__ import annotations

import json
import time

import numpy as np
import torch

from common import RESULTS

from edge_runtime.online.network import Network

HEADS = {  # experiment: (sizes, loss, activation)
    "occupancy": ([5, 16, 2], "ce", "relu"),
    "omniglot": ([64, 64, 5], "ce", "relu"),
    "fsdd": ([208, 64, 10], "ce", "relu"),
    "sine": ([1, 64, 64, 1], "mse", "tanh"),
}


def _median_us(step, reps: int) -> float:
    for _ in range(50):
        step()
    times = np.empty(reps)
    for i in range(reps):
        t0 = time.perf_counter()
        step()
        times[i] = time.perf_counter() - t0
    return float(np.median(times) * 1e6)


def measure(sizes, loss, activation, reps: int = 2000) -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, sizes[0])).astype(np.float32)
    y = np.array([1]) if loss == "ce" else rng.normal(size=(1, 1)).astype(np.float32)
    net = Network.mlp(sizes, loss=loss, activation=activation)
    numpy_us = _median_us(lambda: net.sgd_step(x, y, 0.01), reps)

    act = torch.nn.ReLU if activation == "relu" else torch.nn.Tanh
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y) if loss == "mse" else torch.tensor([1])
    crit = torch.nn.functional.cross_entropy if loss == "ce" else torch.nn.functional.mse_loss

    def torch_step():
        opt.zero_grad(set_to_none=True)
        crit(model(xt), yt).backward()
        opt.step()
    torch_us = _median_us(torch_step, reps)
    return {"sizes": sizes, "params": net.n_params, "trainable_bytes": net.trainable_bytes,
            "numpy_us_per_sample": numpy_us, "torch_us_per_sample": torch_us, "torch_over_numpy": torch_us / numpy_us}


def main() -> None:
    torch.set_num_threads(1)
    results = {name: measure(*spec) for name, spec in HEADS.items()}
    for name, r in results.items():
        print(f"{name:10s} params={r['params']:6d} numpy {r['numpy_us_per_sample']:7.1f} us  "
              f"torch {r['torch_us_per_sample']:7.1f} us  torch/numpy {r['torch_over_numpy']:.2f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fl_update_time.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
