"""A 2-D convolution in plain numpy with an explicit backward pass, for whole small CNNs that a
device adapts itself (Omniglot characters, keyword spectrograms).

Layout is NHWC (TFLite's) carried *flat*: a layer takes ``(batch, H*W*C)`` and returns
``(batch, H'*W'*C')``, so it chains with the dense and activation layers of
:mod:`edge_runtime.online.layers` and its parameters are views into the network's one
flat vector like theirs. Down-sampling is by stride (no pooling layer): fewer layers to
train, export and hold in an MCU arena.

The forward pass gathers the k×k patches into one matrix and does one matmul (im2col);
the backward pass scatters the patch gradients back with a loop over the k² kernel
offsets only — every iteration is vectorised over batch and space.
"""
from __future__ import annotations

import numpy as np

from edge_runtime.online.layers import DTYPE, Layer


class Conv2D(Layer):
    """k×k convolution, ``stride``, zero padding ``pad``; weights (k, k, C_in, C_out) as HWIO."""

    def __init__(self, height: int, width: int, c_in: int, c_out: int, name: str, kernel: int = 3,
                 stride: int = 2, pad: int = 1):
        if min(height, width, c_in, c_out, kernel, stride) < 1 or pad < 0:
            raise ValueError(f"{name}: sizes must be positive, got H={height} W={width} C_in={c_in} "
                             f"C_out={c_out} k={kernel} stride={stride} pad={pad}")
        self.h, self.w, self.c_in, self.c_out, self.name = height, width, c_in, c_out, name
        self.k, self.stride, self.pad = kernel, stride, pad
        self.h_out = (height + 2 * pad - kernel) // stride + 1
        self.w_out = (width + 2 * pad - kernel) // stride + 1
        if self.h_out < 1 or self.w_out < 1:
            raise ValueError(f"{name}: a {kernel}x{kernel} kernel does not fit a {height}x{width} input")
        self.n_in = height * width * c_in
        self.n_out = self.h_out * self.w_out * c_out
        self.n_params = kernel * kernel * c_in * c_out + c_out
        self.macs = self.h_out * self.w_out * kernel * kernel * c_in * c_out  # per sample, forward

    def shapes(self):
        return {f"{self.name}.W": (self.k * self.k * self.c_in, self.c_out), f"{self.name}.b": (self.c_out,)}

    def bind(self, params, grads):
        self.W, self.b = params[f"{self.name}.W"], params[f"{self.name}.b"]
        self.dW, self.db = grads[f"{self.name}.W"], grads[f"{self.name}.b"]

    def _windows(self, xp: np.ndarray):
        """(i, j, view) for every kernel offset: the strided input samples it multiplies."""
        s, ho, wo = self.stride, self.h_out, self.w_out
        for i in range(self.k):
            for j in range(self.k):
                yield i, j, xp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :]

    def forward(self, x):
        n = x.shape[0]
        x4 = np.asarray(x, DTYPE).reshape(n, self.h, self.w, self.c_in)
        p = self.pad
        xp = np.pad(x4, ((0, 0), (p, p), (p, p), (0, 0))) if p else x4
        cols = np.empty((n, self.h_out, self.w_out, self.k, self.k, self.c_in), DTYPE)
        for i, j, view in self._windows(xp):
            cols[:, :, :, i, j, :] = view
        self._cols = cols.reshape(n * self.h_out * self.w_out, -1)
        y = self._cols @ self.W
        y += self.b
        return y.reshape(n, self.n_out)

    def backward(self, grad_out):
        n = grad_out.shape[0]
        g = np.ascontiguousarray(grad_out, DTYPE).reshape(n * self.h_out * self.w_out, self.c_out)
        np.matmul(self._cols.T, g, out=self.dW)
        np.sum(g, axis=0, out=self.db)
        dcols = (g @ self.W.T).reshape(n, self.h_out, self.w_out, self.k, self.k, self.c_in)
        p, s = self.pad, self.stride
        dxp = np.zeros((n, self.h + 2 * p, self.w + 2 * p, self.c_in), DTYPE)
        for i in range(self.k):
            for j in range(self.k):
                dxp[:, i:i + s * (self.h_out - 1) + 1:s, j:j + s * (self.w_out - 1) + 1:s, :] += dcols[:, :, :, i, j, :]
        dx = dxp[:, p:p + self.h, p:p + self.w, :] if p else dxp
        return dx.reshape(n, self.n_in)


def conv_stack(height: int, width: int, channels: list[int], n_out: int, activation: str = "relu",
               hidden: int | None = None) -> list[Layer]:
    """Stride-2 3×3 convolutions ``conv0, conv1, ...`` (ReLU after each), then an optional dense
    hidden layer and the dense output layer ``out``. ``channels[0]`` is the input's channels."""
    from edge_runtime.online.layers import ACTIVATIONS, Dense

    if len(channels) < 2:
        raise ValueError(f"conv_stack needs input channels and at least one conv layer, got {channels}")
    layers: list[Layer] = []
    h, w = height, width
    for i, (a, b) in enumerate(zip(channels[:-1], channels[1:])):
        conv = Conv2D(h, w, a, b, f"conv{i}")
        layers += [conv, ACTIVATIONS[activation](conv.n_out)]
        h, w = conv.h_out, conv.w_out
    width_in = h * w * channels[-1]
    if hidden:
        layers += [Dense(width_in, hidden, "hidden"), ACTIVATIONS[activation](hidden)]
        width_in = hidden
    layers.append(Dense(width_in, n_out, "out"))
    return layers
