"""Device bundles: one per profile (contents checked, unsupported targets refused), and an x86
bundle installed into a fresh venv whose agent logs in to a secured Mosquitto under systemd-style
sd_notify supervision."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

import device_profiles
from cloud_sync.ota.signing import FleetKey
from cloud_sync.security.credentials import CredentialStore
from cloud_sync.security.passwords import PasswordFile
from edge_runtime.bundle.builder import BundleRequest, build_bundle, build_project_wheel
from edge_runtime.bundle.targets import UnsupportedTarget

PROFILES = device_profiles.list_profiles()
PROFILE_IDS = [p if isinstance(p, str) else p.id for p in PROFILES]


@pytest.fixture(scope="module")
def project_wheel(tmp_path_factory) -> Path:
    """edge-runtime built once as a wheel (offline) and shared by every bundle in this module."""
    return build_project_wheel(tmp_path_factory.mktemp("wheel"))


def _build(tmp_path, wheel, profile, device_id="dev-x", **kw):
    request = BundleRequest(profile=profile, device_id=device_id, out=tmp_path / "bundle",
                            cloud_data=tmp_path / "cloud", wheel=wheel, **kw)
    return request, build_bundle(request)


@pytest.mark.parametrize("profile_id", PROFILE_IDS)
def test_bundle_for_each_profile(tmp_path, project_wheel, profile_id):
    profile = device_profiles.load_profile(profile_id)
    if profile.device_class == "mcu":
        with pytest.raises(UnsupportedTarget, match="microcontroller"):
            _build(tmp_path, project_wheel, profile_id)
        assert not (tmp_path / "bundle" / "install.sh").exists()
        return
    request, manifest = _build(tmp_path, project_wheel, profile_id, broker="mqtts://broker.test:8883")
    out = request.out
    config = yaml.safe_load((out / "agent.yaml").read_text())
    assert config["device_id"] == "dev-x" and config["profile"] == profile_id
    password = config["broker"].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    store = CredentialStore(request.cloud_data)
    assert PasswordFile(store.passwd_path).check("dev-x", password)          # the broker will accept it
    assert "user dev-x" in store.acl_path.read_text()
    assert "ca=@PREFIX@/etc/credentials/ca.crt" in config["broker"] and (out / "credentials" / "ca.crt").exists()
    assert oct((out / "agent.yaml").stat().st_mode & 0o777) == "0o600"
    fleet = FleetKey.load_or_create(request.cloud_data / "keys")
    assert (out / "trusted_keys" / "fleet_public.pem").read_bytes() == fleet.public_pem()
    requirements = (out / "requirements.txt").read_text()
    assert "--only-binary=:all:" in requirements and "onnxruntime==" in requirements
    assert f"linux/{profile.arch}" in requirements
    unit = (out / "edge-runtime.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=edge-runtime", "NoNewPrivileges=yes"):
        assert line in unit, line
    install = (out / "install.sh").read_text()
    assert f'"$machine" = "{profile.arch}"' in install and "-m venv" in install
    assert list((out / "wheels").glob("edge_runtime-*.whl"))
    has_gpu_wheels = (out / "requirements-jetson-gpu.txt").exists()
    assert (out / "Dockerfile").exists() == (profile.device_class == "jetson")
    assert has_gpu_wheels == (profile_id == "jetson-orin-nano")
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def test_32_bit_arm_is_refused_with_the_reason(tmp_path, project_wheel):
    with pytest.raises(UnsupportedTarget, match="32-bit ARM wheels"):
        _build(tmp_path, project_wheel, "raspberry-pi-3b-plus", arch="armv7l")
    assert not (tmp_path / "bundle" / "agent.yaml").exists()


def test_x86_bundle_installs_into_a_fresh_venv_and_the_agent_starts(tmp_path, project_wheel, mqtt_clients,
                                                                   secured_mosquitto):
    """install.sh --offline --no-systemd into a new venv. The CI has no network, so pinned
    dependencies cannot come from PyPI: PYTHONPATH exposes this environment's site-packages to
    pip ('already satisfied') and to the agent, while edge-runtime itself is installed from the
    bundle's wheel into the new venv (--no-index --no-deps) and imported from there."""
    request, _ = _build(tmp_path, project_wheel, "generic-x86-64", device_id="x86-01",
                        broker="mqtt://127.0.0.1:1")              # port fixed below, once the broker runs
    store = CredentialStore(request.cloud_data)
    coordinator = store.add("coordinator", role="coordinator")
    broker = secured_mosquitto(store.mosquitto_conf())
    agent_yaml = request.out / "agent.yaml"
    agent_yaml.write_text(agent_yaml.read_text().replace("127.0.0.1:1", f"127.0.0.1:{broker.port}"))
    prefix = tmp_path / "opt"
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    env.pop("EDGE_RUNTIME_FLEET_KEYS", None)
    install = subprocess.run(["bash", str(request.out / "install.sh"), "--prefix", str(prefix), "--offline",
                              "--no-systemd", "--python", sys.executable],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    venv_python = prefix / "venv" / "bin" / "python"
    where = subprocess.run([str(venv_python), "-c", "import edge_runtime; print(edge_runtime.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(prefix / "venv") in where, where                    # not the checkout

    watcher = mqtt_clients(broker.port, "coordinator", coordinator.password)
    assert watcher.connect() == 0
    watcher.subscribe("edge/v1/default/x86-01/state")
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(60)
    service = subprocess.Popen([str(venv_python), "-m", "edge_runtime.bundle.service",
                                "--config", str(prefix / "etc" / "agent.yaml")],
                               env={**env, "NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"},
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        messages = []
        while not any(m.startswith("WATCHDOG=1") for m in messages):
            messages.append(notify.recv(1024).decode())              # READY first, then watchdog pings
        assert messages[0].startswith("READY=1")
        state = watcher.wait_for("edge/v1/default/x86-01/state", timeout=30)
        assert b"online" in state
        assert (prefix / "state" / "outbox.sqlite").exists()
        config = yaml.safe_load((prefix / "etc" / "agent.yaml").read_text())
        assert config["state_dir"] == str(prefix / "state")
    finally:
        service.terminate()
        output = service.communicate(timeout=30)[0].decode(errors="replace")
        notify.close()
    assert service.returncode == 0, output[-3000:]
