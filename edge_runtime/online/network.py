"""A small feed-forward network whose parameters live in one flat float32 vector.

The flat vector is what federated strategies exchange (``get_flat``/``set_flat``),
what the SGD step updates in one operation, and what ``trainable_bytes`` measures.
``param_slices`` names contiguous parts of it (``dense1.W`` ...), so a strategy can
keep some layers on the device (TinyMetaFed) by name.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from edge_runtime.online.layers import DTYPE, LOSSES, Dense, Layer, dense_stack


class Network:
    """Layers + loss over one flat parameter vector; batch-1 friendly SGD."""

    def __init__(self, layers: list[Layer], loss: str, seed: int = 0):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose from {sorted(LOSSES)}")
        self.layers = layers
        self.loss_name = loss
        self.loss = LOSSES[loss](layers[-1].n_out)
        self._allocate(np.random.default_rng(seed))

    @classmethod
    def mlp(cls, sizes: Sequence[int], loss: str, activation: str = "relu", seed: int = 0) -> "Network":
        return cls(dense_stack(sizes, activation), loss, seed)

    # -- parameters -------------------------------------------------------------------------
    def _allocate(self, rng: np.random.Generator, old: dict[str, np.ndarray] | None = None) -> None:
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in self.layers:
            shapes.update(layer.shapes())
        total = sum(int(np.prod(s)) for s in shapes.values())
        self.params = np.zeros(total, DTYPE)
        self.grads = np.zeros(total, DTYPE)
        self.param_slices: dict[str, slice] = {}
        named_p, named_g = {}, {}
        offset = 0
        for name, shape in shapes.items():
            size = int(np.prod(shape))
            sl = slice(offset, offset + size)
            self.param_slices[name] = sl
            named_p[name] = self.params[sl].reshape(shape)
            named_g[name] = self.grads[sl].reshape(shape)
            offset += size
        for name, view in named_p.items():
            if old is not None and name in old:
                prev = old[name]
                view[tuple(slice(0, n) for n in prev.shape)] = prev
            elif name.endswith(".W"):
                fan_in = view.shape[0]
                view[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), view.shape)  # He init
        for layer in self.layers:
            layer.bind(named_p, named_g)
        self.named_params = named_p

    @property
    def n_params(self) -> int:
        return int(self.params.size)

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def trainable_bytes(self) -> int:
        """Bytes of trainable state on the device: parameters + gradients (float32)."""
        return int(self.params.nbytes + self.grads.nbytes)

    def get_flat(self) -> np.ndarray:
        return self.params.copy()

    def set_flat(self, flat: np.ndarray) -> None:
        flat = np.asarray(flat, DTYPE).reshape(-1)
        if flat.size != self.params.size:
            raise ValueError(f"parameter vector has {flat.size} values, this network needs {self.params.size}")
        self.params[...] = flat

    def mask_for(self, names: Sequence[str]) -> np.ndarray:
        """Boolean mask over the flat vector selecting the parameters whose names start with any of ``names``."""
        mask = np.zeros(self.params.size, bool)
        unknown = [n for n in names if not any(k.startswith(n) for k in self.param_slices)]
        if unknown:
            raise ValueError(f"unknown parameter names {unknown}; this network has {list(self.param_slices)}")
        for key, sl in self.param_slices.items():
            if any(key.startswith(n) for n in names):
                mask[sl] = True
        return mask

    def add_outputs(self, n_new: int, seed: int = 0) -> None:
        """Grow the last dense layer by ``n_new`` outputs (new classes); old weights are kept."""
        last = self.layers[-1]
        if not isinstance(last, Dense):
            raise ValueError("only a network ending in a dense layer can grow new outputs")
        old = {k: v.copy() for k, v in self.named_params.items()}
        grown = Dense(last.n_in, last.n_out + n_new, last.name)
        self.layers[-1] = grown
        self.loss = LOSSES[self.loss_name](grown.n_out)
        rng = np.random.default_rng(seed)
        self._allocate(rng, old)
        # new output columns start small so the old classes' decisions are kept
        self.named_params[f"{last.name}.W"][:, last.n_out:] = rng.normal(0, 0.01, (last.n_in, n_new))

    # -- compute ------------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, DTYPE)
        if h.ndim == 1:
            h = h[None, :]
        for layer in self.layers:
            h = layer.forward(h)
        return h

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Outputs (a copy): class labels for a classifier, values for a regressor."""
        out = self.forward(x)
        return out.argmax(axis=1) if self.loss_name == "ce" else out.copy()

    def loss_and_grad(self, x: np.ndarray, y: np.ndarray) -> float:
        """Loss on (x, y); fills ``self.grads``."""
        out = self.forward(x)
        loss = self.loss.forward(out, y)
        g = self.loss.backward()
        for layer in reversed(self.layers):
            g = layer.backward(g)
        return loss

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float, clip: float | None = None,
                 frozen: np.ndarray | None = None) -> float:
        """One SGD step; ``clip`` bounds the gradient norm, ``frozen`` masks parameters kept fixed."""
        loss = self.loss_and_grad(x, y)
        if clip is not None:
            norm = float(np.sqrt(np.dot(self.grads, self.grads)))
            if norm > clip:
                self.grads *= clip / norm
        if frozen is not None:
            self.grads[frozen] = 0.0
        self.params -= lr * self.grads
        return loss

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        out = self.forward(x)
        loss = self.loss.forward(out, y)
        if self.loss_name == "ce":
            return {"loss": loss, "accuracy": float(np.mean(out.argmax(axis=1) == np.asarray(y).reshape(-1)))}
        return {"loss": loss, "mse": loss}
