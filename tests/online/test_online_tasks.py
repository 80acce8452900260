"""The agent tasks ``online`` and ``fl_client`` driven directly (the agent only calls these hooks)."""
from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.agent.task import TaskContext, load_task_class
from edge_runtime.online.codec import decode_vector, encode_vector


def _context(tmp_path, device="dev-1"):
    return TaskContext(device_id=device, profile=None, state_dir=tmp_path)


def test_online_task_streams_occupancy_with_metrics(shared_data, tmp_path):
    cls = load_task_class("online")
    task = cls("presence", {"n_features": 5, "n_classes": 2, "hidden": [16], "samples_per_step": 500,
                            "metrics_every": 2000,
                            "source": {"kind": "occupancy", "file": "datatest2.txt"}}, _context(tmp_path))
    records = []
    for _ in range(8):
        records += task.step()
    predictions = [r for r in records if r["kind"] == "predictions"]
    metrics = [r for r in records if r["kind"] == "metrics"]
    assert len(predictions) == 8 and len(predictions[0]["predictions"]) == 500
    assert len(metrics) == 2 and metrics[-1]["samples_seen"] == 4000
    assert metrics[-1]["prequential_accuracy"] > 0.9
    assert 0 < task.status()["trainable_state_bytes"] < 2048


def test_online_task_answers_requests_and_validates(tmp_path):
    task = load_task_class("online")("ae", {"mode": "autoencoder", "n_features": 3, "hidden": [2]},
                                     _context(tmp_path))
    reply = task.handle({"x": np.random.default_rng(0).normal(size=(20, 3)).tolist()})
    assert reply["kind"] == "scores" and len(reply["scores"]) == 20
    with pytest.raises(ValueError, match="2-D"):
        task.handle({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="n_features"):
        load_task_class("online")("bad", {}, _context(tmp_path))


def test_fl_client_task_trains_and_returns_a_sparse_int8_update(tmp_path):
    task = load_task_class("fl_client")("fl", {"experiment": "sine", "experiment_params": {"n_devices": 3},
                                               "data_device": "sine-002"}, _context(tmp_path))
    theta = task.client.experiment.make_network(0).get_flat()
    reply = task.handle({"round": 0, "theta": encode_vector(theta), "steps": 8, "lr": 0.01, "batch_size": 1,
                         "upload": {"quantise": True, "top_p": 10}})
    delta = decode_vector(reply["update"])
    assert delta.size == theta.size and 0 < np.count_nonzero(delta) <= int(np.ceil(theta.size * 0.1))
    assert reply["steps"] == 8 and task.status()["rounds_done"] == 1
    with pytest.raises(ValueError, match="no data"):
        load_task_class("fl_client")("fl", {"experiment": "sine", "experiment_params": {"n_devices": 3}},
                                     _context(tmp_path, "pi-9"))


@pytest.mark.parametrize("loop", [False, True])
def test_online_task_stream_replays_only_when_looping(tmp_path, loop):
    """A source shorter than the run ends the stream unless ``loop`` (what the demo sets)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "s.npz"
    np.savez(path, x=rng.normal(size=(30, 3)).astype(np.float32), y=rng.integers(0, 2, 30))
    task = load_task_class("online")("p", {"n_features": 3, "n_classes": 2, "hidden": [4], "samples_per_step": 10,
                                           "loop": loop, "source": {"kind": "npz", "path": str(path)}},
                                     _context(tmp_path))
    steps = [task.step() for _ in range(7)]
    produced = [bool(s) for s in steps]
    assert produced == ([True] * 7 if loop else [True, True, True, False, False, False, False])
    assert task.passes == (2 if loop else 0)
