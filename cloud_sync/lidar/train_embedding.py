"""Train the person embedding on simulated walkways and export it to ONNX, deterministically.

    python -m cloud_sync.lidar.train_embedding [--out edge_runtime/lidar/models/person_embedding.onnx]

Fixed seeds for the scenes, the sampling and torch, one thread and deterministic kernels:
the same command gives the same weights. The training scenes use seeds 1000+ so they never
coincide with the evaluation scenes (seeds 0–99).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from cloud_sync.lidar.embedding_data import person_samples
from edge_runtime.lidar.embedding import DEFAULT_MODEL
from edge_runtime.lidar.features import EMBEDDING_POINTS


def build_dataset(scenes: int, people: int, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    from tqdm import tqdm

    parts = []
    with tqdm(total=scenes * int(duration_s * 10 / 2), desc="simulating training scenes", unit="frame") as bar:
        for k in range(scenes):
            parts.append(person_samples(1000 + k, people, duration_s, progress=bar.update))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def train(samples: np.ndarray, identity: np.ndarray, steps: int, seed: int = 0,
          identities_per_batch: int = 16, per_identity: int = 8):
    import torch

    from cloud_sync.lidar.embedding_model import PersonEmbeddingNet, supervised_contrastive_loss

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed)
    ids, inverse = np.unique(identity, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(ids))]
    usable = np.array([k for k, m in enumerate(members) if len(m) >= 4])
    model = PersonEmbeddingNet()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    for step in range(steps):
        chosen = rng.choice(usable, min(identities_per_batch, len(usable)), replace=False)
        index = np.concatenate([rng.choice(members[k], per_identity, replace=len(members[k]) < per_identity)
                                for k in chosen])
        batch = samples[index].copy()
        batch[:, :, 1] *= rng.choice([-1.0, 1.0], size=(len(batch), 1))      # either side of a sensor
        batch[:, :, :2] += rng.normal(0, 0.03, size=(len(batch), 1, 2))      # centroid error
        labels = torch.as_tensor(np.repeat(chosen, per_identity))
        loss = supervised_contrastive_loss(model(torch.as_tensor(batch, dtype=torch.float32)), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        scheduler.step()
        if step % 200 == 0 or step == steps - 1:
            print(f"step {step:5d} loss {loss.item():.4f}", flush=True)
    return model


def export_onnx(model, path: Path) -> None:
    import torch

    model.eval()
    example = torch.zeros(1, EMBEDDING_POINTS, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (example,), str(path), input_names=["points"], output_names=["embedding"],
                      dynamic_axes={"points": {0: "batch"}, "embedding": {0: "batch"}},
                      opset_version=17, dynamo=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--cache", type=Path, help="keep the simulated samples in this .npz and reuse them")
    args = parser.parse_args(argv)
    if args.cache and args.cache.exists():
        cached = np.load(args.cache)
        samples, identity = cached["samples"], cached["identity"]
    else:
        samples, identity = build_dataset(args.scenes, args.people, args.duration)
        if args.cache:
            np.savez_compressed(args.cache, samples=samples, identity=identity)
    print(f"{len(samples)} samples of {len(np.unique(identity))} people", flush=True)
    model = train(samples, identity, args.steps)
    export_onnx(model, args.out)
    info = {"samples": int(len(samples)), "identities": int(len(np.unique(identity))), "steps": args.steps,
            "scenes": args.scenes, "people": args.people, "duration_s": args.duration,
            "bytes": args.out.stat().st_size}
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
