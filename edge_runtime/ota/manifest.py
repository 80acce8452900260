"""The signed description of a model version, shared by the registry (signs) and devices (verify).

The signature covers a canonical JSON encoding of every manifest field except the
signature itself, so name, version, hash, size, format and task cannot be swapped
independently of the bytes they describe. Ed25519 keys are tiny (32 bytes) and
verification is ~0.1 ms, cheap enough for a Pi Zero.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:                       # cryptography (9 MB) loads when a key or order arrives
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMATS = {".onnx": "onnx", ".tflite": "tflite"}
HASH_CHUNK = 1 << 20


class VerificationError(ValueError):
    """A model artifact or manifest that must not be activated; the message says why."""


@dataclass
class ModelManifest:
    name: str
    version: str
    sha256: str
    size: int
    format: str                       # "onnx" | "tflite"
    task: str = ""                    # what the model does, e.g. "kws", "sine"
    created: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)   # input shapes, metrics, notes
    key_id: str = ""                  # which fleet key signed it
    signature: str = ""               # base64 Ed25519 over signed_bytes()

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def filename(self) -> str:
        return f"model.{self.format}"

    def signed_bytes(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelManifest":
        if not isinstance(data, dict):
            raise VerificationError(f"manifest must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("name", "version", "sha256", "size", "format") if k not in data]
        if missing:
            raise VerificationError(f"manifest lacks {', '.join(missing)}")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        manifest = cls(**known)
        if not isinstance(manifest.size, int) or manifest.size <= 0:
            raise VerificationError(f"manifest size must be a positive integer, got {manifest.size!r}")
        return manifest


def key_id(public_key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(path: Path) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise VerificationError(f"{path} is not an Ed25519 public key")
    return key


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_manifest(manifest: ModelManifest, trusted: list[Ed25519PublicKey]) -> None:
    """Raise VerificationError unless one trusted fleet key signed exactly this manifest."""
    from cryptography.exceptions import InvalidSignature
    if not manifest.signature:
        raise VerificationError(f"model {manifest.ref} is not signed; refusing to activate it")
    try:
        signature = base64.b64decode(manifest.signature, validate=True)
    except ValueError:
        raise VerificationError(f"model {manifest.ref}: signature is not base64") from None
    for key in trusted:
        try:
            key.verify(signature, manifest.signed_bytes())
            return
        except InvalidSignature:
            continue
    raise VerificationError(f"model {manifest.ref}: signature does not match any trusted fleet key "
                            f"(signed by key {manifest.key_id or '?'})")


def verify_artifact(path: Path, manifest: ModelManifest) -> None:
    """Raise VerificationError unless the file has the manifest's size and SHA-256."""
    size = Path(path).stat().st_size
    if size != manifest.size:
        raise VerificationError(f"model {manifest.ref}: {size} bytes on disk, manifest says {manifest.size}")
    actual = file_sha256(path)
    if actual != manifest.sha256:
        raise VerificationError(f"model {manifest.ref}: sha256 {actual[:12]}… does not match "
                                f"the manifest's {manifest.sha256[:12]}…")
