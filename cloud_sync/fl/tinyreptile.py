"""TinyReptile (Ren et al.): serial — one device per round runs k *online* SGD steps
(batch 1, what an MCU with 256 KB RAM can afford) from θ; θ ← θ + β(φ − θ), β decaying."""
from __future__ import annotations

from cloud_sync.fl.reptile import Reptile


class TinyReptile(Reptile):
    name = "tinyreptile"
    defaults = {"clients_per_round": 1, "batch_size": 1, "beta": 1.0, "beta_final": 0.0}
