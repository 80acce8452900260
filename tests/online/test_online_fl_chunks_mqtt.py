"""Over Mosquitto with a real agent process: with a small per-message limit θ is staged in parts
and the update fetched in parts — every MQTT payload of the round stays under the limit, and the
round's result is the one the unchunked path gives."""
from __future__ import annotations

import json

import numpy as np

from cloud_sync.fl import make_strategy
from cloud_sync.fl.session import FederatedSession
from edge_runtime.online.chunks import part_size

LIMIT = 6 * 1024  # the sine model's float32 θ is 17.4 KB: five 4 KB parts down, five up


def test_round_in_parts_keeps_every_message_under_the_limit(mosquitto, start_agent, tmp_path):
    task = {"kind": "fl_client", "name": "fl", "interval_s": 0,
            "params": {"experiment": "sine", "experiment_params": {"n_devices": 1}, "data_device": "sine-000"}}
    start_agent("dev-0", [task])
    session = FederatedSession("sine", {"n_devices": 1}, make_strategy("tinyreptile", rounds=2, local_steps=8))
    summary = session.run(rounds=2, n_devices=1, broker=mosquitto.url, data_dir=tmp_path, deadline_s=30,
                          wait_online_s=90, eval_every=1, progress=False, max_message=LIMIT)
    assert summary["client_updates"] == 2
    fleet = session.last_fleet
    assert part_size(LIMIT) < fleet.largest_message <= LIMIT, fleet.largest_message  # full parts, none over
    records = [json.loads(line) for line in (tmp_path / "fl" / "sine-tinyreptile" / "rounds.jsonl").read_text().splitlines()]
    assert all(r["answered"] == ["dev-0"] for r in records)
    assert all(r["bytes_down"] > 4353 * 4 and r["bytes_up"] > 4353 * 4 for r in records)  # all parts counted

    # the same two rounds in-process (no chunking) land on the same θ: the parts reassemble exactly
    plain = FederatedSession("sine", {"n_devices": 1}, make_strategy("tinyreptile", rounds=2, local_steps=8))
    plain.run(rounds=2, n_devices=1, data_dir=tmp_path / "plain", eval_every=1, progress=False)
    chunked_theta = np.load(next((tmp_path / "fl" / "sine-tinyreptile").glob("theta-000001.npy")))
    plain_theta = np.load(next((tmp_path / "plain" / "fl" / "sine-tinyreptile").glob("theta-000001.npy")))
    np.testing.assert_allclose(chunked_theta, plain_theta, atol=1e-6)
