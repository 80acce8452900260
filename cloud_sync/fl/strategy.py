"""One interface for every federated strategy (after Flower's ``Strategy``): per round,
``select_devices`` → ``configure_round`` (the request body) → ``aggregate`` (new θ).

A strategy never talks to devices; a :class:`~cloud_sync.fl.fleet.Fleet` does, so the
same strategy object runs in the in-process simulation and over MQTT. Strategies
hold only hyper-parameters, which makes a persisted round resumable by recreating
the strategy and loading θ.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from edge_runtime.online.codec import decode_vector, encode_vector


@dataclass
class StrategyConfig:
    """Hyper-parameters shared by the strategies; each strategy file sets its own defaults."""

    clients_per_round: int = 5
    local_steps: int = 32
    lr: float = 0.01
    batch_size: int = 10
    beta: float = 1.0            # server step size (Reptile family); decays linearly to beta_final
    beta_final: float = 0.0
    rounds: int = 100            # for the β schedule
    quantise_download: bool = False
    quantise_upload: bool = False
    top_p: float | None = None   # percent of largest changes uploaded
    local_params: tuple[str, ...] = ()
    reconstruct_steps: int = 8
    dp_clip: float | None = None        # client-side DP: L2 clip of every update ...
    dp_noise: float = 0.0               # ... and Gaussian noise multiplier (std = dp_noise · dp_clip)
    secure_aggregation: bool = False    # pairwise-masked sum (cloud_sync.fl.secagg): the server sees no update
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["local_params"] = list(self.local_params)
        return d


class Strategy:
    """Base: random selection of ``clients_per_round`` devices, plain request, FedAvg-free hooks."""

    name: ClassVar[str] = "base"
    defaults: ClassVar[dict[str, Any]] = {}
    last_overhead_bytes: int = 0  # wire bytes of the last round beyond the requests and replies

    def __init__(self, **overrides: Any):
        unknown = set(overrides) - set(StrategyConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown {self.name} options {sorted(unknown)}; "
                             f"known: {sorted(StrategyConfig.__dataclass_fields__)}")
        self.config = StrategyConfig(**{**self.defaults, **overrides})
        self.config.local_params = tuple(self.config.local_params)

    # -- the three verbs ------------------------------------------------------------------------
    def select_devices(self, round_idx: int, available: list[str], rng: np.random.Generator) -> list[str]:
        if not available:
            return []
        k = min(self.config.clients_per_round, len(available))
        return sorted(rng.choice(sorted(available), size=k, replace=False).tolist())

    def configure_round(self, round_idx: int, theta: np.ndarray, shared_mask: np.ndarray) -> dict[str, Any]:
        """The request every selected device receives this round."""
        c = self.config
        return {"round": round_idx, "strategy": self.name,
                "theta": encode_vector(theta[shared_mask], quantise=c.quantise_download),
                "steps": c.local_steps, "lr": c.lr, "batch_size": c.batch_size,
                "upload": {"quantise": c.quantise_upload, "top_p": c.top_p},
                "local_params": list(c.local_params), "reconstruct_steps": c.reconstruct_steps,
                **({"privacy": {"clip": c.dp_clip, "noise_std": c.dp_noise * c.dp_clip}} if c.dp_clip else {})}

    def aggregate(self, round_idx: int, theta: np.ndarray, shared_mask: np.ndarray,
                  replies: dict[str, dict[str, Any]], selected: list[str] | None = None) -> np.ndarray:
        """New θ from the replies that arrived (a round with none leaves θ unchanged); ``selected``:
        every device asked this round (secure aggregation recovers the ones that dropped)."""
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------------------------
    def beta_at(self, round_idx: int) -> float:
        c = self.config
        frac = min(1.0, round_idx / max(1, c.rounds - 1))
        return c.beta + (c.beta_final - c.beta) * frac

    @staticmethod
    def deltas(replies: dict[str, dict[str, Any]], size: int) -> tuple[np.ndarray, np.ndarray]:
        """Stacked decoded updates (devices × shared size) and their sample counts."""
        rows, weights = [], []
        for device, reply in sorted(replies.items()):
            delta = decode_vector(reply["update"])
            if delta.size != size:
                raise ValueError(f"update from {device} has {delta.size} values, expected {size}")
            rows.append(delta)
            weights.append(float(reply.get("n_samples", 1)))
        return np.stack(rows), np.asarray(weights)

    def mean_update(self, replies: dict[str, dict[str, Any]], size: int, selected: list[str] | None,
                    weighted: bool) -> np.ndarray | None:
        """The round's (sample-weighted) mean update, through secure aggregation when configured
        (then unweighted: the server sees only the sum). ``None``: nothing usable this round.
        Sets ``last_overhead_bytes`` to what the masking protocol cost on the wire."""
        self.last_overhead_bytes = 0
        if not replies:
            return None
        deltas, weights = self.deltas(replies, size)
        if not self.config.secure_aggregation:
            if not weighted:
                weights = np.ones_like(weights)
            return (weights[:, None] * deltas).sum(axis=0) / weights.sum()
        from cloud_sync.fl.secagg import secure_sum

        devices = sorted(replies)
        result = secure_sum(sorted(set(selected or devices) | set(devices)), dict(zip(devices, deltas)))
        self.last_overhead_bytes = result.bytes_total - result.bytes_by_phase["masked_upload"]
        return None if result.total is None else result.total / len(result.survivors)

    def apply(self, theta: np.ndarray, shared_mask: np.ndarray, step: np.ndarray) -> np.ndarray:
        out = theta.copy()
        out[shared_mask] += step.astype(np.float32)
        return out

    def adopt_experiment_defaults(self, local_params: tuple[str, ...]) -> None:
        """Hook for strategies that keep parameters on the device (TinyMetaFed)."""
