"""The lock files: current with pyproject.toml, installed as locked, and the source of every
device bundle's pins (a hand-typed pin once broke every fresh machine)."""
from __future__ import annotations

import importlib.metadata as metadata
import re
from pathlib import Path

import pytest

import device_profiles
from edge_runtime.bundle.lockfile import (device_lock, device_pins, locked_targets, normalise,
                                          pyproject_deps_hash, read_pins, recorded_hash)
from edge_runtime.bundle.targets import UnsupportedTarget, requirements_text, resolve_target

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements" / "dev.lock"
LOCKS = [DEV_LOCK] + [device_lock(arch, py) for arch, py in locked_targets()]


def test_every_supported_platform_has_a_lock():
    targets = set(locked_targets())
    for arch in ("aarch64", "x86_64"):
        for python in ("3.10", "3.11", "3.12", "3.13"):
            assert (arch, python) in targets, f"no device lock for {arch}/py{python}"


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_lock_is_current_with_pyproject(lock):
    assert recorded_hash(lock) == pyproject_deps_hash(ROOT / "pyproject.toml"), (
        f"{lock.relative_to(ROOT)} was resolved from other dependency tables than pyproject.toml "
        f"now has: run 'bash scripts/lock.sh' and commit the locks")


def test_this_environment_is_installed_from_the_dev_lock():
    """The suite tests what the lock says, so a device bundle derived from it is tested too."""
    wrong = {}
    for name, version in read_pins(DEV_LOCK).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong[name] = (version, "missing")
            continue
        if installed.split("+")[0] != version.split("+")[0]:
            wrong[name] = (version, installed)
    assert not wrong, f"installed versions differ from requirements/dev.lock (locked, installed): {wrong}; " \
                      f"run 'bash scripts/bootstrap.sh'"


@pytest.mark.parametrize("arch,python", locked_targets())
def test_device_pins_agree_with_what_ci_tests(arch, python):
    """Same versions as CI for 3.11+; 3.10 (Jetson) is resolved on its own because numpy 2.3+
    and scipy 1.16+ dropped it: its versions are proven by installing that lock into a 3.10
    venv and running the agent (test_packaging_py310)."""
    dev = read_pins(DEV_LOCK)
    pins = device_pins(arch, python)
    for base in ("paho-mqtt", "cbor2", "pyyaml", "psutil", "cryptography", "numpy", "onnxruntime",
                 "ai-edge-litert"):
        assert base in pins, f"{arch}/py{python} lock lacks {base}"
    if python == "3.10":
        return
    for name, version in pins.items():
        assert name in dev, f"{name} is pinned for devices but not tested in CI (requirements/dev.lock)"
        assert version == dev[name], f"{arch}/py{python}: {name}=={version}, CI tests {dev[name]}"


@pytest.mark.parametrize("profile_id", ["raspberry-pi-4b-4gb", "raspberry-pi-5-8gb", "jetson-orin-nano", "generic-x86-64"])
def test_bundle_requirements_are_the_lock(profile_id):
    profile = device_profiles.load_profile(profile_id)
    target = resolve_target(profile)
    text = requirements_text(target)
    written = {normalise(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9._-]+)==(\S+)$", text, re.M)}
    assert written == device_pins(target.arch, target.python)
    if profile.device_class == "jetson":
        assert target.python == "3.10"                 # what JetPack 6 ships
    assert "cryptography==" + read_pins(DEV_LOCK)["cryptography"] in text or target.python == "3.10"


def test_a_python_without_a_lock_is_refused_with_the_targets_that_exist():
    with pytest.raises(UnsupportedTarget, match=r"locked and tested are 3\.10, 3\.11"):
        resolve_target(device_profiles.load_profile("raspberry-pi-5-8gb"), python="3.9")
