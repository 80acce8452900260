"""Cloud-side pretraining of the frozen Omniglot feature extractor (torch → ONNX).

The issue allows "a fixed feature extractor plus few-shot head": a small CNN is trained
once, on the *training* characters only (held-out characters are never seen), as a
plain classifier with shift augmentation; its 64-d penultimate layer is exported to
ONNX and becomes the device's frozen backbone. Federated meta-learning then learns
the starting point of the trainable head on top of it.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("cloud_sync.fl.pretrain")


def train_image_backbone(images: np.ndarray, labels: np.ndarray, out_path: str | Path, embed: int = 64,
                         epochs: int = 12, seed: int = 0) -> Path:
    """Train a 3-block CNN on (n, H, W) images with integer ``labels``; export the embedding to ONNX."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    classes, y = np.unique(labels, return_inverse=True)
    x = torch.from_numpy(np.asarray(images, np.float32)[:, None])
    yt = torch.from_numpy(y.astype(np.int64))

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

    side = images.shape[-1] // 8
    embedder = nn.Sequential(block(1, 32), block(32, 32), block(32, 32), nn.Flatten(),
                             nn.Linear(32 * side * side, embed), nn.ReLU())
    model = nn.Sequential(embedder, nn.Dropout(0.2), nn.Linear(embed, len(classes)))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for start in range(0, len(x), 64):
            idx = order[start:start + 64]
            shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
            xb = torch.roll(x[idx], shifts=shift, dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        log.info("backbone epoch %d loss %.3f", epoch, total / len(x))
    embedder.eval()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(embedder, x[:1], str(out_path), input_names=["image"], output_names=["features"],
                      dynamic_axes={"image": {0: "n"}, "features": {0: "n"}}, dynamo=False)
    return out_path


def omniglot_backbone(cache_dir: str | Path, root=None, held_out_share: float = 0.25, seed: int = 0) -> Path:
    """The cached Omniglot backbone ONNX file, trained on the training characters when missing."""
    from edge_runtime.online.datasets.omniglot import load_omniglot
    from edge_runtime.online.experiments.fewshot import held_out_characters

    path = Path(cache_dir) / f"omniglot_backbone_s{seed}_h{int(held_out_share * 100)}.onnx"
    if path.is_file():
        return path
    data = load_omniglot(root)
    train = ~np.isin(data.character, held_out_characters(data.names, held_out_share))
    return train_image_backbone(data.images[train], data.character[train], path, seed=seed)
