"""Build the folder that goes onto one device: config, credentials, keys, pinned wheels list,
systemd unit, install script (and for Jetson a Dockerfile), plus edge-runtime as a wheel.

Credentials and the fleet key come from the coordinator's data folder (``--cloud-data``),
so building a bundle also registers the device with the broker's password/ACL files.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import yaml

from edge_runtime.bundle import templates
from edge_runtime.bundle.targets import BundleTarget, gpu_requirements_text, requirements_text, resolve_target

SOURCE_PACKAGES = ("edge_runtime", "cloud_sync", "ontology", "device_profiles")
INSTALLED_CONFIG_DIR = "@PREFIX@/etc"


@dataclass
class BundleRequest:
    profile: str
    device_id: str
    out: Path
    cloud_data: Path
    broker: str = "mqtt://127.0.0.1:1883"
    arch: str | None = None
    python: str | None = None          # None: what the board's OS ships (targets.DEFAULT_PYTHON)
    model: Path | None = None
    client_cert: bool = False
    wheel: Path | None = None          # a prebuilt edge-runtime wheel (else built from the checkout)
    force: bool = False


def project_root() -> Path:
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").exists():
        raise FileNotFoundError("edge-runtime is not running from a source checkout; pass --wheel "
                                "edge_runtime-<version>-py3-none-any.whl")
    return root


def build_project_wheel(dest: Path) -> Path:
    """edge-runtime as a wheel, built offline from a clean copy of the checkout (so the shared
    tree gets no build/ or egg-info folders)."""
    root = project_root()
    with tempfile.TemporaryDirectory(prefix="edge-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            if (root / name).exists():
                shutil.copy2(root / name, src / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for package in SOURCE_PACKAGES:
            shutil.copytree(root / package, src / package, ignore=ignore)
        dest.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index",
                                 "--no-build-isolation", "-w", str(dest), str(src)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"building the edge-runtime wheel failed:\n{result.stderr[-2000:]}")
    return next(dest.glob("edge_runtime-*.whl"))


def device_broker_url(broker: str, username: str, password: str, tls_files: dict[str, str]) -> str:
    """``broker`` with the device's credentials and TLS file options as the agent expects them."""
    parts = urlsplit(broker)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"broker URL {broker!r}: use mqtt://host:1883 or mqtts://host:8883")
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    query = "&".join(f"{k}={v}" for k, v in tls_files.items())
    return f"{parts.scheme}://{netloc}" + (f"?{query}" if query else "")


def _fill(text: str, target: BundleTarget, device_id: str) -> str:
    for key, value in {"@DEVICE_ID@": device_id, "@PROFILE@": target.profile_id, "@ARCH@": target.arch,
                       "@PYTHON@": target.python}.items():
        text = text.replace(key, value)
    return text


def build_bundle(request: BundleRequest) -> dict:
    """Write the bundle; returns its manifest (``bundle.json``). Raises UnsupportedTarget,
    ValueError or FileExistsError with a message meant for a person."""
    import device_profiles
    from cloud_sync.ota.signing import FleetKey
    from cloud_sync.protocol.topics import check_device_id
    from cloud_sync.security.credentials import CredentialStore
    from cloud_sync.security.pki import FleetPki

    check_device_id(request.device_id)
    profile = device_profiles.load_profile(request.profile)
    target = resolve_target(profile, request.arch, request.python)
    out = Path(request.out)
    if out.exists() and any(out.iterdir()):
        if not request.force:
            raise FileExistsError(f"{out} is not empty; choose another --out or pass --force")
        shutil.rmtree(out)
    for sub in ("trusted_keys", "credentials", "wheels"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    creds = CredentialStore(request.cloud_data).add(request.device_id)
    FleetKey.load_or_create(Path(request.cloud_data) / "keys").write_public(out / "trusted_keys" / "fleet_public.pem")
    tls_files: dict[str, str] = {}
    if request.broker.startswith("mqtts://"):
        pki = FleetPki(Path(request.cloud_data) / "security" / "pki")
        shutil.copy2(pki.ensure_ca().cert, out / "credentials" / "ca.crt")
        tls_files["ca"] = f"{INSTALLED_CONFIG_DIR}/credentials/ca.crt"
        if request.client_cert:
            pair = pki.issue_client(request.device_id)
            shutil.copy2(pair.cert, out / "credentials" / "client.crt")
            shutil.copy2(pair.key, out / "credentials" / "client.key")
            tls_files.update(cert=f"{INSTALLED_CONFIG_DIR}/credentials/client.crt",
                             key=f"{INSTALLED_CONFIG_DIR}/credentials/client.key")

    tasks = []
    if request.model:
        (out / "models").mkdir(exist_ok=True)
        shutil.copy2(request.model, out / "models" / Path(request.model).name)
        tasks.append({"kind": "model", "name": "model", "interval_s": 1.0,
                      "params": {"model": f"@PREFIX@/models/{Path(request.model).name}"}})
    config = {"device_id": request.device_id,
              "broker": device_broker_url(request.broker, creds.username, creds.password, tls_files),
              "profile": profile.id, "state_dir": "@PREFIX@/state", "tasks": tasks}
    (out / "agent.yaml").write_text("# edge-runtime agent config (contains this device's broker password)\n"
                                    + yaml.safe_dump(config, sort_keys=False))
    (out / "agent.yaml").chmod(0o600)
    (out / "requirements.txt").write_text(requirements_text(target))
    gpu = gpu_requirements_text(target)
    if gpu:
        (out / "requirements-jetson-gpu.txt").write_text(gpu)
    (out / "edge-runtime.service").write_text(_fill(templates.SYSTEMD_UNIT, target, request.device_id))
    (out / "install.sh").write_text(_fill(templates.INSTALL_SH, target, request.device_id))
    (out / "install.sh").chmod(0o755)
    extra = ""
    if target.device_class == "jetson":
        (out / "Dockerfile").write_text(_fill(templates.DOCKERFILE_L4T, target, request.device_id))
        extra = "- `Dockerfile`: L4T container (JetPack 6) running the same agent\n"
    notes = "\n".join(f"- {note}" for note in target.notes) or "- none"
    (out / "README.md").write_text(_fill(templates.README, target, request.device_id)
                                   .replace("@EXTRA@", extra).replace("@NOTES@", notes))
    if request.wheel:
        shutil.copy2(request.wheel, out / "wheels" / Path(request.wheel).name)
    else:
        build_project_wheel(out / "wheels")

    manifest = {"device_id": request.device_id, "profile": profile.id, "arch": target.arch,
                "python": target.python, "providers": target.providers, "created": time.time(),
                "notes": target.notes,
                "files": {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                          for p in sorted(out.rglob("*")) if p.is_file()}}
    (out / "bundle.json").write_text(json.dumps(manifest, indent=1))
    return manifest
