"""The ED-ViT plan folder: what the cloud's ``split``/``place`` write and devices read.

A plan is a folder with ``manifest.json`` beside the exported ONNX files and the fusion
weights. Devices need only this module (json + paths), not torch.

manifest.json::

    {"format": "edvit-plan/1", "dataset": "digits", "image_size": 8, "num_classes": 10,
     "full": {"onnx": "full.onnx", "params": .., "bytes": .., "flops": .., "accuracy": ..},
     "submodels": [{"index": 0, "classes": [0, 1, 2, 3], "keep_ratio": 0.6,
                    "onnx": "submodel_0.onnx", "feature_dim": 24, "params": .., "bytes": ..,
                    "flops": .., "config": {...}}, ...],
     "fusion": {"weights": "fusion.npz", "accuracy": ..},
     "placement": {"0": "pi-01", ...},          # after 'cloud-sync edvit place'
     "tflite_batch": 1}                          # after 'cloud-sync edvit export-tflite', which also
                                                 # adds "tflite": "submodel_0.tflite", "tflite_bytes"
                                                 # to the full and each sub-model entry
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "edvit-plan/1"
MANIFEST = "manifest.json"
MODEL_FORMATS = ("onnx", "tflite")   # manifest key of each exported file kind


@dataclass
class Plan:
    root: Path
    manifest: dict[str, Any]

    @property
    def image_size(self) -> int:
        return int(self.manifest["image_size"])

    @property
    def num_classes(self) -> int:
        return int(self.manifest["num_classes"])

    @property
    def submodels(self) -> list[dict[str, Any]]:
        return self.manifest.get("submodels", [])

    def submodel(self, index: int) -> dict[str, Any]:
        for entry in self.submodels:
            if entry["index"] == index:
                return entry
        raise KeyError(f"plan {self.root} has no sub-model {index}; it has "
                       f"{[e['index'] for e in self.submodels]}")

    def path(self, name: str) -> Path:
        return self.root / name

    def model_file(self, entry: dict[str, Any], model_format: str = "onnx") -> Path:
        """The exported file of a full/sub-model entry in ``model_format`` ('onnx' or 'tflite')."""
        if model_format not in MODEL_FORMATS:
            raise ValueError(f"ED-ViT model format {model_format!r} is not one of {', '.join(MODEL_FORMATS)}")
        if model_format not in entry:
            raise ValueError(f"plan {self.root} has no {model_format} export of "
                             f"{'sub-model ' + str(entry['index']) if 'index' in entry else 'the full ViT'}; "
                             f"run 'cloud-sync edvit export-tflite {self.root}' (needs the 'convert' extra)")
        return self.path(entry[model_format])

    @property
    def placement(self) -> dict[int, str]:
        """Sub-model index -> device id (empty before 'place')."""
        return {int(k): v for k, v in self.manifest.get("placement", {}).items()}

    def devices(self) -> dict[str, list[int]]:
        """Device id -> the sub-model indices it hosts."""
        hosts: dict[str, list[int]] = {}
        for index, device in sorted(self.placement.items()):
            hosts.setdefault(device, []).append(index)
        return hosts

    def save(self) -> None:
        (self.root / MANIFEST).write_text(json.dumps(self.manifest, indent=2) + "\n")


def load_plan(root: str | Path) -> Plan:
    """Read and check a plan folder, with errors that say what to run."""
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: create a plan with "
                                "'cloud-sync edvit train' then 'cloud-sync edvit split'")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    for key in ("image_size", "num_classes"):
        if key not in manifest:
            raise ValueError(f"{path}: missing {key!r}")
    return Plan(root, manifest)
