"""Greedy placement of ED-ViT sub-models on devices, re-pruning what fits nowhere.

Each device offers a memory budget (``ram_bytes * ram_fraction``: the share of RAM we
let one workload take) and a compute rate (``peak_gflops``); each sub-model needs its
float32 weights + peak activations + the inference runtime's own footprint, and costs
its FLOPs per image. Placement is longest-processing-time-first: biggest sub-model
first, onto the device that would finish its queue earliest among those with memory
left (ties: most memory left). When a sub-model fits on no device, the caller's
``reprune`` makes it smaller (lower keep ratio = prune harder) and placement starts over;
below ``min_keep`` the fleet is infeasible and the error names the smallest device and
the smallest sub-model, which is what a person needs to fix it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from cloud_sync.edvit.vit import VitConfig, count_parameters, vit_flops

RUNTIME_BYTES = 24 * 2 ** 20     # ONNX Runtime session + Python on an aarch64 board, measured ~20 MB
RAM_FRACTION = 0.5


@dataclass
class Device:
    id: str
    ram_bytes: int
    peak_gflops: float
    profile: str = ""
    onnxruntime: bool = True


@dataclass
class Demand:
    index: int
    memory_bytes: int
    flops: int


class InfeasibleFleet(RuntimeError):
    """No placement exists even at the smallest keep ratio."""


class NoFit(Exception):
    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


def memory_need(config: VitConfig, batch: int = 1, runtime_bytes: int = RUNTIME_BYTES) -> int:
    """Bytes one sub-model needs resident: weights, the largest activations, the runtime."""
    from cloud_sync.edvit.vit import TinyVit

    weights = 4 * count_parameters(TinyVit(config))
    tokens = config.num_patches + 1
    widest = max([3 * h * config.head_dim for h in config.heads] + list(config.mlp) + [config.embed_dim])
    attention = max(config.heads) * tokens * tokens
    activations = 4 * batch * (tokens * (2 * config.embed_dim + widest) + attention)
    return weights + activations + runtime_bytes


def demand_of(index: int, config: VitConfig, runtime_bytes: int = RUNTIME_BYTES) -> Demand:
    return Demand(index, memory_need(config, runtime_bytes=runtime_bytes), vit_flops(config))


def devices_from_profiles(assignments: dict[str, str]) -> list[Device]:
    """``{device id: profile id}`` -> devices, with the facts from ``device_profiles``."""
    from device_profiles import load_profile

    devices = []
    for device_id, profile_id in assignments.items():
        profile = load_profile(profile_id)
        devices.append(Device(device_id, int(profile.ram_bytes), float(profile.peak_gflops), profile_id,
                              bool(profile.backends.onnxruntime_providers)))
    return devices


def candidates_from_graph(store, devices: list[Device], min_ram_bytes: int) -> list[Device]:
    """Keep the devices the fleet graph says can run ONNX with enough RAM (and are online)."""
    from ontology.queries import capable_devices

    allowed = set(capable_devices(store, min_ram_bytes=min_ram_bytes, backend="onnxruntime"))
    return [d for d in devices if d.id in allowed]


def greedy_place(demands: Iterable[Demand], devices: list[Device],
                 ram_fraction: float = RAM_FRACTION) -> dict[int, str]:
    """Sub-model index -> device id; raises :class:`NoFit` for the first one that fits nowhere."""
    usable = [d for d in devices if d.onnxruntime]
    free = {d.id: d.ram_bytes * ram_fraction for d in usable}
    busy_s = {d.id: 0.0 for d in usable}
    rate = {d.id: max(d.peak_gflops, 1e-6) * 1e9 for d in usable}
    placement = {}
    for demand in sorted(demands, key=lambda d: (-d.memory_bytes, -d.flops, d.index)):
        fits = [d.id for d in usable if free[d.id] >= demand.memory_bytes]
        if not fits:
            raise NoFit(demand.index)
        best = min(fits, key=lambda i: (busy_s[i] + demand.flops / rate[i], -free[i]))
        placement[demand.index] = best
        free[best] -= demand.memory_bytes
        busy_s[best] += demand.flops / rate[best]
    return placement


def place_with_repruning(configs: dict[int, VitConfig], keep_ratios: dict[int, float],
                         devices: list[Device], reprune: Callable[[int, float], VitConfig], *,
                         ram_fraction: float = RAM_FRACTION, shrink: float = 0.7,
                         min_keep: float = 0.05, runtime_bytes: int = RUNTIME_BYTES,
                         log: Callable[[str], None] = lambda _: None) -> dict[int, str]:
    """Greedy placement; a sub-model that fits nowhere is re-pruned at ``keep * shrink``.

    ``reprune(index, keep_ratio)`` returns the new sub-model's config (and is expected to
    rebuild and fine-tune the sub-model); ``configs``/``keep_ratios`` are updated in place.
    """
    if not any(d.onnxruntime for d in devices):
        raise InfeasibleFleet(f"none of the {len(devices)} devices runs ONNX Runtime "
                              f"({', '.join(f'{d.id} ({d.profile})' for d in devices) or 'empty fleet'}); "
                              "add a Raspberry Pi, Jetson or PC")
    while True:
        demands = [demand_of(i, c, runtime_bytes) for i, c in configs.items()]
        try:
            return greedy_place(demands, devices, ram_fraction)
        except NoFit as miss:
            keep = keep_ratios[miss.index] * shrink
            if keep < min_keep:
                raise InfeasibleFleet(_infeasible_message(demands, devices, ram_fraction, miss.index)) from None
            log(f"sub-model {miss.index} fits no device; pruning harder (keep ratio {keep:.3f})")
            configs[miss.index] = reprune(miss.index, keep)
            keep_ratios[miss.index] = keep


def _infeasible_message(demands: list[Demand], devices: list[Device], ram_fraction: float,
                        index: int) -> str:
    usable = [d for d in devices if d.onnxruntime]
    smallest_device = min(usable, key=lambda d: d.ram_bytes)
    smallest = min(demands, key=lambda d: d.memory_bytes)
    needed = next(d for d in demands if d.index == index)
    mib = lambda b: f"{b / 2 ** 20:.1f} MiB"  # noqa: E731
    return (f"no device can host sub-model {index} ({mib(needed.memory_bytes)}) even pruned to the "
            f"minimum keep ratio; smallest device: {smallest_device.id} ({smallest_device.profile or 'custom'}, "
            f"{mib(smallest_device.ram_bytes * ram_fraction)} usable of {mib(smallest_device.ram_bytes)} RAM); "
            f"smallest sub-model: {smallest.index} ({mib(smallest.memory_bytes)}). Add devices with more RAM, "
            f"split into more sub-models (--n), or raise --ram-fraction")
