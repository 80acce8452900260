"""Trainable layers in plain numpy with explicit forward/backward, small enough for a device.

Why not autograd: a microcontroller-class device has no autograd engine, and the
paper's point is that a few dense layers can be trained one sample at a time in a
fixed memory budget. So every layer here keeps its parameters and gradients as
*views into one flat float32 vector* owned by :class:`Network`. That makes

* the SGD step one vectorised ``params -= lr * grads``;
* federated updates (deltas, top-P% sparsity, int8) operate on one array;
* named parameter groups (TinyMetaFed's local layers) plain slices of it.

Activations are cached per layer in buffers that grow only when a larger batch
arrives, so the batch-1 online path allocates nothing after the first sample.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

DTYPE = np.float32


class _Buffer:
    """A reusable (rows, cols) float32 scratch array; grows only when a bigger batch arrives."""

    def __init__(self, cols: int):
        self.cols = cols
        self.data = np.empty((1, cols), DTYPE)

    def rows(self, n: int) -> np.ndarray:
        if self.data.shape[0] < n:
            self.data = np.empty((n, self.cols), DTYPE)
        return self.data[:n]


class Layer:
    """Forward caches what backward needs; backward fills parameter gradients and returns dL/dx."""

    n_params: int = 0
    n_out: int

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Attach views into the network's flat parameter and gradient vectors."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Dense(Layer):
    """y = x W + b with W of shape (n_in, n_out)."""

    def __init__(self, n_in: int, n_out: int, name: str):
        self.n_in, self.n_out, self.name = n_in, n_out, name
        self.n_params = n_in * n_out + n_out
        self._y = _Buffer(n_out)
        self._dx = _Buffer(n_in)
        self._x: np.ndarray | None = None

    def shapes(self):
        return {f"{self.name}.W": (self.n_in, self.n_out), f"{self.name}.b": (self.n_out,)}

    def bind(self, params, grads):
        self.W, self.b = params[f"{self.name}.W"], params[f"{self.name}.b"]
        self.dW, self.db = grads[f"{self.name}.W"], grads[f"{self.name}.b"]

    def forward(self, x):
        self._x = x
        y = self._y.rows(x.shape[0])
        np.matmul(x, self.W, out=y)
        y += self.b
        return y

    def backward(self, grad_out):
        np.matmul(self._x.T, grad_out, out=self.dW)
        np.sum(grad_out, axis=0, out=self.db)
        dx = self._dx.rows(grad_out.shape[0])
        np.matmul(grad_out, self.W.T, out=dx)
        return dx


class _Activation(Layer):
    """Element-wise activation: output and input-gradient buffers of the layer's width."""

    def __init__(self, n: int):
        self.n_out = n
        self._y = _Buffer(n)
        self._dx = _Buffer(n)


class ReLU(_Activation):
    def forward(self, x):
        y = self._y.rows(x.shape[0])
        np.maximum(x, 0.0, out=y)
        return y

    def backward(self, grad_out):
        dx = self._dx.rows(grad_out.shape[0])
        np.multiply(grad_out, self._y.data[: grad_out.shape[0]] > 0, out=dx)
        return dx


class Tanh(_Activation):
    def forward(self, x):
        y = self._y.rows(x.shape[0])
        np.tanh(x, out=y)
        return y

    def backward(self, grad_out):
        y = self._y.data[: grad_out.shape[0]]
        dx = self._dx.rows(grad_out.shape[0])
        np.multiply(y, y, out=dx)
        np.subtract(1.0, dx, out=dx)
        dx *= grad_out
        return dx


class SoftmaxCrossEntropy:
    """Mean cross-entropy of integer labels on logits; gradient (softmax - onehot) / n."""

    def __init__(self, n_classes: int):
        self._p = _Buffer(n_classes)

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        n = logits.shape[0]
        p = self._p.rows(n)
        np.subtract(logits, logits.max(axis=1, keepdims=True), out=p)
        np.exp(p, out=p)
        p /= p.sum(axis=1, keepdims=True)
        self._labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        picked = p[np.arange(n), self._labels]
        return float(-np.log(np.maximum(picked, 1e-12)).mean())

    def backward(self) -> np.ndarray:
        n = self._labels.shape[0]
        grad = self._p.data[:n]
        grad[np.arange(n), self._labels] -= 1.0
        grad /= n
        return grad


class MeanSquaredError:
    """Mean over samples and outputs of (y - t)^2."""

    def __init__(self, n_out: int):
        self._d = _Buffer(n_out)
        self._rows = 0

    def forward(self, y: np.ndarray, target: np.ndarray) -> float:
        self._rows = y.shape[0]
        d = self._d.rows(self._rows)
        np.subtract(y, np.asarray(target, DTYPE).reshape(y.shape), out=d)
        return float(np.mean(d * d))

    def backward(self) -> np.ndarray:
        d = self._d.data[: self._rows]
        d *= 2.0 / d.size
        return d


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh}
LOSSES = {"ce": SoftmaxCrossEntropy, "mse": MeanSquaredError}


def dense_stack(sizes: Sequence[int], activation: str = "relu") -> list[Layer]:
    """Dense layers named ``dense0, dense1, ...`` with ``activation`` between them."""
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least input and output sizes, got {list(sizes)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    layers: list[Layer] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(a, b, f"dense{i}"))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation](b))
    return layers
