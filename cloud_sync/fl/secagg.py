"""The coordinator's half of secure aggregation (pairwise masking, Bonawitz et al. 2017).

``secure_sum`` runs the four phases between the round's devices (``MaskingClient``,
the device code) and this server, which routes keys and shares and only ever holds
masked vectors: advertise keys → share secrets → masked upload → unmask. Devices
that were selected, took part in the key phases and then dropped before uploading
(the 30 % that vanish mid-round) are recovered from ``threshold`` survivors' shares;
with fewer survivors than the threshold the round is abandoned (θ unchanged), which
is the protocol's guarantee, not a failure of it.

Byte counts are the CBOR sizes of every message each way, so a benchmark can put the
price of privacy beside plain FedAvg. In the simulation shares travel in clear inside
one process; on a link they are encrypted to the receiving peer (+16 B tag each, counted).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cbor2
import numpy as np

from edge_runtime.online.secagg import (MaskingClient, from_fixed, pair_seed, prg, private_key_from_int,
                                        shamir_reconstruct)

AEAD_TAG = 16


@dataclass
class SecureSum:
    total: np.ndarray | None      # Σ of the survivors' updates (None: too few survivors)
    survivors: list[str]
    dropped: list[str]
    bytes_by_phase: dict[str, int] = field(default_factory=dict)

    @property
    def bytes_total(self) -> int:
        return sum(self.bytes_by_phase.values())


def secure_sum(selected: list[str], updates: dict[str, np.ndarray], threshold: int | None = None,
               frac_bits: int = 16, bound: float | None = None) -> SecureSum:
    """Σ ``updates`` (the devices that uploaded) over the round's ``selected`` devices."""
    order = sorted(selected)
    n = len(order)
    if not n or set(updates) - set(order):
        raise ValueError(f"updates from devices outside the round: {sorted(set(updates) - set(order))}")
    threshold = threshold or max(2, math.ceil(2 * n / 3)) if n > 1 else 1
    size = next(iter(updates.values())).size if updates else 0
    bound = bound if bound is not None else (2 ** (31 - frac_bits)) / n * 0.999
    clients = {dev: MaskingClient(dev, i + 1) for i, dev in enumerate(order)}
    phase = {"advertise": 0, "share": 0, "masked_upload": 0, "unmask": 0}

    public = {dev: c.public for dev, c in clients.items()}
    phase["advertise"] = n * len(cbor2.dumps({"pk": b"\0" * 32})) + n * len(cbor2.dumps(public))
    for dev, client in clients.items():
        for peer, shares in client.share_secrets(public, order, threshold).items():
            clients[peer].receive_share(dev, shares)  # a device keeps its own share too
            if peer != dev:
                phase["share"] += 2 * (len(cbor2.dumps({"from": dev, "s": [list(s) for s in shares]})) + AEAD_TAG)

    survivors = sorted(updates)
    dropped = sorted(set(order) - set(updates))
    if len(survivors) < threshold:
        return SecureSum(None, survivors, dropped, phase)
    acc = np.zeros(size, np.uint64)
    for dev in survivors:
        masked = clients[dev].masked_input(updates[dev], frac_bits, bound)
        phase["masked_upload"] += len(cbor2.dumps({"y": masked.astype("<u4").tobytes()}))
        acc += masked
    revealed: dict[str, list[tuple[int, int]]] = {}
    for dev in survivors:
        answer = clients[dev].unmask_shares(set(survivors), set(dropped))
        phase["unmask"] += len(cbor2.dumps({k: list(v) for k, v in answer.items()}))
        for owner, share in answer.items():
            revealed.setdefault(owner, []).append(share)
    for dev in survivors:  # remove self-masks
        seed = shamir_reconstruct(revealed[dev][:threshold]).to_bytes(32, "little")
        acc += (1 << 32) - prg(seed, size).astype(np.uint64)
    for gone in dropped:  # remove the dropped devices' pairwise masks with every survivor
        key = private_key_from_int(shamir_reconstruct(revealed[gone][:threshold]))
        for dev in survivors:
            mask = prg(pair_seed(key, public[dev]), size).astype(np.uint64)
            # the survivor added +mask if dev < gone else −mask; undo it
            acc += (1 << 32) - mask if dev < gone else mask
    total = from_fixed((acc & 0xFFFFFFFF).astype(np.uint32), frac_bits)
    return SecureSum(total.astype(np.float32), survivors, dropped, phase)
