"""Versioned model registry of the coordinator: artifacts plus signed manifests on disk.

Layout under ``<data>/models/<name>/<version>/``: ``model.<fmt>`` and ``manifest.json``.
Versions are immutable: adding the same name+version again with other bytes is an error,
with the same bytes it is a no-op, so ``models add`` can be re-run safely.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

from cloud_sync.ota.signing import FleetKey
from edge_runtime.ota.manifest import FORMATS, ModelManifest, file_sha256

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RegistryError(ValueError):
    """A model that cannot be added or found; the message says what to do."""


class ModelRegistry:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "models"
        self.key = FleetKey.load_or_create(self.data_dir / "keys")

    @property
    def public_key_path(self) -> Path:
        return self.data_dir / "keys" / "fleet_public.pem"

    def _folder(self, name: str, version: str) -> Path:
        return self.root / name / version

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.exists():
            return []
        manifests = [self._read(p / "manifest.json") for p in folder.iterdir() if (p / "manifest.json").exists()]
        return [m.version for m in sorted(manifests, key=lambda m: m.created)]

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()) if self.root.exists() else []

    def _read(self, path: Path) -> ModelManifest:
        return ModelManifest.from_dict(json.loads(path.read_text()))

    def add(self, file: Path, name: str | None = None, version: str | None = None, task: str = "",
            extra: dict[str, Any] | None = None) -> ModelManifest:
        file = Path(file)
        if not file.is_file():
            raise RegistryError(f"model file {str(file)!r} does not exist")
        fmt = FORMATS.get(file.suffix.lower())
        if fmt is None:
            raise RegistryError(f"{file.name}: unknown model format {file.suffix!r}; expected one of {sorted(FORMATS)}")
        name = name or file.stem
        if not _NAME_RE.match(name):
            raise RegistryError(f"model name {name!r}: use letters, digits, . _ - (max 64)")
        existing = self.versions(name)
        digest = file_sha256(file)
        if version is None and existing and self.get(name, existing[-1]).sha256 == digest:
            return self.get(name, existing[-1])          # re-adding the newest bytes: no new version
        version = version or f"v{len(existing) + 1}"
        if not _NAME_RE.match(version):
            raise RegistryError(f"version {version!r}: use letters, digits, . _ - (max 64)")
        if version in existing:
            old = self.get(name, version)
            if old.sha256 != digest:
                raise RegistryError(f"{name}:{version} already exists with other bytes; versions are "
                                    f"immutable, add it as a new version")
            return old
        manifest = ModelManifest(name=name, version=version, sha256=digest, size=file.stat().st_size,
                                 format=fmt, task=task or name, created=time.time(), extra=dict(extra or {}))
        self.key.sign(manifest)
        folder = self._folder(name, version)
        folder.mkdir(parents=True)
        shutil.copyfile(file, folder / manifest.filename)
        (folder / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=1))
        return manifest

    def get(self, name: str, version: str | None = None) -> ModelManifest:
        """A manifest by name and version (``None`` or ``"latest"`` = newest)."""
        if ":" in name and version is None:
            name, version = name.split(":", 1)
        versions = self.versions(name)
        if not versions:
            raise RegistryError(f"no model called {name!r}; add it with 'cloud-sync models add FILE'"
                                f" (known: {', '.join(self.names()) or 'none'})")
        version = versions[-1] if version in (None, "latest") else version
        if version not in versions:
            raise RegistryError(f"model {name!r} has no version {version!r} (has {', '.join(versions)})")
        return self._read(self._folder(name, version) / "manifest.json")

    def artifact(self, manifest: ModelManifest) -> Path:
        return self._folder(manifest.name, manifest.version) / manifest.filename
