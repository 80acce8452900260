"""Federated strategies in the in-process simulation: codec, learning, bytes, resume, stragglers."""
from __future__ import annotations

import cbor2
import numpy as np
import pytest

from cloud_sync.fl import make_strategy
from cloud_sync.fl.fleet import InProcessFleet
from cloud_sync.fl.runner import run_federated, shared_mask_for
from cloud_sync.fl.state import RoundStore
from edge_runtime.online.codec import decode_vector, encode_vector
from edge_runtime.online.experiments import build_experiment
from edge_runtime.online.fl_client import FederatedClient


def test_codec_roundtrips_and_sizes():
    rng = np.random.default_rng(0)
    v = rng.normal(size=4353).astype(np.float32)
    dense = encode_vector(v)
    np.testing.assert_array_equal(decode_vector(cbor2.loads(cbor2.dumps(dense))), v)
    q = decode_vector(encode_vector(v, quantise=True))
    assert np.max(np.abs(q - v)) <= np.max(np.abs(v)) / 127 / 2 + 1e-6
    sparse = encode_vector(v, quantise=True, top_p=10)
    back = decode_vector(sparse)
    kept = np.flatnonzero(back)
    assert len(kept) == 436
    assert np.min(np.abs(v[kept])) >= np.max(np.abs(v[np.setdiff1d(np.arange(v.size), kept)]))
    sizes = [len(cbor2.dumps(e)) for e in (dense, encode_vector(v, quantise=True), sparse)]
    assert sizes[0] > 17_400 and sizes[1] < 4_420 and sizes[2] < 1_400


def test_codec_rejects_bad_input():
    with pytest.raises(ValueError, match="indices"):
        decode_vector({"n": 10, "idx": np.array([1, 20], "<u2").tobytes(), "f32": np.ones(2, "<f4").tobytes()})
    with pytest.raises(ValueError, match="header"):
        decode_vector({"n": 5, "f32": np.ones(4, "<f4").tobytes()})
    with pytest.raises(ValueError, match="top_p"):
        encode_vector(np.ones(3), top_p=0)


@pytest.fixture(scope="module")
def digits():
    return build_experiment("digits", eval_episodes=40)


def _run(experiment, name, rounds, **options):
    net = experiment.make_network(0)
    strategy = make_strategy(name, rounds=rounds, **options)
    strategy.adopt_experiment_defaults(experiment.local_params)
    fleet = InProcessFleet({d: FederatedClient(experiment, d).handle for d in experiment.device_ids()})
    theta, history = run_federated(strategy, fleet, net.get_flat(), shared_mask_for(net, strategy), rounds,
                                   evaluate=experiment.evaluate, eval_every=rounds)
    return theta, history


@pytest.fixture(scope="module")
def sine():
    return build_experiment("sine", n_devices=50, samples_per_round=16, n_eval_tasks=20)


@pytest.mark.parametrize("name,rounds,options", [
    ("fedavg", 40, {"local_steps": 5, "lr": 0.02}),
    ("reptile", 40, {"local_steps": 5, "lr": 0.02}),
    ("tinyreptile", 150, {"local_steps": 16, "lr": 0.01}),
    ("tinymetafed", 150, {"local_steps": 16, "lr": 0.01}),
])
def test_every_strategy_learns_a_better_start_on_sine(sine, name, rounds, options):
    initial = sine.evaluate(sine.make_network(0).get_flat())["mse"]
    _, history = _run(sine, name, rounds, **options)
    assert history[-1]["eval"]["mse"] < 0.8 * initial, (name, initial, history[-1]["eval"])


def test_tinymetafed_sends_far_fewer_bytes_and_keeps_local_layer_home(digits):
    _, fedavg = _run(digits, "fedavg", 3, local_steps=2)
    theta, tmf = _run(digits, "tinymetafed", 3, local_steps=2)
    per_round = lambda h: np.mean([r["bytes_down"] + r["bytes_up"] for r in h])  # noqa: E731
    assert per_round(fedavg) > 5 * per_round(tmf)
    net = digits.make_network(0)
    local = net.mask_for(["dense1"])
    np.testing.assert_array_equal(theta[local], net.get_flat()[local])  # never uploaded, never changed


def test_round_state_resumes_and_dropouts_proceed(digits, tmp_path):
    net = digits.make_network(0)
    store = RoundStore(tmp_path / "state")
    strategy = make_strategy("fedavg", rounds=4, clients_per_round=5, local_steps=2)
    handlers = {d: FederatedClient(digits, d).handle for d in digits.device_ids()}
    fleet = InProcessFleet(handlers, drop_rate=0.4, seed=1)
    theta2, history = run_federated(strategy, fleet, net.get_flat(), shared_mask_for(net, strategy), 2, store=store)
    assert any(len(r["answered"]) < len(r["selected"]) for r in history)  # some devices dropped out
    assert all(r["bytes_up"] > 0 for r in history if r["answered"])
    state, saved = store.load()
    assert state["last_round"] == 1
    np.testing.assert_array_equal(saved, theta2)
    theta4, history = run_federated(strategy, fleet, net.get_flat(), shared_mask_for(net, strategy), 4, store=store)
    assert [r["round"] for r in history] == [0, 1, 2, 3]
    assert not np.array_equal(theta4, theta2)


def test_client_rejects_wrong_sized_theta(digits):
    client = FederatedClient(digits, digits.device_ids()[0])
    with pytest.raises(ValueError, match="theta has 3 values"):
        client.handle({"theta": encode_vector(np.ones(3)), "steps": 1, "lr": 0.1, "batch_size": 1})
    with pytest.raises(ValueError, match="out of range"):
        client.handle({"theta": encode_vector(np.ones(3)), "steps": 0, "lr": 0.1, "batch_size": 1})


def test_interrupted_save_leaves_the_last_complete_round(tmp_path):
    store = RoundStore(tmp_path / "s")
    store.save(0, np.ones(4, np.float32), {"strategy": "fedavg"}, [{"round": 0}])
    # a crash between writing θ of round 1 and replacing state.json leaves only temp files behind
    (store.dir / "theta-000001.npy.tmp").write_bytes(b"half")
    (store.dir / "state.json.tmp").write_text("{\"last_round\": 1")
    state, theta = store.load()
    assert state["last_round"] == 0
    np.testing.assert_array_equal(theta, np.ones(4))
