"""What OTA keeps on the device's disk, so every step survives a reboot.

Layout under ``<state_dir>/ota``::

    models/<name>/<version>/model.<fmt> + manifest.json   verified artifacts
    downloads/<job>.part                                  partial downloads (resume point)
    jobs/<job>.json                                       job journal: request, state, history
    active.json                                           {"current": {...}, "previous": {...}}

Every JSON write goes through a temp file + ``os.replace`` so a power cut leaves either
the old or the new version, never half a file.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from edge_runtime.ota.manifest import ModelManifest

KEEP_VERSIONS = 3


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as out:
        json.dump(data, out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class OtaStore:
    def __init__(self, state_dir: Path):
        self.root = Path(state_dir) / "ota"
        for sub in ("models", "downloads", "jobs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- artifacts ---------------------------------------------------------------------
    def part_path(self, job: str) -> Path:
        return self.root / "downloads" / f"{job}.part"

    def model_path(self, manifest: ModelManifest) -> Path:
        return self.root / "models" / manifest.name / manifest.version / manifest.filename

    def install(self, part: Path, manifest: ModelManifest) -> Path:
        """Move a verified download to its version folder (same file system: atomic rename)."""
        target = self.model_path(manifest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        write_json_atomic(target.parent / "manifest.json", manifest.to_dict())
        return target

    # -- which model is live -----------------------------------------------------------
    def active(self) -> dict[str, Any]:
        path = self.root / "active.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def set_active(self, task: str, current: dict[str, Any], previous: dict[str, Any] | None) -> None:
        """Record the model now live for ``task`` and the one to fall back to."""
        data = self.active()
        data[task] = {"current": current, "previous": previous, "since": time.time()}
        write_json_atomic(self.root / "active.json", data)

    def prune(self, name: str, keep_paths: set[str]) -> None:
        """Delete old versions of ``name`` beyond the newest few, never a live or fallback one."""
        folder = self.root / "models" / name
        if not folder.exists():
            return
        versions = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in versions[KEEP_VERSIONS:]:
            if not any(keep.startswith(str(old)) for keep in keep_paths):
                shutil.rmtree(old, ignore_errors=True)

    # -- job journal -------------------------------------------------------------------
    def job_path(self, job: str) -> Path:
        return self.root / "jobs" / f"{job}.json"

    def load_job(self, job: str) -> dict[str, Any] | None:
        path = self.job_path(job)
        return json.loads(path.read_text()) if path.exists() else None

    def save_job(self, record: dict[str, Any]) -> None:
        write_json_atomic(self.job_path(record["job"]), record)

    def jobs(self) -> list[dict[str, Any]]:
        records = [json.loads(p.read_text()) for p in (self.root / "jobs").glob("*.json")]
        return sorted(records, key=lambda r: r.get("created", 0))
