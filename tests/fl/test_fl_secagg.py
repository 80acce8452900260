"""Secure aggregation by pairwise masking: exact sums, dropped devices recovered, too few refused,
the server's inputs look nothing like the updates, and a federated round runs through it."""
from __future__ import annotations

import numpy as np
import pytest

from cloud_sync.fl.secagg import secure_sum
from edge_runtime.online.secagg import MaskingClient, shamir_reconstruct, shamir_share


def _updates(n: int, size: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"dev-{i:02d}": rng.normal(0, 0.05, size).astype(np.float32) for i in range(n)}


def test_sum_is_exact_without_dropouts():
    ups = _updates(6)
    result = secure_sum(sorted(ups), ups)
    np.testing.assert_allclose(result.total, sum(ups.values()), atol=6 * 2 ** -16)
    assert result.dropped == [] and result.bytes_by_phase["masked_upload"] >= 6 * 500 * 4


def test_thirty_percent_dropped_mid_round_are_recovered():
    ups = _updates(10)
    selected = sorted(ups)
    survivors = {d: ups[d] for d in selected[3:]}  # 3 of 10 took part in the key phases, then vanished
    result = secure_sum(selected, survivors)
    assert result.dropped == selected[:3]
    np.testing.assert_allclose(result.total, sum(survivors.values()), atol=10 * 2 ** -16)
    assert result.bytes_by_phase["unmask"] > 0


def test_fewer_survivors_than_the_threshold_get_no_sum():
    ups = _updates(6)
    selected = sorted(ups)
    result = secure_sum(selected, {d: ups[d] for d in selected[:3]}, threshold=4)
    assert result.total is None and len(result.dropped) == 3


def test_a_masked_input_does_not_reveal_its_update():
    ups = _updates(3, size=2000)
    order = sorted(ups)
    clients = {d: MaskingClient(d, i + 1) for i, d in enumerate(order)}
    public = {d: c.public for d, c in clients.items()}
    for d, c in clients.items():
        for peer, shares in c.share_secrets(public, order, 2).items():
            clients[peer].receive_share(d, shares)
    masked = clients[order[0]].masked_input(ups[order[0]], 16, 1000.0).view(np.int32) / 2 ** 16
    assert abs(np.corrcoef(masked, ups[order[0]])[0, 1]) < 0.1  # uniform noise, not the update
    with pytest.raises(ValueError):
        clients[order[0]].unmask_shares({order[1]}, {order[1]})


def test_shamir_any_threshold_shares_reconstruct():
    import secrets

    shares = shamir_share(123456789, 5, 3, secrets.SystemRandom())
    assert shamir_reconstruct(shares[:3]) == 123456789
    assert shamir_reconstruct([shares[0], shares[2], shares[4]]) == 123456789
    assert shamir_reconstruct(shares[:2]) != 123456789


def test_fedavg_round_through_secure_aggregation_matches_plain_mean():
    from cloud_sync.fl import make_strategy
    from edge_runtime.online.codec import encode_vector

    theta = np.zeros(50, np.float32)
    mask = np.ones(50, bool)
    ups = _updates(5, size=50)
    replies = {d: {"update": encode_vector(u), "n_samples": 10} for d, u in ups.items()}
    plain = make_strategy("fedavg").aggregate(0, theta, mask, replies)
    secure = make_strategy("fedavg", secure_aggregation=True)
    masked = secure.aggregate(0, theta, mask, replies, selected=sorted(ups) + ["gone-1", "gone-2"])
    np.testing.assert_allclose(masked, plain, atol=1e-4)
    assert secure.last_overhead_bytes > 0
