"""The fleet's Ed25519 signing key: created once per coordinator data folder.

The private key never leaves ``<data>/keys/``; devices get only ``fleet_public.pem``
(the bundle copies it). Rotating means adding the new public key to devices first
(they accept any trusted key), then switching the coordinator.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge_runtime.ota.manifest import ModelManifest, key_id


class FleetKey:
    def __init__(self, private_key: Ed25519PrivateKey):
        self.private_key = private_key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    @classmethod
    def load_or_create(cls, key_dir: Path) -> "FleetKey":
        key_dir = Path(key_dir)
        path = key_dir / "fleet_ed25519.pem"
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            return cls(key)
        key_dir.mkdir(parents=True, exist_ok=True)
        fleet = cls(Ed25519PrivateKey.generate())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(fleet.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        fleet.write_public(key_dir / "fleet_public.pem")
        return fleet

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def write_public(self, path: Path) -> Path:
        Path(path).write_bytes(self.public_pem())
        return Path(path)

    def sign(self, manifest: ModelManifest) -> ModelManifest:
        """Set ``key_id`` and ``signature`` on the manifest (in place) and return it."""
        manifest.key_id = self.key_id
        manifest.signature = base64.b64encode(self.private_key.sign(manifest.signed_bytes())).decode()
        return manifest
