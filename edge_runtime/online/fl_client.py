"""The device's half of a federated round: load θ, train k local steps, return the update.

Pure computation (no transport): the in-process simulation calls ``handle`` directly
and the agent's ``FederatedClientTask`` calls it for requests arriving over MQTT, so
both modes run exactly this code. Request body (from ``cloud_sync.fl.strategy``)::

    {"round": r, "theta": <encoded vector>, "steps": k, "lr": a, "batch_size": b,
     "upload": {"quantise": bool, "top_p": P|None}, "local_params": [names],
     "reconstruct_steps": n}

``local_params`` (TinyMetaFed's partial local reconstruction): those parameters are
neither downloaded nor uploaded; every round the device rebuilds them from zero with
``reconstruct_steps`` steps on its own data while the shared part stays frozen, then
trains as usual. θ in the request then holds only the shared part.
"""
from __future__ import annotations

import time
import zlib
from typing import Any

import cbor2
import numpy as np

from edge_runtime.online.chunks import Staging, needs_chunks, split
from edge_runtime.online.codec import decode_vector, encode_vector
from edge_runtime.online.experiments.base import Experiment
from edge_runtime.online.privacy import clip_and_noise

MAX_STEPS = 100_000


class FederatedClient:
    """One device's trainer for one experiment; keeps nothing between rounds but its RNG."""

    def __init__(self, experiment: Experiment, device_id: str, seed: int = 0):
        if device_id not in experiment.device_ids():
            raise ValueError(f"device {device_id!r} has no data in experiment {experiment.name!r}; "
                             f"known devices: {experiment.device_ids()[:5]}...")
        self.experiment = experiment
        self.device_id = device_id
        self.net = experiment.make_network()
        self.rng = np.random.default_rng([seed, zlib.crc32(device_id.encode())])
        self.rounds_done = 0
        self.staging = Staging()
        self.outgoing: list[bytes] = []
        self.outgoing_round: Any = None

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        """A round request, or one of the chunking ops (``stage`` a part of θ, ``fetch`` a part of
        the last update) that keep every MQTT message under ``max_message``."""
        op = body.get("op") if isinstance(body, dict) else None
        if op == "stage":
            have = self.staging.put(body.get("round"), int(body["index"]), int(body["count"]), body["data"])
            return {"device": self.device_id, "staged": have}
        if op == "fetch":
            index = int(body["index"])
            if body.get("round") != self.outgoing_round or not 0 <= index < len(self.outgoing):
                raise ValueError(f"no update part {index} for round {body.get('round')}")
            return {"device": self.device_id, "index": index, "data": self.outgoing[index]}
        if op is not None:
            raise ValueError(f"unknown FL op {op!r}; expected 'stage', 'fetch' or none (a round)")
        if isinstance(body.get("theta"), dict) and "staged" in body["theta"]:
            body = {**body, "theta": self.staging.take(body.get("round"), int(body["theta"]["staged"]))}
        reply = self._train(body)
        limit = body.get("max_message")
        if needs_chunks(reply["update"], limit):
            self.outgoing = split(cbor2.dumps(reply.pop("update")), int(limit))
            self.outgoing_round = body.get("round")
            reply["update_parts"] = len(self.outgoing)
        return reply

    def _train(self, body: dict[str, Any]) -> dict[str, Any]:
        steps, lr, batch_size = _check_hyper(body)
        local_names = list(body.get("local_params") or [])
        local = self.net.mask_for(local_names) if local_names else np.zeros(self.net.n_params, bool)
        shared_theta = decode_vector(body["theta"])
        if shared_theta.size != int((~local).sum()):
            raise ValueError(f"theta has {shared_theta.size} values; the shared part of this "
                             f"{self.experiment.name} model has {int((~local).sum())}")
        started = time.perf_counter()
        full = np.zeros(self.net.n_params, np.float32)
        full[~local] = shared_theta
        self.net.set_flat(full)
        if self.experiment.task_local:
            self.net.params[self.net.mask_for(self.experiment.task_local)] = 0.0
        data = self.experiment.device_task(self.device_id, self.rng)
        if self.experiment.task_local and hasattr(self.experiment, "init_task_head"):
            self.experiment.init_task_head(self.net, data)
        if local.any():  # rebuild the device-only parameters with the shared part frozen
            for xb, yb in data.batches(int(body.get("reconstruct_steps", steps)), batch_size, self.rng):
                self.net.sgd_step(xb, yb, lr, clip=10.0, frozen=~local)
        start = self.net.get_flat()
        losses = [self.net.sgd_step(xb, yb, lr, clip=10.0) for xb, yb in data.batches(steps, batch_size, self.rng)]
        delta = (self.net.params - start)[~local]
        privacy = body.get("privacy")
        if privacy:  # clip + noise here, before the update leaves the device
            delta, _ = clip_and_noise(delta, float(privacy["clip"]), float(privacy.get("noise_std", 0.0)), self.rng)
        upload = body.get("upload") or {}
        self.rounds_done += 1
        return {"device": self.device_id, "round": body.get("round"),
                "update": encode_vector(delta, bool(upload.get("quantise")), upload.get("top_p")),
                "n_samples": int(len(data.x)), "steps": steps,
                "loss_first": float(losses[0]), "loss_last": float(np.mean(losses[-max(1, steps // 4):])),
                "train_s": time.perf_counter() - started}


def _check_hyper(body: dict[str, Any]) -> tuple[int, float, int]:
    if not isinstance(body, dict) or "theta" not in body:
        raise ValueError("FL request must be a dict with 'theta', 'steps', 'lr', 'batch_size'")
    steps, lr, batch = int(body.get("steps", 1)), float(body.get("lr", 0.01)), int(body.get("batch_size", 1))
    if not 1 <= steps <= MAX_STEPS or not 0 < lr < 10 or not 1 <= batch <= 10_000:
        raise ValueError(f"FL request hyper-parameters out of range: steps={steps} (1..{MAX_STEPS}), "
                         f"lr={lr} (0..10), batch_size={batch} (1..10000)")
    return steps, lr, batch
