"""The experiments by name; ``build_experiment(name, **params)`` is what the agent task and the
``cloud-sync fl run`` command both call, so device and coordinator agree on model and data."""
from __future__ import annotations

from typing import Any

from edge_runtime.online.experiments.base import Experiment, LocalData

EXPERIMENTS = ("sine", "digits", "omniglot", "fsdd", "occupancy", "omniglot_cnn", "fsdd_cnn")


def build_experiment(name: str, **params: Any) -> Experiment:
    if name == "sine":
        from edge_runtime.online.experiments.sine import SineExperiment
        return SineExperiment(**params)
    if name == "digits":
        from edge_runtime.online.experiments.fewshot import digits_experiment
        return digits_experiment(**params)
    if name == "omniglot":
        from edge_runtime.online.backbone import load_backbone
        from edge_runtime.online.experiments.fewshot import omniglot_experiment
        params = dict(params)
        backbone = params.pop("backbone", None)
        if backbone is None:
            raise ValueError("the omniglot experiment needs params.backbone = path of the frozen feature "
                             "extractor (.onnx/.tflite); make one with cloud_sync.fl.pretrain.omniglot_backbone")
        return omniglot_experiment(load_backbone(backbone), **params)
    if name == "fsdd":
        from edge_runtime.online.experiments.classification import KeywordAudio
        return KeywordAudio(**params)
    if name == "occupancy":
        from edge_runtime.online.experiments.classification import Presence
        return Presence(**params)
    if name == "omniglot_cnn":
        from edge_runtime.online.experiments.cnn import OmniglotCnn
        return OmniglotCnn(**params)
    if name == "fsdd_cnn":
        from edge_runtime.online.experiments.cnn import FsddCnn
        return FsddCnn(**params)
    raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")


__all__ = ["EXPERIMENTS", "Experiment", "LocalData", "build_experiment"]
