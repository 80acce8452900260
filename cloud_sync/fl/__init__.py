"""Federated (meta-)learning on the coordinator: strategies behind one interface, fleets
(in-process simulation, MQTT), a round runner with persisted state, and the CLI."""
from __future__ import annotations

from cloud_sync.fl.strategy import Strategy, StrategyConfig

STRATEGIES = {
    "fedavg": "cloud_sync.fl.fedavg:FedAvg",
    "reptile": "cloud_sync.fl.reptile:Reptile",
    "tinyreptile": "cloud_sync.fl.tinyreptile:TinyReptile",
    "tinymetafed": "cloud_sync.fl.tinymetafed:TinyMetaFed",
}


def make_strategy(name: str, **overrides) -> Strategy:
    """A strategy by name, with hyper-parameter overrides (unknown names fail clearly)."""
    import importlib

    try:
        target = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(**overrides)


__all__ = ["STRATEGIES", "Strategy", "StrategyConfig", "make_strategy"]
