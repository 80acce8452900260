"""Every numpy layer's gradients against PyTorch autograd on the same weights and inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_runtime.online.network import Network


def _torch_twin(net: Network, activation: str):
    """The same MLP in torch, weights copied from the numpy network."""
    mods = []
    dense = [l for l in net.layers if hasattr(l, "W")]
    for i, layer in enumerate(dense):
        lin = torch.nn.Linear(layer.n_in, layer.n_out).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.W.T.astype(np.float64)))
            lin.bias.copy_(torch.from_numpy(layer.b.astype(np.float64)))
        mods.append(lin)
        if i < len(dense) - 1:
            mods.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    return torch.nn.Sequential(*mods), [m for m in mods if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("batch", [1, 7])
def test_gradients_match_autograd(activation, loss, batch):
    rng = np.random.default_rng(3)
    sizes = [6, 9, 8, 4]
    net = Network.mlp(sizes, loss=loss, activation=activation, seed=1)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, 4, size=batch) if loss == "ce" else rng.normal(size=(batch, 4)).astype(np.float32)
    value = net.loss_and_grad(x, y)

    twin, linears = _torch_twin(net, activation)
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    out = twin(xt)
    if loss == "ce":
        ref = torch.nn.functional.cross_entropy(out, torch.from_numpy(y))
    else:
        ref = torch.nn.functional.mse_loss(out, torch.from_numpy(y.astype(np.float64)))
    ref.backward()

    assert value == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    dense = [l for l in net.layers if hasattr(l, "W")]
    for layer, lin in zip(dense, linears):
        np.testing.assert_allclose(layer.dW, lin.weight.grad.numpy().T, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(layer.db, lin.bias.grad.numpy(), rtol=1e-4, atol=1e-6)
    # gradient w.r.t. the input, returned by the first layer's backward
    dx = _input_gradient(net, x, y)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def _input_gradient(net: Network, x, y) -> np.ndarray:
    out = net.forward(x)
    net.loss.forward(out, y)
    g = net.loss.backward()
    for layer in reversed(net.layers):
        g = layer.backward(g)
    return g.copy()


def test_sgd_step_lowers_loss_and_respects_frozen_mask():
    rng = np.random.default_rng(0)
    net = Network.mlp([3, 16, 2], loss="ce", seed=0)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    frozen = net.mask_for(["dense0"])
    before = net.get_flat()
    first = net.evaluate(x, y)["loss"]
    for _ in range(50):
        net.sgd_step(x, y, lr=0.1, frozen=frozen)
    after = net.get_flat()
    assert net.evaluate(x, y)["loss"] < first
    np.testing.assert_array_equal(after[frozen], before[frozen])
    assert np.any(after[~frozen] != before[~frozen])


def test_add_outputs_keeps_old_weights():
    net = Network.mlp([4, 5, 3], loss="ce", seed=0)
    old_w = net.named_params["dense1.W"].copy()
    net.add_outputs(2)
    assert net.n_outputs == 5
    np.testing.assert_array_equal(net.named_params["dense1.W"][:, :3], old_w)
    assert net.forward(np.ones((1, 4), np.float32)).shape == (1, 5)
