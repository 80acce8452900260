"""Is this file really a model? A cheap look at the bytes before the registry signs them:
signing a 12-byte text file as a model only moves the failure to every device it reaches."""
from __future__ import annotations

from pathlib import Path

TFLITE_IDENTIFIER = b"TFL3"      # FlatBuffers file identifier of the TFLite schema, bytes 4..8


class NotAModel(ValueError):
    pass


def check_model_file(path: Path) -> None:
    """Raise ``NotAModel`` (what is wrong, what to do) unless ``path`` parses as its suffix says."""
    data = Path(path).read_bytes()
    suffix = Path(path).suffix.lower()
    if suffix == ".tflite":
        if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
            raise NotAModel(f"{path}: not a TFLite model (no 'TFL3' FlatBuffer identifier at byte 4, "
                            f"{len(data)} bytes); export one with LiteRT / litert-torch")
    elif suffix == ".onnx":
        _check_onnx(path, data)


def _check_onnx(path: Path, data: bytes) -> None:
    try:
        import onnx
    except ImportError:        # without the onnx package: the protobuf must start with a field tag
        if not data or data[0] not in (0x08, 0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a, 0x42):
            raise NotAModel(f"{path}: not an ONNX model (no protobuf ModelProto header)") from None
        return
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:
        raise NotAModel(f"{path}: not an ONNX model ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not model.graph.node or not model.opset_import:
        raise NotAModel(f"{path}: not a usable ONNX model: no graph or opset ({len(data)} bytes); "
                        f"export the model again") from None
