"""Agent task ``online``: a stream of samples in, predictions and periodic metrics out.

Config (device YAML)::

    tasks:
      - kind: online
        name: presence
        interval_s: 1.0
        params:
          mode: classifier            # or: autoencoder (anomaly scores, no labels needed)
          n_features: 5
          n_classes: 2
          hidden: [16]
          lr: 0.01
          backbone: null              # optional .onnx/.tflite frozen feature extractor
          source: {kind: occupancy, file: datatest2.txt, warmup: datatraining.txt}
          samples_per_step: 60        # stream samples consumed per step()
          metrics_every: 1440         # a metrics record every N samples

Sources: ``occupancy`` (the shared UCI files, for demos) or ``npz`` (``path`` with arrays
``x`` and optional ``y``). Without a source, samples arrive by request: ``handle({"x":
[[...]], "y": [...]})`` predicts (and learns when labels are given).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from edge_runtime.agent.task import Task
from edge_runtime.online.learner import OnlineAutoencoder, OnlineLearner
from edge_runtime.online.network import Network


class OnlineLearningTask(Task):
    kind = "online"

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        p = self.params
        self.mode = p.get("mode", "classifier")
        if self.mode not in ("classifier", "autoencoder"):
            raise ValueError(f"online task {name!r}: mode must be 'classifier' or 'autoencoder', got {self.mode!r}")
        backbone = None
        if p.get("backbone"):
            from edge_runtime.online.backbone import load_backbone
            backbone = load_backbone(p["backbone"], profile=context.profile)
        n_features = int(p.get("n_features", 0))
        if n_features < 1:
            raise ValueError(f"online task {name!r}: params.n_features (size of the features fed to the head) "
                             f"is required")
        hidden = list(p.get("hidden", [16]))
        if self.mode == "autoencoder":
            self.model: Any = OnlineAutoencoder(n_features, hidden or [8], lr=float(p.get("lr", 0.01)),
                                                threshold=float(p.get("threshold", 3.0)), backbone=backbone)
        else:
            head = Network.mlp([n_features, *hidden, int(p.get("n_classes", 2))], loss="ce",
                               seed=int(p.get("seed", 0)))
            self.model = OnlineLearner(head, n_features, lr=float(p.get("lr", 0.01)), backbone=backbone)
        self.samples_per_step = int(p.get("samples_per_step", 60))
        self.metrics_every = int(p.get("metrics_every", 1000))
        self.x, self.y = self._load_source(p.get("source"))
        self.position = 0
        self.params_loop = bool(p.get("loop", False))   # at the end of the source: start again
        self.passes = 0
        self.seen = self.correct = self.flagged = 0
        self._since_metrics = 0

    # -- sources -------------------------------------------------------------------------------
    def _load_source(self, source: dict | None):
        if not source:
            return None, None
        kind = source.get("kind")
        if kind == "occupancy":
            from edge_runtime.online.datasets.occupancy import load_occupancy
            split = load_occupancy(source.get("file", "datatest2.txt"))
            if source.get("warmup") and self.mode == "classifier":
                warm = load_occupancy(source["warmup"])
                self.model.fit(warm.x, warm.y, epochs=int(source.get("warmup_epochs", 1)))
            return split.x, split.y
        if kind == "npz":
            with np.load(source["path"]) as data:
                return data["x"].astype(np.float32), (data["y"] if "y" in data.files else None)
        raise ValueError(f"online task {self.name!r}: unknown source kind {kind!r}; use 'occupancy' or 'npz'")

    # -- agent hooks ---------------------------------------------------------------------------
    def step(self) -> list[dict[str, Any]]:
        if self.x is not None and self.position >= len(self.x) and self.params_loop:
            self.position = 0              # replay the stream (demo runs longer than the file)
            self.passes += 1
        if self.x is None or self.position >= len(self.x):
            return []
        end = min(len(self.x), self.position + self.samples_per_step)
        x = self.x[self.position:end]
        y = self.y[self.position:end] if self.y is not None else None
        self.position = end
        return self._process(x, y)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        x = np.asarray(request.get("x"), np.float32)
        if x.ndim != 2:
            raise ValueError(f"online request: 'x' must be a 2-D list of samples, got shape {x.shape}")
        y = np.asarray(request["y"]) if request.get("y") is not None else None
        if y is not None and len(y) != len(x):
            raise ValueError(f"online request: {len(x)} samples but {len(y)} labels")
        records = self._process(x, y)
        return records[0]

    def _process(self, x: np.ndarray, y: np.ndarray | None) -> list[dict[str, Any]]:
        if self.mode == "autoencoder":
            scored = [self.model.learn_one(row) for row in x]
            scores = [s for s, _ in scored]
            flags = [f for _, f in scored]
            self.flagged += int(sum(flags))
            record = {"kind": "scores", "scores": scores, "anomalies": flags}
        elif y is None:
            record = {"kind": "predictions", "predictions": self.model.predict(x).tolist()}
        else:
            predictions = self.model.learn_stream(x, y)
            self.correct += int(np.sum(predictions == y))
            record = {"kind": "predictions", "predictions": predictions.tolist()}
        self.seen += len(x)
        self._since_metrics += len(x)
        records = [record]
        if self._since_metrics >= self.metrics_every:
            self._since_metrics = 0
            records.append({"kind": "metrics", **self.status()})
        return records

    def status(self) -> dict[str, Any]:
        out = {"mode": self.mode, "samples_seen": self.seen,
               "trainable_state_bytes": self.model.trainable_state_bytes}
        if self.mode == "classifier" and self.seen:
            out["prequential_accuracy"] = self.correct / self.seen
        if self.mode == "autoencoder":
            out["anomalies"] = self.flagged
        return out
