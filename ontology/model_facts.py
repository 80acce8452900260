"""Facts about a model file, read from the file itself (no hand-written metadata).

.tflite: the flatbuffer is walked with LiteRT's generated schema reader (ops, tensors, constant
buffers); the tensor arena is what TFLite Micro actually allocates on a first invoke (measured
through the Foundation runner).
.onnx: the protobuf graph (ops, initializers, I/O) via the onnx package; the arena is an upper
bound, the sum of all statically shaped activation tensors.
These facts are what placement needs: does the file fit the flash, the arena the RAM, do the ops
exist in the runtime.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TensorFacts:
    name: str
    index: int
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None


@dataclass
class ModelFacts:
    path: Path
    format: str                       # tflite | onnx
    file_size_bytes: int
    sha256: str
    ops: list[str]                    # distinct operator types, sorted
    operator_count: int
    parameter_count: int
    quantization: str                 # float32 | float16 | int8 | uint8 | int16 | dynamic-range
    inputs: list[TensorFacts] = field(default_factory=list)
    outputs: list[TensorFacts] = field(default_factory=list)
    arena_bytes: int | None = None
    tflm_compatible: bool | None = None
    tflm_error: str | None = None


class ModelFileError(ValueError):
    """The file is missing, empty or not a model we can read."""


def _check(path: Path, suffix: str) -> bytes:
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist or is not a file")
    data = path.read_bytes()
    if not data:
        raise ModelFileError(f"model file {str(path)!r} is empty (an interrupted download?)")
    if path.suffix.lower() != suffix:
        raise ModelFileError(f"model file {str(path)!r}: expected a {suffix} file")
    return data


def inspect_model(path: str | Path, measure_arena: bool = True) -> ModelFacts:
    """Facts of a .tflite or .onnx file, chosen by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return inspect_tflite(path, measure_arena)
    if suffix == ".onnx":
        return inspect_onnx(path)
    raise ModelFileError(f"{str(path)!r}: only .tflite and .onnx models can be described")


# ------------------------------------------------------------------------------ TFLite
def _enum_names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


def _classify_quantization(weight_types: set[str], activation_types: set[str]) -> str:
    """Name the scheme from the dtypes of constant (weight) and computed (activation) tensors."""
    if "float16" in weight_types:
        return "float16"
    if "uint8" in weight_types or "uint8" in activation_types:
        return "uint8"
    if "int8" in weight_types:
        if "int16" in activation_types:
            return "int16"
        if activation_types & {"int8"}:
            return "int8"
        return "dynamic-range"
    return "float32"


def inspect_tflite(path: str | Path, measure_arena: bool = True) -> ModelFacts:
    from ai_edge_litert import schema_py_generated as schema

    path = Path(path)
    data = _check(path, ".tflite")
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFileError(f"{str(path)!r} is not a TFLite flatbuffer (no TFL3 identifier)")
    model = schema.Model.GetRootAs(data, 0)
    type_names = {k: v.lower() for k, v in _enum_names(schema.TensorType).items()}
    op_names = _enum_names(schema.BuiltinOperator)

    def op_name(code) -> str:
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            return (code.CustomCode() or b"CUSTOM").decode()
        return op_names.get(builtin, f"OP_{builtin}")

    codes = [op_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    buffer_has_data = [model.Buffers(i).DataLength() > 0 or model.Buffers(i).Size() > 0
                       for i in range(model.BuffersLength())]
    ops, n_ops, n_params = set(), 0, 0
    weight_types, activation_types = set(), set()
    inputs, outputs = [], []
    for g in range(model.SubgraphsLength()):
        sub = model.Subgraphs(g)
        for i in range(sub.OperatorsLength()):
            ops.add(codes[sub.Operators(i).OpcodeIndex()])
        n_ops += sub.OperatorsLength()
        for t in range(sub.TensorsLength()):
            tensor = sub.Tensors(t)
            dtype = type_names.get(tensor.Type(), "unknown")
            shape = tensor.ShapeAsNumpy() if tensor.ShapeLength() else np.zeros(0, int)
            if 0 < tensor.Buffer() < len(buffer_has_data) and buffer_has_data[tensor.Buffer()]:
                n_params += int(np.prod(shape)) if shape.size else 1
                if shape.size >= 2:
                    weight_types.add(dtype)
            elif dtype not in ("int32", "int64", "bool"):
                activation_types.add(dtype)
        if g == 0:
            inputs = [_tflite_tensor(sub, sub.Inputs(k), k, type_names) for k in range(sub.InputsLength())]
            outputs = [_tflite_tensor(sub, sub.Outputs(k), k, type_names) for k in range(sub.OutputsLength())]
    facts = ModelFacts(
        path=path, format="tflite", file_size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
        ops=sorted(ops), operator_count=n_ops, parameter_count=n_params,
        quantization=_classify_quantization(weight_types, activation_types),
        inputs=inputs, outputs=outputs)
    if measure_arena:
        facts.arena_bytes, facts.tflm_error = tflm_arena_bytes(path)
        facts.tflm_compatible = facts.arena_bytes is not None
    return facts


def _tflite_tensor(sub, tensor_index: int, position: int, type_names) -> TensorFacts:
    tensor = sub.Tensors(tensor_index)
    shape = tensor.ShapeSignatureAsNumpy() if tensor.ShapeSignatureLength() else tensor.ShapeAsNumpy()
    shape = tuple(int(d) for d in shape) if tensor.ShapeLength() else ()
    quant = tensor.Quantization()
    scale = zero_point = None
    if quant is not None and quant.ScaleLength() == 1:
        scale, zero_point = float(quant.Scale(0)), int(quant.ZeroPoint(0))
    return TensorFacts(name=(tensor.Name() or b"").decode(errors="replace"), index=position,
                       shape=shape, dtype=type_names.get(tensor.Type(), "unknown"),
                       scale=scale, zero_point=zero_point)


def tflm_arena_bytes(path: str | Path) -> tuple[int | None, str | None]:
    """(arena bytes, None) as TFLite Micro allocates them after a first invoke, or (None, why).

    Measured by the Foundation runner (edge_runtime.models, backend 'tflm'), the same figure
    `edge-runtime models inspect` prints, so the graph and the CLI never disagree.
    """
    from edge_runtime.models import load_model
    from edge_runtime.models.specs import ModelError

    try:
        return load_model(path, backend="tflm").arena_used_bytes(), None
    except ModelError as exc:
        return None, str(exc)


# ------------------------------------------------------------------------------ ONNX
def inspect_onnx(path: str | Path) -> ModelFacts:
    import onnx
    from onnx import helper, numpy_helper

    path = Path(path)
    data = _check(path, ".onnx")
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:
        raise ModelFileError(f"{str(path)!r} is not a readable ONNX model: {exc}") from None
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:
        pass  # shapes stay as declared; only the arena estimate gets coarser
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}

    def np_dtype(elem_type: int) -> str:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).name if elem_type else "unknown"

    def value_facts(value, position: int) -> TensorFacts:
        dims = value.type.tensor_type.shape.dim
        shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)
        return TensorFacts(value.name, position, shape, np_dtype(value.type.tensor_type.elem_type))

    inputs = [value_facts(v, k) for k, v in enumerate(v for v in graph.input if v.name not in initializers)]
    outputs = [value_facts(v, k) for k, v in enumerate(graph.output)]
    weight_types = {np_dtype(i.data_type) for i in initializers.values() if len(i.dims) >= 2}
    n_params = sum(int(np.prod(i.dims)) if len(i.dims) else 1 for i in initializers.values())
    ops = sorted({n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}" for n in graph.node})
    activation_types = {t.dtype for t in inputs} - {"int64", "int32"}
    if any(op.startswith(("QLinear", "MatMulInteger", "ConvInteger", "DynamicQuantize")) for op in ops) \
            and weight_types <= {"int8", "uint8", "float32"} and "float32" in activation_types:
        activation_types.discard("float32")
        activation_types.add("int8")
    arena = 0
    for value in list(graph.value_info) + list(graph.input) + list(graph.output):
        if value.name in initializers:
            continue
        facts = value_facts(value, 0)
        if facts.shape and all(d > 0 for d in facts.shape) and facts.dtype != "unknown":
            arena += int(np.prod(facts.shape)) * np.dtype(facts.dtype).itemsize
    _ = numpy_helper  # imported for readers extending this to per-initializer stats
    return ModelFacts(
        path=path, format="onnx", file_size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
        ops=ops, operator_count=len(graph.node), parameter_count=n_params,
        quantization=_classify_quantization(weight_types, activation_types),
        inputs=inputs, outputs=outputs, arena_bytes=arena or None)
