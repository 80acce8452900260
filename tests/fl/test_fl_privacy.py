"""Client-side DP: clipping bounds what leaves the device, noise is there, the accountant agrees
with the closed form and moves the right way."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cloud_sync.fl.accountant import epsilon, rdp_sampled_gaussian
from edge_runtime.online.privacy import clip_and_noise


def test_rdp_without_sampling_is_the_gaussian_mechanism():
    for a in (2, 7, 31):
        assert rdp_sampled_gaussian(1.0, 2.0, a) == pytest.approx(a / 8)
    # q → 1 through the binomial sum agrees with the closed form
    assert rdp_sampled_gaussian(0.999999, 2.0, 5) == pytest.approx(5 / 8, rel=1e-4)


def test_epsilon_moves_the_right_way():
    base, _ = epsilon(0.05, 1.0, 100)
    assert 0 < base < math.inf
    assert epsilon(0.05, 2.0, 100)[0] < base        # more noise, less ε
    assert epsilon(0.05, 1.0, 400)[0] > base        # more rounds, more ε
    assert epsilon(0.01, 1.0, 100)[0] < base        # rarer sampling, less ε
    assert epsilon(0.05, 0.0, 100)[0] == math.inf   # no noise, no guarantee
    one_shot, _ = epsilon(1.0, 5.0, 1)
    assert one_shot < math.sqrt(2 * math.log(1.25 / 1e-5)) / 5  # tighter than the classic bound


def test_clip_bounds_the_update_and_noise_is_added():
    rng = np.random.default_rng(0)
    delta = np.full(100, 1.0, np.float32)
    clipped, norm = clip_and_noise(delta, 0.5, 0.0, rng)
    assert norm == pytest.approx(10.0) and np.linalg.norm(clipped) == pytest.approx(0.5, rel=1e-5)
    small = np.full(100, 0.001, np.float32)
    np.testing.assert_array_equal(clip_and_noise(small, 0.5, 0.0, rng)[0], small)
    noisy, _ = clip_and_noise(delta, 0.5, 0.1, rng)
    assert 0.07 < float(np.std(noisy - clipped)) < 0.13
    with pytest.raises(ValueError):
        clip_and_noise(delta, 0.0, 0.1, rng)


def test_device_applies_privacy_before_upload():
    from cloud_sync.fl import make_strategy
    from edge_runtime.online.codec import decode_vector
    from edge_runtime.online.experiments import build_experiment
    from edge_runtime.online.fl_client import FederatedClient

    exp = build_experiment("sine", n_devices=2, n_eval_tasks=2)
    client = FederatedClient(exp, exp.device_ids()[0])
    net = exp.make_network(0)
    strategy = make_strategy("fedavg", dp_clip=0.01, dp_noise=0.0, local_steps=8, lr=0.02)
    body = strategy.configure_round(0, net.get_flat(), np.ones(net.n_params, bool))
    assert body["privacy"] == {"clip": 0.01, "noise_std": 0.0}
    update = decode_vector(client.handle(body)["update"])
    assert np.linalg.norm(update) <= 0.01 + 1e-6
