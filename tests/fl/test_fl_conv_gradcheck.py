"""The numpy CNN (explicit backward) against PyTorch autograd on the same weights and inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_runtime.online.conv import Conv2D, conv_stack
from edge_runtime.online.export import to_torch
from edge_runtime.online.network import Network


@pytest.mark.parametrize("shape,stride,pad", [((9, 7, 2), 2, 1), ((6, 6, 3), 1, 1), ((8, 5, 1), 2, 0)])
def test_conv_layer_forward_and_gradients_match_autograd(shape, stride, pad):
    h, w, c = shape
    net = Network([Conv2D(h, w, c, 4, "conv0", stride=stride, pad=pad)], loss="mse", seed=2)
    rng = np.random.default_rng(0)
    net.params[:] = rng.normal(0, 0.5, net.n_params)
    x = rng.normal(size=(3, h * w * c)).astype(np.float32)
    target = rng.normal(size=(3, net.n_outputs)).astype(np.float32)
    loss = net.loss_and_grad(x, target)

    twin = to_torch(net).double()
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    ref = torch.nn.functional.mse_loss(twin(xt), torch.from_numpy(target.astype(np.float64)))
    ref.backward()
    conv = twin[0].conv
    assert loss == pytest.approx(ref.item(), rel=1e-5)
    layer = net.layers[0]
    dW = conv.weight.grad.numpy().transpose(2, 3, 1, 0).reshape(layer.dW.shape)  # OIHW → HWIO rows
    np.testing.assert_allclose(layer.dW, dW, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(layer.db, conv.bias.grad.numpy(), rtol=1e-4, atol=1e-6)
    # dL/dx: what the layer hands to the layer below it
    net.forward(x)
    net.loss.forward(net.forward(x), target)
    dx = layer.backward(net.loss.backward())
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_cnn_gradients_match_autograd_end_to_end():
    """Conv → ReLU → conv → ReLU → dense with cross-entropy: every parameter's gradient."""
    net = Network(conv_stack(10, 8, [1, 3, 5], 4), loss="ce", seed=1)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 80)).astype(np.float32)
    y = rng.integers(0, 4, 5)
    loss = net.loss_and_grad(x, y)
    twin = to_torch(net).double()
    ref = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x.astype(np.float64))), torch.from_numpy(y))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-5)
    torch_params = iter(p for p in twin.parameters())
    for layer in net.layers:
        if not hasattr(layer, "W"):
            continue
        tw, tb = next(torch_params), next(torch_params)
        if isinstance(layer, Conv2D):
            expected = tw.grad.numpy().transpose(2, 3, 1, 0).reshape(layer.dW.shape)
        else:
            expected = tw.grad.numpy().T
        np.testing.assert_allclose(layer.dW, expected, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(layer.db, tb.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_conv_rejects_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        Conv2D(1, 1, 1, 2, "c", kernel=3, stride=1, pad=0)
    with pytest.raises(ValueError, match="positive"):
        Conv2D(4, 4, 0, 2, "c")
