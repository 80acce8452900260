"""Chunking of FL bodies on the device side: staged θ reassembles, oversized updates come in parts,
bad parts fail clearly."""
from __future__ import annotations

import math

import cbor2
import numpy as np
import pytest

from cloud_sync.fl import make_strategy
from edge_runtime.online.chunks import Staging, part_size, split
from edge_runtime.online.codec import decode_vector
from edge_runtime.online.experiments import build_experiment
from edge_runtime.online.fl_client import FederatedClient


def test_device_trains_on_staged_theta_and_hands_out_update_parts():
    exp = build_experiment("sine", n_devices=1, n_eval_tasks=2)
    net = exp.make_network(0)
    body = make_strategy("tinyreptile", local_steps=4).configure_round(0, net.get_flat(), np.ones(net.n_params, bool))
    direct = FederatedClient(exp, "sine-000").handle(dict(body))
    client = FederatedClient(exp, "sine-000")
    data = cbor2.dumps(body["theta"])
    parts = split(data, 5000)
    assert len(parts) == math.ceil(len(data) / part_size(5000)) > 1 and all(len(p) <= 5000 for p in parts)
    for i in reversed(range(len(parts))):  # any order
        client.handle({"op": "stage", "round": 0, "index": i, "count": len(parts), "data": parts[i]})
    reply = client.handle({**body, "theta": {"staged": len(parts)}, "max_message": 5000})
    n = reply["update_parts"]
    assert "update" not in reply and n == len(parts)
    got = b"".join(client.handle({"op": "fetch", "round": 0, "index": i})["data"] for i in range(n))
    np.testing.assert_allclose(decode_vector(cbor2.loads(got)), decode_vector(direct["update"]), atol=1e-6)
    with pytest.raises(ValueError, match="no update part"):
        client.handle({"op": "fetch", "round": 0, "index": 9})


def test_incomplete_or_bad_staging_is_refused():
    staging = Staging()
    staging.put(3, 0, 2, b"ab")
    with pytest.raises(ValueError, match="missing"):
        staging.take(3, 2)
    with pytest.raises(ValueError, match="bad staged part"):
        staging.put(3, 5, 2, b"x")
    with pytest.raises(ValueError, match="headroom"):
        split(b"abc", 100)
