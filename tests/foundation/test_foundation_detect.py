"""Board detection from the files a real Pi / Jetson / PC shows (a fake root dir)."""
from __future__ import annotations

import os
import json
import subprocess
import sys

import psutil
import pytest

from device_profiles.detect import detect_profile

PI_CPUINFO = """processor\t: 0\nBogoMIPS\t: 108.00\nCPU architecture: 8\n
processor\t: 1\nCPU architecture: 8\n\nprocessor\t: 2\n\nprocessor\t: 3\n
Hardware\t: BCM2835\nModel\t\t: {model}\n"""


def fake_root(tmp_path, *, model=None, mem_kb=None, tegra=None, cpuinfo=None):
    (tmp_path / "proc").mkdir(parents=True, exist_ok=True)
    if model is not None:
        (tmp_path / "proc/device-tree").mkdir()
        (tmp_path / "proc/device-tree/model").write_bytes(model.encode() + b"\x00")
    if mem_kb is not None:
        (tmp_path / "proc/meminfo").write_text(f"MemTotal:       {mem_kb} kB\nMemFree:  1000 kB\n")
    if tegra is not None:
        (tmp_path / "etc").mkdir()
        (tmp_path / "etc/nv_tegra_release").write_text(tegra)
    (tmp_path / "proc/cpuinfo").write_text(cpuinfo if cpuinfo is not None
                                           else PI_CPUINFO.format(model=model or ""))
    return tmp_path


@pytest.mark.parametrize("mem_kb,expected", [
    (1_894_000, "raspberry-pi-4b-2gb"), (3_884_000, "raspberry-pi-4b-4gb"),
    (7_999_000, "raspberry-pi-4b-8gb")])
def test_pi4_variant_chosen_by_memory(tmp_path, mem_kb, expected):
    root = fake_root(tmp_path, model="Raspberry Pi 4 Model B Rev 1.4", mem_kb=mem_kb)
    detection = detect_profile(root)
    assert detection.matched_id == expected
    assert detection.facts.cores == 4 and detection.facts.arch == "aarch64"


def test_pi3b_plus_and_pi5(tmp_path):
    assert detect_profile(fake_root(tmp_path / "a", model="Raspberry Pi 3 Model B Plus Rev 1.3",
                                    mem_kb=948_000)).matched_id == "raspberry-pi-3b-plus"
    five = detect_profile(fake_root(tmp_path / "b", model="Raspberry Pi 5 Model B Rev 1.0",
                                    mem_kb=4_045_000))
    # a 4 GB Pi 5 is not in the catalogue: the board is right, the RAM is the measured one
    assert five.matched_id == "raspberry-pi-5-8gb" and five.profile.ram_bytes == 4_045_000 * 1024
    assert "measured" in five.reason


def test_jetson_nano_and_orin(tmp_path):
    nano = fake_root(tmp_path / "n", model="NVIDIA Jetson Nano Developer Kit", mem_kb=4_050_000,
                     tegra="# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref\n", cpuinfo="")
    assert detect_profile(nano).matched_id == "jetson-nano"
    orin = fake_root(tmp_path / "o", model="NVIDIA Jetson Orin Nano Engineering Reference Developer Kit",
                     mem_kb=7_620_000, tegra="# R36 (release), REVISION: 4.0\n", cpuinfo="")
    detection = detect_profile(orin)
    assert detection.matched_id == "jetson-orin-nano"
    assert detection.profile.backends.onnxruntime_providers[0] == "TensorrtExecutionProvider"


def test_release_file_contradicting_model_is_no_match(tmp_path):
    root = fake_root(tmp_path, model="NVIDIA Jetson Nano Developer Kit", mem_kb=4_050_000,
                     tegra="# R36 (release)\n", cpuinfo="")
    assert detect_profile(root).matched_id is None


def test_unknown_x86_box_generates_profile_from_its_files(tmp_path):
    cpuinfo = "".join(f"processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU 9000\n"
                      f"cpu MHz\t\t: 3200.000\nflags\t\t: fpu lm avx2 fma\n\n" for i in range(6))
    detection = detect_profile(fake_root(tmp_path, mem_kb=16_000_000, cpuinfo=cpuinfo))
    p = detection.profile
    assert detection.matched_id is None and p.source_file == "generated"
    assert (p.arch, p.cores, p.cpu_model, p.ram_bytes) == ("x86_64", 6, "Test CPU 9000", 16_000_000 * 1024)
    assert p.cpu_freq_hz == pytest.approx(3.2e9) and p.peak_gflops == pytest.approx(6 * 3.2 * 32)


def test_this_host_is_detected_with_real_figures():
    detection = detect_profile("/")
    p = detection.profile
    assert abs(p.ram_bytes - psutil.virtual_memory().total) < 1 << 20  # MemTotal vs psutil rounding
    assert p.cores == psutil.cpu_count(logical=True)


def test_cli_detect_prints_the_real_host():
    out = subprocess.run([sys.executable, "-m", "edge_runtime.cli", "profile", "detect", "--json"],
                         capture_output=True, text=True, check=True, timeout=60,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout
    profile = json.loads(out)["profile"]
    assert profile["cores"] == psutil.cpu_count(logical=True)
    assert abs(profile["ram_bytes"] - psutil.virtual_memory().total) < 1 << 20


def test_detect_and_package_level_detect_profile_take_a_root(tmp_path):
    import device_profiles
    import device_profiles.detect  # noqa: F401  (must not rebind the function)
    root = fake_root(tmp_path, model="Raspberry Pi 4 Model B Rev 1.5", mem_kb=3_900_000)
    assert device_profiles.detect(root=root).id == "raspberry-pi-4b-4gb"
    assert device_profiles.detect_profile(root).matched_id == "raspberry-pi-4b-4gb"
