"""Tensor descriptions shared by every backend, and the checks made where data enters a model.

All three backends describe their inputs and outputs as `TensorSpec`s, so quantisation,
shape and dtype checks live here once. Int8/uint8 models carry a scale and zero point per
tensor: real = scale * (q - zero_point). Callers hand float data and get float data back;
`raw=True` skips the conversion for callers that already speak the model's integers.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np


class ModelError(ValueError):
    """A model that cannot be loaded or run as asked; the message says what and what to do."""


class ModelFileNotFound(ModelError, FileNotFoundError):
    """The model path does not exist."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]          # -1 marks a dimension the model leaves open (usually batch)
    dtype: np.dtype
    scale: float = 0.0              # 0 means "not quantised"
    zero_point: int = 0

    @cached_property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)

    def concrete_shape(self, batch: int = 1) -> tuple[int, ...]:
        """The shape with open dimensions set (batch for the first, 1 elsewhere)."""
        return tuple((batch if i == 0 else 1) if d < 0 else d for i, d in enumerate(self.shape))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.name,
                "scale": self.scale, "zero_point": self.zero_point}


def quantize(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Float -> the model's integers, rounding to nearest and saturating at the dtype's range."""
    info = np.iinfo(spec.dtype)
    q = np.round(np.asarray(x, dtype=np.float32) / spec.scale) + spec.zero_point
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def dequantize(q: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """The model's integers -> float32 real values."""
    return ((q.astype(np.float32) - spec.zero_point) * np.float32(spec.scale)).astype(np.float32)


def random_input(spec: TensorSpec, rng: np.random.Generator, batch: int = 1) -> np.ndarray:
    """A random tensor in the model's own dtype covering its whole range (integers) or N(0,1)."""
    shape = spec.concrete_shape(batch)
    if np.issubdtype(spec.dtype, np.integer):
        info = np.iinfo(spec.dtype)
        low, high = max(info.min, -128), min(info.max, 127)
        return rng.integers(low, high, size=shape, endpoint=True).astype(spec.dtype)
    if spec.dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    return rng.standard_normal(shape).astype(spec.dtype)


def _shape_matches(expected: Sequence[int], got: Sequence[int]) -> bool:
    return len(expected) == len(got) and all(e < 0 or e == g for e, g in zip(expected, got))


def as_input_list(x: Any, specs: Sequence[TensorSpec]) -> list[np.ndarray]:
    """One array, a list in input order, or a dict by input name -> list in input order."""
    if type(x) is np.ndarray and len(specs) == 1:  # the common case, kept cheap
        return [x]
    if isinstance(x, (list, tuple)):
        arrays = list(x)
    elif isinstance(x, Mapping):
        missing = [s.name for s in specs if s.name not in x]
        unknown = [k for k in x if k not in {s.name for s in specs}]
        if missing or unknown:
            raise ModelError(f"inputs by name: missing {missing}, unknown {unknown}; "
                             f"the model's inputs are {[s.name for s in specs]}")
        arrays = [x[s.name] for s in specs]
    else:
        arrays = [x]
    if len(arrays) != len(specs):
        raise ModelError(f"the model takes {len(specs)} input(s) {[s.name for s in specs]}, got {len(arrays)}")
    return [np.asarray(a) for a in arrays]


def prepare_input(x: np.ndarray, spec: TensorSpec, raw: bool) -> np.ndarray:
    """Check shape and dtype of one input and convert it to what the model consumes."""
    if x.dtype == spec.dtype and x.shape == spec.shape:  # fast path: already exactly right
        return x
    if not _shape_matches(spec.shape, x.shape):
        raise ModelError(f"input {spec.name!r}: expected shape {list(spec.shape)} "
                         f"(-1 = any), got {list(x.shape)}")
    if x.dtype == spec.dtype:
        return x
    is_float = np.issubdtype(x.dtype, np.floating)
    if spec.quantized and is_float and not raw:
        return quantize(x, spec)
    if np.issubdtype(spec.dtype, np.floating) and is_float:
        return x.astype(spec.dtype)
    hint = " (or float, which is quantised with the tensor's scale/zero point)" if spec.quantized else ""
    raise ModelError(f"input {spec.name!r}: expected dtype {spec.dtype.name}{hint}, got {x.dtype.name}")


def finish_output(y: np.ndarray, spec: TensorSpec, raw: bool) -> np.ndarray:
    return dequantize(y, spec) if spec.quantized and not raw else y


def spec_from_tflite_details(detail: Mapping[str, Any]) -> TensorSpec:
    """TensorSpec from a LiteRT or TFLite Micro tensor-details dict (same layout in both)."""
    shape = detail.get("shape_signature")
    if shape is None or len(shape) == 0:
        shape = detail["shape"]
    params = detail.get("quantization_parameters") or {}
    scales, zero_points = params.get("scales", []), params.get("zero_points", [])
    per_tensor = len(scales) == 1
    return TensorSpec(name=str(detail.get("name", f"tensor{detail.get('index', '')}")),
                      shape=tuple(int(d) for d in shape), dtype=np.dtype(detail["dtype"]),
                      scale=float(scales[0]) if per_tensor else 0.0,
                      zero_point=int(zero_points[0]) if per_tensor else 0)
